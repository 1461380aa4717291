"""QA: callback plans by quota (回访), their results, complaint analysis, the monthly outlet
scorecard (考核) and the reports for centers and HQ.

Entrypoints stay thin: load with a schema, authorise, call `operations` (which applies the rules
of `domain` and `scorecard`) in a unit of work, commit, count, and return a dumped schema.
"""

from __future__ import annotations

import logging
from datetime import datetime

from prometheus_client import Counter, Gauge
from sqlalchemy import select

from services.qa import complaint_rules, domain, operations, queries, reminders, reports, scorecard
from services.qa.assessment_rpc import AssessmentEntrypoints
from services.qa.models import Base, Callback, Complaint, Scorecard
from services.qa.report_jobs import ReportJobEntrypoints
from services.qa.report_rpc import ReportEntrypoints
from services.qa.schemas import (
    REPORT_KINDS,
    AnalysisQuery,
    CallbackOut,
    CallbackResult,
    CenterFactOut,
    Classification,
    CloseCallback,
    Finding,
    MonthBody,
    ReportQuery,
    ScorecardOut,
    ScorecardQuery,
    WorkListQuery,
)
from shared import metrics, tenancy, web
from shared.clock import LOCAL_TZ
from shared.db import AwareView, Database, as_utc, get_or_404, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.leases import timer_once
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

CALLBACKS_PLANNED = Counter(
    "fsm_qa_callbacks_planned_total",
    "Callbacks planned by purpose and tier",
    ["service", "tenant", "purpose", "stratum"],
    registry=metrics.REGISTRY,
)
CALLBACK_RESULTS = Counter(
    "fsm_qa_callback_results_total",
    "Callback results (satisfied, negative, unreached)",
    ["service", "tenant", "outcome"],
    registry=metrics.REGISTRY,
)
CALLBACKS_OVERDUE = Gauge(
    "fsm_qa_callbacks_overdue",
    "Planned callbacks past their due time",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)
CALLBACKS_OPEN = Gauge(
    "fsm_qa_callbacks_open",
    "Callbacks planned and not yet made (every caller's)",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)
SCORECARDS = Counter(
    "fsm_qa_scorecards_published_total", "Outlet scorecards published", ["service", "tenant"], registry=metrics.REGISTRY
)

_callback_out = CallbackOut()
_scorecard_out = ScorecardOut()
_center_fact_out = CenterFactOut()
AGENT_ROLES = (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE)


# not imported by name: `nameko run` would take it for a service
class QaService(ReportJobEntrypoints, ReportEntrypoints, AssessmentEntrypoints, web.ServiceBase):
    name = "qa"

    db = Database(Base.metadata, migrations_package="services.qa.migrations")
    policies = PolicyProvider()

    # ------------------------------------------------------------ configuration
    def _cfg(self, key, default):
        value = self.db.worker_ctx.container.config.get(key)
        return default if value in (None, "") else value

    @property
    def seed(self) -> str:
        return str(self._cfg("QA_SAMPLE_SEED", "fsm-qa-sampling"))

    @property
    def thresholds(self) -> scorecard.Thresholds:
        """Stars, grades and the jobs a month needs to be rated (README: QA_STAR_FLOORS,
        QA_GRADE_FLOORS, QA_SCORECARD_MIN_JOBS)."""
        config = self.db.worker_ctx.container.config
        return scorecard.Thresholds.from_config(
            config.get("QA_STAR_FLOORS"), config.get("QA_GRADE_FLOORS"), config.get("QA_SCORECARD_MIN_JOBS")
        )

    @property
    def directory(self):
        return self.policies.directory

    # ------------------------------------------------------------ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant; a
    # unique-key race (two workers planning the same outlet at once on PostgreSQL) is retried with
    # the other's rows visible (shared.messaging.consume).
    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        if not payload.get("outlet_id"):
            log.warning("visit.completed %s without an outlet: nothing to call back", payload["visit_id"])
            return
        outlet = self.directory.outlets.get(payload["outlet_id"])
        self._planned(
            operations.record_visit(
                uow,
                payload,
                outlet_kind=outlet.kind if outlet else domain.FRANCHISED,
                seed=self.seed,
                clock=self.policies.clock,
                policy=self.policies.sla_policy(payload["tenant_id"]),
                now=utcnow(),
            )
        )

    @consume("intake", "ticket.registered")
    def on_ticket_registered(self, uow, payload):
        operations.record_ticket(uow, payload)

    @consume("intake", "ticket.closed")
    def on_ticket_closed(self, uow, payload):
        self._planned(
            operations.record_closing(
                uow,
                payload,
                recurrence_days=int(self._cfg("QA_RECURRENCE_DAYS", domain.RECURRENCE_DAYS)),
                clock=self.policies.clock,
                policy=self.policies.sla_policy(payload["tenant_id"]),
                now=utcnow(),
            )
        )

    @consume("intake", "sla.breached")
    def on_sla_breached(self, uow, payload):
        operations.record_breach(uow, payload)

    # ------------------------------------------------------------ the callback agent's work
    @rpc
    def work_list(self, query=None):
        """Planned callbacks to make: a center's (own and sampled tiers, seven-day tracking, complaint
        and care calls of its tenant), HQ's cross callbacks (``caller=all``: every callback)."""
        asked = load(WorkListQuery(), query or {})
        principal = self._agent()
        now = utcnow()
        with self.db.uow() as uow:
            total, rows = queries.work_list(
                uow.session,
                caller=domain.work_list_caller(principal, asked.get("caller")),
                status=asked["status"],
                purpose=asked.get("purpose"),
                tenant_id=asked.get("tenant_id"),
                overdue=asked.get("overdue"),
                now=now,
                limit=asked["limit"],
                offset=asked["offset"],
            )
            return {
                "items": [self._dump(callback, now) for callback in rows],
                "total": total,
                "limit": asked["limit"],
                "offset": asked["offset"],
            }

    @rpc
    def overdue(self, query=None):
        """Overdue callbacks (planned, past due): counted per tenant and caller, and listed."""
        asked = dict(query or {})
        asked.update({"status": "planned", "overdue": True})
        page = self.work_list(asked)
        with self.db.uow() as uow:
            counts = queries.overdue_counts(
                uow.session, now=utcnow(), caller=domain.work_list_caller(self.db.principal, asked.get("caller"))
            )
        by_tenant, by_caller = {}, {}
        for tenant, caller, number in counts:
            by_tenant[tenant] = by_tenant.get(tenant, 0) + number
            by_caller[caller] = by_caller.get(caller, 0) + number
        return {
            "count": sum(by_tenant.values()),
            "by_tenant": by_tenant,
            "by_caller": by_caller,
            "items": page["items"],
        }

    @rpc
    def get_callback(self, callback_id):
        self._agent()
        with self.db.uow() as uow:
            return self._dump(get_or_404(uow.session, Callback, callback_id, "callback_id"), utcnow())

    @rpc
    def record_result(self, callback_id, payload):
        """The customer's answers (seed 001's work-order questions, satisfaction 1-5, reason codes,
        free text). A negative answer publishes ``callback.negative`` and plans a follow-up."""
        answers = load(CallbackResult(), payload)
        principal = self._agent()
        now = utcnow()
        at = domain.call_time(answers["at"], now)
        with self.db.uow() as uow:
            cb = get_or_404(uow.session, Callback, callback_id, "callback_id")
            domain.check_caller(principal, operations.callback_record(cb))
            transition, planned = operations.record_result(
                uow, cb, answers, at=at, agent=principal.user, now=now, policies=self.policies
            )
            uow.commit()
            out = self._dump(cb, now)
        CALLBACK_RESULTS.labels(self.name, cb.tenant_id, transition.outcome).inc()
        self._planned(planned)
        return out

    @rpc
    def close_callback(self, callback_id, payload):
        """Close a negative callback (resolved, or upheld after review): ``callback.closed``."""
        data = load(CloseCallback(), payload)
        principal = self._agent()
        with self.db.uow() as uow:
            cb = get_or_404(uow.session, Callback, callback_id, "callback_id")
            domain.check_caller(principal, operations.callback_record(cb))
            operations.close_callback(uow, cb, data["outcome"], data["note"], utcnow())
            uow.commit()
            return self._dump(cb, utcnow())

    @rpc
    def plan_care_calls(self, payload):
        """每月按20%比例电话慰问: a tenant's care-call list for the customers served in a month."""
        data = load(MonthBody(), payload)
        tenants = self._tenants(self._agent(), data.get("tenant_id"))
        return {tenant: self._plan_care(tenant, data["month"]) for tenant in tenants}

    def _plan_care(self, tenant, month):
        with self.db.uow(tenancy.service_principal(self.name, tenant)) as uow:
            summary, planned = operations.plan_care(
                uow, tenant, month, seed=self.seed, clock=self.policies.clock, now=utcnow()
            )
            uow.commit()
        self._planned(planned)
        return summary

    # ------------------------------------------------------------ complaints (seed 002)
    @rpc
    def classify_complaint(self, ticket_id, payload):
        """Cause, responsibility (own / other department / grey zone), level and outlet of a complaint."""
        data = load(Classification(), payload)
        principal = self._agent()
        outlet = self.directory.outlets.get(data.get("outlet_id") or "")
        with self.db.uow() as uow:
            complaint = get_or_404(uow.session, Complaint, ticket_id, "ticket_id")
            operations.classify_complaint(
                uow, complaint, data, outlet_center=outlet.center if outlet else None, user=principal.user, now=utcnow()
            )
            uow.commit()
            return self._complaint_out(complaint)

    @rpc
    def complaint_analysis(self, query=None):
        asked = load(AnalysisQuery(), query or {})
        self._agent()
        with self.db.uow() as uow:
            complaints = queries.complaints(
                uow.session, tenant_id=asked.get("tenant_id"), since=asked.get("since"), until=asked.get("until")
            )
        return reports.jsonable(complaint_rules.analyse_complaints(complaints))

    @rpc
    def run_recurrence_check(self, at=None):
        """Closed complaints whose re-check period has passed with no new request on the same
        machine are confirmed free of recurrence (定期确认不良有无再发生)."""
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE):
            raise Forbidden("only HQ runs the recurrence check by hand")
        return self._recurrence_check(datetime.fromisoformat(at) if at else utcnow())

    def _recurrence_check(self, now):
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            done = operations.check_recurrences(uow, now)
            uow.commit()
        return done

    @rpc
    def run_callback_reminders(self, at=None):
        """Tell each planned callback coming due to its caller, once (callback.due, `reminders`)."""
        if self.db.principal.role not in (tenancy.HQ, tenancy.SERVICE):
            raise Forbidden("only HQ runs the callback reminders by hand")
        return {"told": self._callback_reminders(datetime.fromisoformat(at) if at else utcnow())}

    def _callback_reminders(self, now):
        lead = reminders.parse_lead(self._cfg("QA_CALLBACK_DUE_NOTICE_HOURS", None))
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            told = operations.remind_due_callbacks(uow, now, lead)
            uow.commit()
        return told

    # ------------------------------------------------------------ score facts and the scorecard
    @rpc
    def record_finding(self, payload):
        """A fact recorded by a center or HQ (inspection, file audit, letter of praise)."""
        data = load(Finding(), payload)
        principal = self._agent()
        outlet = self.directory.outlets.get(data["outlet_id"])
        if outlet is None or not principal.sees_tenant(outlet.center):
            raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {data['outlet_id']!r} you manage"]})
        at = domain.call_time(data["at"], utcnow(), "a finding")
        with self.db.uow() as uow:
            row = operations.record_finding(uow, outlet, data, at=at, user=principal.user)
            uow.commit()
            return self._fact_out(row)

    @rpc
    def score_facts(self, outlet_id, month):
        month = load(ScorecardQuery(), {"month": month})["month"]
        with self.db.uow() as uow:
            facts = queries.score_facts(uow.session, outlet_id, month, with_void=True)
            return [self._fact_out(fact) for fact in facts]

    @rpc
    def preview_scorecard(self, outlet_id, month):
        """The scorecard as the facts stand now (not published)."""
        month = load(ScorecardQuery(), {"month": month})["month"]
        self._agent()
        outlet = self.directory.outlets.get(outlet_id)
        with self.db.uow() as uow:
            if outlet is None or not uow.principal.sees_tenant(outlet.center):
                raise NotFound(f"outlet {outlet_id} not found")
            card = operations.score(uow, outlet_id, month, utcnow(), self.thresholds)
        return reports.jsonable(dict(card, outlet_id=outlet_id, tenant_id=outlet.center, month=month))

    @rpc
    def publish_scorecards(self, payload):
        """Every outlet's scorecard for a month, ranked in its tenant and nationwide, stored and
        published (``qa.scorecard_published``). HQ's step: the nationwide ranking needs every tenant."""
        data = load(MonthBody(), payload)
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE) or not principal.all_tenants:
            raise Forbidden("only HQ publishes the monthly scorecards")
        return self._publish(data["month"], principal)

    def _publish(self, month, principal):
        outlets = sorted(self.directory.outlets.values(), key=lambda o: o.id)
        with self.db.uow(principal) as uow:
            cards = operations.publish_scorecards(
                uow, outlets, month, user=principal.user, now=utcnow(), thresholds=self.thresholds
            )
            uow.commit()
        grades, not_rated = {}, 0
        for outlet, card in cards.values():
            SCORECARDS.labels(self.name, outlet.center).inc()
            if card["rated"]:
                grades[card["grade"]] = grades.get(card["grade"], 0) + 1
            else:
                not_rated += 1
        return {"month": month, "outlets": len(cards), "grades": grades, "not_rated": not_rated}

    @rpc
    def center_facts(self, query):
        """The facts a center answers for in a month (its deadlines missed), kept for its assessment."""
        asked = load(ScorecardQuery(), query or {})
        self._agent()
        with self.db.uow() as uow:
            rows = queries.center_facts(uow.session, tenant_id=asked.get("tenant_id"), month=asked["month"])
            return [_center_fact_out.dump(AwareView(row)) for row in rows]

    @rpc
    def scorecards(self, query=None):
        """Published scorecards of a month: HQ every outlet, a center its tenant's, an outlet its own;
        the rated ranked first, then the not rated (未评, ``rated: false``, no score or rank) apart."""
        asked = load(ScorecardQuery(), query or {})
        with self.db.uow() as uow:
            cards = queries.ranking(uow.session, tenant_id=asked.get("tenant_id"), month=asked["month"])
            return [self._card_out(card) for card in cards]

    @rpc
    def get_scorecard(self, outlet_id, month):
        month = load(ScorecardQuery(), {"month": month})["month"]
        with self.db.uow() as uow:
            row = uow.session.scalars(
                select(Scorecard).where(Scorecard.outlet_id == outlet_id, Scorecard.month == month)
            ).first()
            if row is None:
                raise NotFound(f"no scorecard of outlet {outlet_id} for {month}")
            return self._card_out(row)

    # ------------------------------------------------------------ reports
    @rpc
    def report(self, kind, query=None):
        return reports.jsonable(self._report(kind, load(ReportQuery(), query or {})))

    @rpc
    def report_file(self, kind, query=None):
        """A report as a file: ``{filename, content_type, encoding, data}`` (base64 for binary)."""
        asked = load(ReportQuery(), query or {})
        if kind == "all" and asked["format"] != "xlsx":
            raise ValidationFailed("all reports together come as xlsx", {"format": ["must be xlsx"]})
        built = [self._report(one, asked) for one in (REPORT_KINDS if kind == "all" else (kind,))]
        scope, fmt = asked.get("tenant_id") or self.db.principal.tenant or "all", asked["format"]
        font = self._font() if fmt in reports.CHART_FORMATS else None  # ReportEntrypoints': config PDF_FONT
        return reports.as_file(kind, built, fmt, f"qa-{kind}-{scope}-{asked.get('month') or 'all'}.{fmt}", font)

    def _report(self, kind, asked):
        if kind not in REPORT_KINDS:
            raise NotFound(f"no report {kind!r}; reports are {', '.join(REPORT_KINDS)}")
        principal = self._agent()
        with self.db.uow() as uow:
            rows = operations.report_rows(uow.session, kind, asked, utcnow())
        centers = {c.id: c.name for c in self.directory.centers.values()}
        outlets = {o.id: o.name for o in self.directory.outlets.values()}
        return reports.build(kind, rows, asked.get("tenant_id") or principal.tenant, centers, outlets)

    # ------------------------------------------------------------ timers (the product clock)
    @timer_once("QA_HOUSEKEEPING_SECONDS", 60)  # on one replica at a time (shared.leases)
    def housekeeping(self):
        """Overdue gauge, recurrence re-checks, and on the configured day the previous month's
        care-call list and scorecards."""
        now = utcnow()
        self._overdue_gauge(now)
        self._recurrence_check(now)
        self._callback_reminders(now)
        if str(self._cfg("QA_AUTO_MONTHLY", "true")).lower() in ("0", "false", "no"):
            return
        local = now.astimezone(LOCAL_TZ)
        month = domain.previous_month(local.strftime("%Y-%m"))
        service = tenancy.service_principal(self.name)
        for tenant in sorted(self.directory.centers):
            self._plan_care(tenant, month)
        if local.day >= int(self._cfg("QA_SCORECARD_DAY", 8)):
            with self.db.uow(service) as uow:
                due = operations.month_to_publish(uow.session, month)
            if due:
                self._publish(month, service)
            self._assess_due(month, service)  # the centers' month (and after December, the year)

    def _overdue_gauge(self, now):
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = {}
            for tenant, _, overdue in queries.overdue_counts(uow.session, caller=None, now=now):
                counts[tenant] = counts.get(tenant, 0) + overdue
        for tenant in self.directory.centers:
            CALLBACKS_OVERDUE.labels(self.name, tenant).set(counts.get(tenant, 0))
        return counts

    def refresh_gauges(self):
        """Read when /metrics is scraped (shared.metrics.refresh): open and overdue callbacks per
        tenant (the overdue ones as the housekeeping timer counts them)."""
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = queries.open_counts(uow.session, now=utcnow())
        for tenant in set(self.directory.centers) | set(counts):
            still_open, overdue = counts.get(tenant, (0, 0))
            CALLBACKS_OPEN.labels(self.name, tenant).set(still_open)
            CALLBACKS_OVERDUE.labels(self.name, tenant).set(overdue)

    # ------------------------------------------------------------ helpers
    def _planned(self, callbacks):
        for cb in callbacks:
            CALLBACKS_PLANNED.labels(self.name, cb.tenant_id, cb.purpose, cb.stratum).inc()

    def _agent(self):
        principal = self.db.principal
        if principal.role not in AGENT_ROLES:
            raise Forbidden(f"role {principal.role} has no access to callbacks, complaints or reports")
        return principal

    def _tenants(self, principal, asked):
        if principal.role == tenancy.CENTER:
            if asked and asked != principal.tenant:
                raise Forbidden(f"center {principal.tenant} cannot plan for {asked}")
            return [principal.tenant]
        if asked:
            if asked not in self.directory.centers:
                raise ValidationFailed("unknown center", {"tenant_id": [f"no center {asked!r}"]})
            return [asked]
        return sorted(self.directory.centers)

    @staticmethod
    def _dump(cb, now):
        out = _callback_out.dump(AwareView(cb))
        out["overdue"] = domain.is_overdue(cb.status, as_utc(cb.due_at), now)
        return out

    @staticmethod
    def _card_out(row):
        return _scorecard_out.dump(AwareView(row))

    @staticmethod
    def _fact_out(fact):
        rule = scorecard.RULES[fact.kind]
        return {
            "id": fact.id,
            "outlet_id": fact.outlet_id,
            "tenant_id": fact.tenant_id,
            "period": fact.period,
            "kind": fact.kind,
            "points": rule.points,
            "line": rule.line,
            "ref": fact.ref,
            "ticket_id": fact.ticket_id,
            "at": as_utc(fact.at).isoformat(),
            "source": fact.source,
            "recorded_by": fact.recorded_by,
            "note": fact.note,
            "void": fact.void,
            "occurrence": fact.occurrence_key,
        }

    @staticmethod
    def _complaint_out(complaint):
        closed = as_utc(complaint.closed_at)
        return {
            "ticket_id": complaint.ticket_id,
            "tenant_id": complaint.tenant_id,
            "number": complaint.number,
            "cause": complaint.cause,
            "responsibility": complaint.responsibility,
            "level": complaint.level,
            "outlet_id": complaint.outlet_id,
            "department": complaint.department,
            "closed_at": closed and closed.isoformat(),
            "recurrence_status": complaint.recurrence_status,
        }
