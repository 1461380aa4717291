"""QA's entrypoints for the centers' assessments and the regions' grades (issue 18.4): a mixin of
`QaService` (as the gateway's routes are mixins of its service), so `service.py` stays small.

Who may do what: HQ assesses every center (on demand; the housekeeping timer does it on the
scorecard day) and records the regions' inputs; a center reads its own assessment and its region's
grade (its session sees nothing else); an outlet neither.
"""

from __future__ import annotations

from services.qa import assessing, assessment
from services.qa.schemas import AssessmentPeriod, AssessmentQuery, CenterAssessmentOut, RegionInputBody, RegionOut
from shared import tenancy
from shared.db import AwareView, utcnow
from shared.errors import Forbidden, ValidationFailed
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

_assessment_out = CenterAssessmentOut()
_region_out = RegionOut()


class AssessmentEntrypoints:
    """Mixed into `QaService`; uses its `db`, `directory`, `thresholds`, `_cfg` and `_agent`."""

    @property
    def region_floors(self):
        """A/B floors of the regions' grades (README: QA_REGION_GRADE_FLOORS)."""
        return assessment.region_floors(self.db.worker_ctx.container.config.get("QA_REGION_GRADE_FLOORS"))

    @property
    def assessment_min_jobs(self) -> int:
        """Completed jobs a center's month needs to be rated (README: QA_ASSESSMENT_MIN_JOBS)."""
        return assessment.min_jobs(self.db.worker_ctx.container.config.get("QA_ASSESSMENT_MIN_JOBS"))

    @consume("settlement", "claim.audited")
    def on_claim_audited(self, uow, payload):
        """A fee claim's audit step: its latest status and amount feed the benefit indicators."""
        assessing.record_claim(uow, payload)

    @rpc
    def assess_centers(self, payload):
        """Assess every center for a month (``{"month": "YYYY-MM"}``) or a year (``{"year": "YYYY"}``,
        the year-end assessment), rank them and store it: HQ's step (the ranking needs every center)."""
        data = load(AssessmentPeriod(), payload or {})
        self._hq_only("assesses the centers")
        return self._assess(data.get("month") or data["year"], self.db.principal)

    def _assess(self, period, principal):
        with self.db.uow(principal) as uow:
            results = assessing.assess(
                uow,
                sorted(self.directory.centers),
                period,
                asof=utcnow(),
                user=principal.user,
                thresholds=self.thresholds,
                minimum=self.assessment_min_jobs,
            )
            uow.commit()
        grades = {}
        for result in results.values():
            if result["rated"]:
                grades[result["grade"]] = grades.get(result["grade"], 0) + 1
        return {"period": period, "centers": len(results), "rated": sum(grades.values()), "grades": grades}

    @rpc
    def center_assessments(self, query):
        """The stored assessments of a month or year, HQ's ranking: HQ every center (or ``tenant_id``),
        a center its own only; the rated by rank, then the not rated (未评)."""
        asked = load(AssessmentQuery(), query or {})
        self._agent()
        with self.db.uow() as uow:
            rows = assessing.listed(
                uow.session, period=asked.get("month") or asked["year"], tenant_id=asked.get("tenant_id")
            )
            return [_assessment_out.dump(AwareView(row)) for row in rows]

    @rpc
    def record_region(self, tenant_id, payload):
        """Seed 003: HQ records a region's competition and resources; its A/B/C follows by the rule."""
        inputs = load(RegionInputBody(), payload or {})
        principal = self._hq_only("records the regions' competition and resources")
        if tenant_id not in self.directory.centers:
            raise ValidationFailed("unknown region", {"tenant_id": [f"no regional center {tenant_id!r}"]})
        with self.db.uow() as uow:
            row = assessing.record_region(
                uow, tenant_id, inputs, floors=self.region_floors, user=principal.user, now=utcnow()
            )
            uow.commit()
            return _region_out.dump(AwareView(row))

    @rpc
    def region_grades(self):
        """The regions' inputs and grades: HQ all, a center its own."""
        self._agent()
        with self.db.uow() as uow:
            return [_region_out.dump(AwareView(row)) for row in assessing.regions(uow.session)]

    def _hq_only(self, what):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE) or not principal.all_tenants:
            raise Forbidden(f"only HQ {what}")
        return principal

    def _assess_due(self, month, principal):
        """The schedule's step (housekeeping, on the scorecard day): a finished month QA followed is
        assessed once; after December the year-end assessment too."""
        with self.db.uow(principal) as uow:
            due = assessing.due_periods(uow.session, month)
        for period in due:
            self._assess(period, principal)
        return due
