"""Certification: outlets and their lifecycle (application → reviews → approval → agreement →
probation → effective; suspension; revocation with accounts cleared), the outlet file, the
technicians' training, exams and certificates with their expiry, line eligibility, and
network planning.

Entrypoints stay thin: load with a schema, authorise, call `operations` (writes: the rules are
`lifecycle`'s and `domain`'s) or `queries` (reads), commit the unit of work, count.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services.certification import domain, expiry, lifecycle, queries, seed, training, training_ops
from services.certification import operations as ops
from services.certification.models import Base, GradeRecord, MonthlyCount, Outlet, Technician, TrainingPlan
from services.certification.schemas import (
    AllowedStepsOut,
    ApplyIn,
    CertificateCheck,
    ExamIn,
    OutletQuery,
    PlanQuery,
    RevokeCertificateIn,
    StepIn,
    TechnicianIn,
    TechnicianQuery,
    TrainingIn,
)
from services.certification.training_schemas import (
    PlanSessionIn,
    TrainingPlanCreated,
    TrainingPlanIn,
    TrainingPlanOut,
    TrainingPlanPage,
    TrainingPlanQuery,
)
from shared import metrics, tenancy, web
from shared.db import Database, get_or_404, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.leases import timer_once
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)
_allowed_out = AllowedStepsOut()
_plan_out = TrainingPlanOut()
_plan_page = TrainingPlanPage()
_plan_created = TrainingPlanCreated()

OUTLET_STEPS = Counter(
    "fsm_certification_outlet_steps_total",
    "Outlet lifecycle steps by action and outcome",
    ["service", "action", "outcome"],
    registry=metrics.REGISTRY,
)
EXPIRING = Gauge(
    "fsm_certification_certificates_expiring",
    "Valid technician certificates whose last valid day is within CERTIFICATION_REMINDER_DAYS (30)",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)
CERTIFICATES = Counter(
    "fsm_certification_certificates_total",
    "Certificates issued, reminded, expired, revoked",
    ["service", "tenant", "event"],
    registry=metrics.REGISTRY,
)


class Seeder(DependencyProvider):
    """Seeds outlets, technicians and the planning sample once the database is set up."""

    def start(self):
        config = self.container.config
        if str(config.get("CERTIFICATION_SEED", "true")).lower() in ("0", "false", "no"):
            return
        store = next(d.store for d in self.container.dependencies if isinstance(d, Database))
        policies = next(d.policies for d in self.container.dependencies if isinstance(d, PolicyProvider))
        added = seed.seed(store, policies.directory, config)
        if added["outlets"] or added["technicians"]:
            principal = tenancy.service_principal("certification")
            with store.uow(principal, {"principal": principal.encode()}) as uow:
                ops.refresh_seeded(uow, utcnow(), int(config.get("CERTIFICATION_MIN_CERTIFIED", 1)))
                uow.commit()

    def get_dependency(self, worker_ctx):
        return None


class CertificationService(web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "certification"

    db = Database(Base.metadata, migrations_package="services.certification.migrations")
    policies = PolicyProvider()
    seeder = Seeder()

    # ------------------------------------------------------------ configuration
    def _cfg(self, key, default):
        return self.db.worker_ctx.container.config.get(key, default)

    @property
    def minimum(self) -> int:
        return int(self._cfg("CERTIFICATION_MIN_CERTIFIED", 1))

    @property
    def policy(self) -> lifecycle.LifecyclePolicy:
        return lifecycle.LifecyclePolicy(
            probation_months=int(self._cfg("CERTIFICATION_PROBATION_MONTHS", domain.PROBATION_MONTHS)),
            probation_job_limit=int(self._cfg("CERTIFICATION_PROBATION_JOB_LIMIT", domain.PROBATION_JOB_LIMIT)),
        )

    @property
    def exam_training(self) -> str:
        """plan: an exam needs the plan's session where a plan exists; always: a session anyway."""
        mode = str(self._cfg("CERTIFICATION_EXAM_TRAINING", "plan"))
        return mode if mode in training.EXAM_MODES else "plan"

    def _staff(self, what):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER):
            raise Forbidden(f"only a center or HQ {what}", {"role": [f"{principal.role} may not"]})
        return principal

    def _check_lines(self, lines, field):
        unknown = [p for p in lines if p not in self.policies.directory.product_lines]
        if unknown:
            raise ValidationFailed("unknown product line", {field: [f"unknown: {', '.join(unknown)}"]})

    # ------------------------------------------------------------ applying
    @rpc
    def apply_outlet(self, payload):
        """An outlet applies (the outlet principal, or a center agent on its behalf) with its
        registration form (网点情况登记表)."""
        form = load(ApplyIn(), payload)
        principal = self.db.principal
        directory = self.policies.directory
        outlet_id = domain.applying_outlet_id(principal, form["outlet_id"])
        self._check_lines(form["product_lines"], "product_lines")
        if directory.tenant_for_province(form["province"]) != principal.tenant:
            raise ValidationFailed(
                "the outlet lies outside the center's territory",
                {"province": [f"{form['province']} is not served by {principal.tenant}"]},
            )
        seeded_ids = {o.id for o in directory.outlets_of(principal.tenant)}
        with self.db.uow(principal) as uow:
            outlet = ops.file_application(uow, form, principal, outlet_id, seeded_ids, utcnow(), self.minimum)
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict(
                    "outlet or technician id taken", {"outlet_id": [f"{outlet.id} or a staff id is taken"]}
                ) from None
            OUTLET_STEPS.labels(self.name, "apply", "ok").inc()
            return queries.outlet_out(outlet)

    # ------------------------------------------------------------ lifecycle steps
    @rpc
    def outlet_step(self, outlet_id, payload):
        """One lifecycle step on an outlet (see domain.STEPS, lifecycle); refused steps change nothing."""
        cmd = load(StepIn(), payload)
        principal = self.db.principal
        try:
            with self.db.uow(principal) as uow:
                outlet = get_or_404(uow.session, Outlet, outlet_id, "outlet_id")
                if cmd["expected_version"] is not None and cmd["expected_version"] != outlet.version:
                    raise Conflict(
                        "the outlet changed since you read it",
                        {"expected_version": [f"current version is {outlet.version}"]},
                    )
                try:
                    ops.take_step(uow, outlet, lifecycle.StepCommand.of(cmd), principal, utcnow(), self.policy)
                    uow.commit()
                except StaleDataError:  # another step on this outlet committed first (at flush or commit)
                    raise Conflict(
                        "the outlet changed while this step was taken; read it again",
                        {"expected_version": ["the outlet has a newer version"]},
                    ) from None
        except Exception as exc:
            label = cmd["action"] if cmd["action"] in domain.STEPS else "unknown"
            OUTLET_STEPS.labels(self.name, label, type(exc).__name__).inc()
            raise
        OUTLET_STEPS.labels(self.name, cmd["action"], "ok").inc()
        return queries.outlet_out(outlet)

    # ------------------------------------------------------------ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant
    # (`uow.principal`); a fact that meets a concurrent step on the same outlet (optimistic
    # version check) is applied again on the new state (shared.messaging.consume retries it).
    def _on_clearing_answer(self, uow, payload, consumer, cleared):
        if not ops.answer_clearing(uow, payload, cleared, utcnow()):
            log.warning(
                "%s for outlet %s request %s does not answer a pending clearing; ignored",
                consumer,
                payload["outlet_id"],
                payload["request_id"],
            )
            return  # the message id is remembered all the same: it will never apply
        uow.commit()
        log.info("outlet %s clearing answered: %s", payload["outlet_id"], "cleared" if cleared else "open items")

    @consume("settlement", "account.cleared")
    def on_account_cleared(self, uow, payload):
        self._on_clearing_answer(uow, payload, "account.cleared", True)

    @consume("settlement", "account.open_items")
    def on_account_open_items(self, uow, payload):
        self._on_clearing_answer(uow, payload, "account.open_items", False)

    @consume("dispatch", "visit.released")
    def on_visit_released(self, uow, payload):
        """Dispatch took a planned visit back from a revoking outlet; parts lets the visit's reservation
        go on the same event. If the last clearing answer listed nothing but reservations, ask again."""
        asked = ops.visit_released(uow, payload.get("outlet_id"), utcnow())
        if asked is not None:
            log.info(
                "outlet %s: clearing asked again (%s): open items were only reservations",
                payload["outlet_id"],
                asked.outlet.clearing_request_id,
            )

    @consume("qa", "qa.scorecard_published")
    def on_scorecard(self, uow, payload):
        outlet = uow.session.get(Outlet, payload["outlet_id"])
        if outlet is None:
            log.warning("scorecard for unknown outlet %s", payload["outlet_id"])
            return
        previous = outlet.grade
        uow.session.add(
            GradeRecord(
                tenant_id=outlet.tenant_id,
                outlet_id=outlet.id,
                month=payload["month"],
                grade=payload["grade"],
                previous_grade=previous,
                score=payload["score"],
                source="scorecard",
                at=utcnow(),
            )
        )
        if payload["grade"] != previous:
            outlet.grade = payload["grade"]
            outlet.updated_at = utcnow()
            uow.emit(
                "outlet.grade_changed",
                domain.outlet_event(
                    outlet,
                    utcnow(),
                    previous_grade=previous,
                    reason=f"scorecard {payload['month']}: {payload['score']}",
                ),
            )

    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        if not payload.get("outlet_id"):
            return
        month = domain.local_date(payload["at"]).strftime("%Y-%m")
        row = uow.session.scalars(
            select(MonthlyCount).where(MonthlyCount.outlet_id == payload["outlet_id"], MonthlyCount.month == month)
        ).first()
        if row is None:
            row = MonthlyCount(
                tenant_id=payload["tenant_id"],
                outlet_id=payload["outlet_id"],
                month=month,
                installs=0,
                repairs=0,
                others=0,
            )
            uow.session.add(row)
        kind = payload.get("kind")
        if kind == "install":
            row.installs += 1
        elif kind == "repair":
            row.repairs += 1
        else:
            row.others += 1

    # ------------------------------------------------------------ reading: the outlet file
    @rpc
    def list_outlets(self, query=None):
        q = load(OutletQuery(), query or {})
        with self.db.uow() as uow:
            return queries.outlets(uow.session, q)

    @rpc
    def allowed_outlet_steps(self, outlet_id):
        """The lifecycle steps the caller may take on the outlet now (domain.allowed_actions): by
        role, duty (the technical lead's and the service head's) and the outlet's state."""
        principal = self.db.principal
        with self.db.uow() as uow:
            outlet = get_or_404(uow.session, Outlet, outlet_id, "outlet_id")
            steps = [
                {
                    "action": action,
                    "choice": step.choice,
                    "choices": list(step.target) if isinstance(step.target, dict) else [],
                    "duty": step.duty,
                    "summary": step.summary,
                }
                for action, step in domain.allowed_actions(outlet.status, principal)
            ]
            return _allowed_out.dump(
                {"outlet_id": outlet.id, "status": outlet.status, "version": outlet.version, "steps": steps}
            )

    @rpc
    def get_outlet(self, outlet_id):
        """The outlet file (网点档案), see queries.outlet_file."""
        with self.db.uow() as uow:
            outlet = get_or_404(uow.session, Outlet, outlet_id, "outlet_id")
            return queries.outlet_file(uow.session, outlet, domain.local_date(utcnow()))

    # ------------------------------------------------------------ technicians
    @rpc
    def register_technician(self, payload):
        data = load(TechnicianIn(), payload)
        principal = self._staff("registers technicians")
        self._check_lines(data["skills"], "skills")
        with self.db.uow(principal) as uow:
            tech = ops.register_technician(uow, data, utcnow(), self.minimum)
            try:
                uow.commit()
            except IntegrityError:
                raise ValidationFailed("technician id already used", {"id": ["already used"]}) from None
            return queries.technician_out(tech)

    @rpc
    def list_technicians(self, query=None):
        q = load(TechnicianQuery(), query or {})
        with self.db.uow() as uow:
            return queries.technicians(uow.session, q)

    @rpc
    def get_technician(self, technician_id):
        with self.db.uow() as uow:
            return queries.technician_file(
                uow.session, get_or_404(uow.session, Technician, technician_id, "technician_id")
            )

    @rpc
    def record_training(self, payload):
        """A training session (技术培训) for a product line, with its attendees."""
        data = load(TrainingIn(), payload)
        principal = self._staff("records training")
        self._check_lines([data["product_line"]], "product_line")
        tenant = principal.tenant if principal.role == tenancy.CENTER else data.get("tenant_id")
        if tenant not in self.policies.directory.centers and not (tenant is None and data.get("plan_id")):
            raise ValidationFailed("unknown tenant", {"tenant_id": ["HQ names the center the session is for"]})
        with self.db.uow(principal) as uow:
            training = ops.record_training(uow.session, data, tenant, principal.user)
            uow.commit()
            return queries.training_out(training)

    # ------------------------------------------------------------ training plans (seed 001, 003)
    @rpc
    def create_training_plan(self, payload):
        """A training plan for a line and year (training.check_plan): HQ's for one center or every
        center (no tenant_id), a center's regional plan for itself."""
        data = load(TrainingPlanIn(), payload)
        principal = self._staff("plans training")
        self._check_lines([data["product_line"]], "product_line")
        centers = sorted(self.policies.directory.centers)
        if principal.role == tenancy.CENTER:
            if data["tenant_id"] not in (None, principal.tenant):
                raise Forbidden("a center plans its own training", {"tenant_id": [f"not {principal.tenant}"]})
            data["tenant_id"] = principal.tenant
        elif data["tenant_id"] is not None and data["tenant_id"] not in centers:
            raise ValidationFailed("unknown tenant", {"tenant_id": [f"one of {', '.join(centers)}"]})
        now = utcnow()
        with self.db.uow(principal) as uow:
            plans, warnings = training_ops.create_plan(uow.session, data, principal, centers, now)
            out = [training_ops.plan_out(uow.session, p, domain.local_date(now)) for p in plans]
            uow.commit()
        return _plan_created.dump({"items": out, "warnings": warnings})

    @rpc
    def list_training_plans(self, query=None):
        q = load(TrainingPlanQuery(), query or {})
        principal = self._staff("reads training plans")
        if q["tenant_id"] is not None and not principal.sees_tenant(q["tenant_id"]):
            raise Forbidden("a center reads its own plans", {"tenant_id": [f"not {principal.tenant}"]})
        if q["tenant_id"] is not None and q["tenant_id"] not in self.policies.directory.centers:
            raise ValidationFailed("unknown tenant", {"tenant_id": ["no such center"]})
        with self.db.uow() as uow:
            return _plan_page.dump(training_ops.list_plans(uow.session, q, domain.local_date(utcnow())))

    @rpc
    def get_training_plan(self, plan_id):
        self._staff("reads training plans")
        with self.db.uow() as uow:
            plan = get_or_404(uow.session, TrainingPlan, plan_id, "plan_id")
            return _plan_out.dump(training_ops.plan_out(uow.session, plan, domain.local_date(utcnow())))

    @rpc
    def record_plan_session(self, plan_id, payload):
        """A session held under a plan, with its attendees (the plan's line and center)."""
        data = load(PlanSessionIn(), payload)
        principal = self._staff("records training")
        with self.db.uow(principal) as uow:
            plan = get_or_404(uow.session, TrainingPlan, plan_id, "plan_id")
            data.update(plan_id=plan.id, product_line=plan.product_line)
            training = ops.record_training(uow.session, data, plan.tenant_id, principal.user)
            uow.commit()
            return queries.training_out(training)

    @rpc
    def list_trainings(self):
        with self.db.uow() as uow:
            return queries.trainings(uow.session)

    @rpc
    def record_exam(self, payload):
        """An exam result; a pass issues a certificate valid 2 years (technician.certified)."""
        data = load(ExamIn(), payload)
        principal = self._staff("records exams")
        self._check_lines([data["product_line"]], "product_line")
        pass_mark = data.get("pass_mark") or Decimal(str(self._cfg("CERTIFICATION_PASS_MARK", 60)))
        with self.db.uow(principal) as uow:
            exam, cert = ops.record_exam(
                uow, data, principal.user, pass_mark, utcnow(), self.minimum, self.exam_training
            )
            out = {
                "exam": queries.exam_out(exam),
                "certificate": queries.certificate_out(cert) if cert is not None else None,
            }
            uow.commit()
        if cert is not None:
            CERTIFICATES.labels(self.name, cert.tenant_id, "certified").inc()
        return out

    @rpc
    def revoke_certificate(self, payload):
        data = load(RevokeCertificateIn(), payload)
        principal = self._staff("revokes certificates")
        with self.db.uow(principal) as uow:
            tech = get_or_404(uow.session, Technician, data["technician_id"], "technician_id")
            certs = ops.revoke_certificates(uow, tech, data["product_line"], data["reason"], utcnow(), self.minimum)
            uow.commit()
            CERTIFICATES.labels(self.name, tech.tenant_id, "revoked").inc()
            return [queries.certificate_out(c) for c in certs]

    # ------------------------------------------------------------ certificate expiry timer
    @timer_once("CERTIFICATION_CHECK_SECONDS", 300)  # on one replica at a time (shared.leases)
    def certificate_timer(self):
        self._check_certificates(utcnow())

    @rpc
    def run_certificate_check(self, payload=None):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE):
            raise Forbidden("only HQ runs the certificate check by hand")
        q = load(CertificateCheck(), payload or {})
        return self._check_certificates(q["at"] or utcnow())

    def refresh_gauges(self):
        """Read when /metrics is scraped (shared.metrics.refresh): certificates expiring soon."""
        remind = max(expiry.thresholds(self._cfg("CERTIFICATION_REMINDER_DAYS", domain.REMINDER_DAYS)))
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = queries.expiring_by_tenant(uow.session, domain.local_date(utcnow()), remind)
        for tenant in set(self.policies.directory.centers) | set(counts):
            EXPIRING.labels(self.name, tenant).set(counts.get(tenant, 0))

    def _check_certificates(self, now):
        """Expire certificates past their date (the tenant's calendar date), remind once per threshold
        of CERTIFICATION_REMINDER_DAYS ("30", or "30,7")."""
        remind = expiry.thresholds(self._cfg("CERTIFICATION_REMINDER_DAYS", domain.REMINDER_DAYS))
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            summary, counted = ops.check_certificates(uow, now, remind, self.minimum)
            uow.commit()
        for (tenant, event), n in counted.items():
            CERTIFICATES.labels(self.name, tenant, event).inc(n)
        if summary["expired"] or summary["reminded"]:
            log.info(
                "certificates: %d expired, %d reminded, %d line changes",
                summary["expired"],
                summary["reminded"],
                summary["line_changes"],
            )
        return summary

    # ------------------------------------------------------------ network planning
    @rpc
    def network_plan(self, query=None):
        """Yearly repair volume per area from the installed base × repair rates, the outlets it
        needs at a capacity, against the current outlets (HQ: every tenant; a center: its own)."""
        q = load(PlanQuery(), query or {})
        principal = self._staff("sees network planning")
        capacity = q.get("capacity") or int(self._cfg("CERTIFICATION_OUTLET_CAPACITY", 1000))
        with self.db.uow(principal) as uow:
            base, rates, outlets = queries.network_inputs(uow.session, q.get("tenant_id"))
        return domain.plan_report(domain.network_plan(base, rates, outlets, capacity), capacity, q.get("gaps_only"))
