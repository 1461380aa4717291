"""Certification: outlets and their lifecycle (application → reviews → approval → agreement →
probation → effective; suspension; revocation with accounts cleared), the outlet file, the
technicians' training, exams and certificates with their expiry, line eligibility, and
network planning.

Entrypoints stay thin: load with a schema, ask the domain, persist through the unit of work.
"""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import Decimal

from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from services.certification import domain, seed
from services.certification.domain import OutletState
from services.certification.models import (Assessment, Base, Certificate, ExamResult, GradeRecord, InstalledBase,
                                           LineStatus, MonthlyCount, Notice, Outlet, OutletStep, RepairRate,
                                           Technician, TrainingSession)
from services.certification.schemas import (ApplyIn, CertificateCheck, CertificateOut, ExamIn, ExamOut, OutletOut,
                                            OutletQuery, PlanQuery, RevokeCertificateIn, StepIn, StepOut,
                                            TechnicianIn, TechnicianOut, TechnicianQuery, TrainingIn, TrainingOut)
from shared import metrics, tenancy, web
from shared.db import AwareView, Database, get_or_404, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from shared.leases import timer_once
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

OUTLET_STEPS = Counter("fsm_certification_outlet_steps_total", "Outlet lifecycle steps by action and outcome",
                       ["service", "action", "outcome"], registry=metrics.REGISTRY)
CERTIFICATES = Counter("fsm_certification_certificates_total", "Certificates issued, reminded, expired, revoked",
                       ["service", "tenant", "event"], registry=metrics.REGISTRY)

_outlet_out = OutletOut()
_steps_out = StepOut(many=True)
_tech_out = TechnicianOut()
_cert_out = CertificateOut()
_exam_out = ExamOut()
_training_out = TrainingOut()

STAFF_TECH_POSITIONS = ("engineer", "technician", "installer")
# the outlet states dispatch has heard of (it is told from the approval on)
UNKNOWN_TO_DISPATCH = (OutletState.APPLIED, OutletState.CENTER_REVIEWED, OutletState.TECHNICAL_REVIEWED,
                       OutletState.REJECTED)


def event_status(outlet) -> str:
    """The status other services see (the catalogue's): applications are 'applied'; an outlet
    whose revocation is still being reviewed works as before."""
    if outlet.status in UNKNOWN_TO_DISPATCH:
        return "applied"
    if outlet.status in domain.REVOCATION_REVIEW:
        return outlet.resume_status or OutletState.EFFECTIVE
    return outlet.status


def outlet_event(outlet, **extra):
    body = {"tenant_id": outlet.tenant_id, "outlet_id": outlet.id, "status": event_status(outlet), "at": utcnow(),
            "kind": outlet.kind, "grade": outlet.grade, "lat": outlet.lat, "lon": outlet.lon}
    body.update(extra)
    return body


def refresh_lines(uow, outlet, now, minimum, announce=True):
    """Recompute the outlet's line eligibility (certified technicians per product line against
    the minimum); publish each change once dispatch knows the outlet. Returns the changes."""
    s = uow.session
    today = domain.local_date(now)
    techs = s.scalars(select(Technician).where(Technician.outlet_id == outlet.id, Technician.active.is_(True))).all()
    lines = set(outlet.product_lines or ())
    for t in techs:
        lines.update(t.skills or ())
    counts = dict(s.execute(select(Certificate.product_line, func.count(func.distinct(Certificate.technician_id)))
                            .where(Certificate.outlet_id == outlet.id, Certificate.status == "valid",
                                   Certificate.valid_until >= today,
                                   Certificate.technician_id.in_([t.id for t in techs] or [""]))
                            .group_by(Certificate.product_line)).all())
    current = {r.product_line: r for r in s.scalars(select(LineStatus).where(LineStatus.outlet_id == outlet.id))}
    changes = []
    for line, (eligible, n) in domain.line_eligibility(lines, counts, minimum).items():
        row = current.get(line)
        if row is None:
            s.add(LineStatus(tenant_id=outlet.tenant_id, outlet_id=outlet.id, product_line=line, eligible=eligible,
                             certified=n, updated_at=now))
            if not eligible:
                changes.append((line, eligible, n))
        elif row.eligible != eligible or row.certified != n:
            if row.eligible != eligible:
                changes.append((line, eligible, n))
            row.eligible, row.certified, row.updated_at = eligible, n, now
    if announce and outlet.status not in UNKNOWN_TO_DISPATCH:
        for line, eligible, n in changes:
            uow.emit("outlet.line_eligibility", outlet_event(outlet, product_line=line, eligible=eligible,
                                                             reason=f"{n} certified (minimum {minimum})"))
    return changes


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
            now = utcnow()
            minimum = int(config.get("CERTIFICATION_MIN_CERTIFIED", 1))
            with store.uow(principal, {"principal": principal.encode()}) as uow:
                for outlet in uow.session.scalars(select(Outlet).where(Outlet.seeded.is_(True))):
                    refresh_lines(uow, outlet, now, minimum)
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

    # ------------------------------------------------------------ applying
    @rpc
    def apply_outlet(self, payload):
        """An outlet applies (the outlet principal, or a center agent on its behalf) with its
        registration form (网点情况登记表)."""
        form = load(ApplyIn(), payload)
        principal = self.db.principal
        directory = self.policies.directory
        if principal.role == tenancy.OUTLET:
            if form["outlet_id"] and form["outlet_id"] != principal.outlet:
                raise ValidationFailed("an outlet applies for itself", {"outlet_id": ["must be your own outlet id"]})
            outlet_id = principal.outlet
        elif principal.role == tenancy.CENTER:
            outlet_id = form["outlet_id"]
        else:
            raise Forbidden(f"role {principal.role} cannot file an outlet application",
                            {"role": ["the outlet itself or its center applies"]})
        tenant = principal.tenant
        unknown = [p for p in form["product_lines"] if p not in directory.product_lines]
        if unknown:
            raise ValidationFailed("unknown product line", {"product_lines": [f"unknown: {', '.join(unknown)}"]})
        if directory.tenant_for_province(form["province"]) != tenant:
            raise ValidationFailed("the outlet lies outside the center's territory",
                                   {"province": [f"{form['province']} is not served by {tenant}"]})
        now = utcnow()
        with self.db.uow(principal) as uow:
            s = uow.session
            if outlet_id is None:
                outlet_id = self._next_outlet_id(s, tenant)
            if not outlet_id.startswith(f"{tenant}-"):
                raise ValidationFailed("outlet id of another center", {"outlet_id": [f"must start with {tenant}-"]})
            if s.get(Outlet, outlet_id) is not None:
                raise Conflict("this outlet exists already", {"outlet_id": [f"{outlet_id} is taken"]})
            registration = _jsonable({k: v for k, v in form.items() if k not in ("attachments",)})
            outlet = Outlet(id=outlet_id, tenant_id=tenant, name=form["name"], kind=form["kind"], status=OutletState.APPLIED,
                            province=form["province"], city=form["city"], district=form["district"],
                            address=form["premises"]["address"], lat=form["lat"], lon=form["lon"],
                            legal_entity=form["legal_entity"], licence_no=form["licence_no"],
                            bank_account=form["bank_account"], registration=registration,
                            product_lines=sorted(set(form["product_lines"])), seeded=False,
                            applied_by=principal.user, created_at=now, updated_at=now)
            s.add(outlet)
            s.flush()
            self._register_staff(s, outlet, form["staff"], now)
            self._step(uow, outlet, principal, "apply", None, None, OutletState.APPLIED, None, form["attachments"],
                       {"staff": len(form["staff"]), "product_lines": outlet.product_lines})
            refresh_lines(uow, outlet, now, self.minimum)
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict("outlet or technician id taken", {"outlet_id": [f"{outlet_id} or a staff id is taken"]}) \
                    from None
            OUTLET_STEPS.labels(self.name, "apply", "ok").inc()
            return self._dump(outlet)

    def _next_outlet_id(self, s, tenant):
        taken = set(s.scalars(select(Outlet.id).where(Outlet.tenant_id == tenant)))
        taken |= {o.id for o in self.policies.directory.outlets_of(tenant)}
        n = 1
        while f"{tenant}-O{n:02d}" in taken:
            n += 1
        return f"{tenant}-O{n:02d}"

    @staticmethod
    def _register_staff(s, outlet, staff, now):
        n = 0
        for member in staff:
            if member["position"] not in STAFF_TECH_POSITIONS:
                continue
            n += 1
            tech_id = member.get("technician_id") or f"{outlet.id}-T{n}"
            member["technician_id"] = tech_id
            if s.get(Technician, tech_id) is not None:
                raise Conflict("technician id taken", {"staff": [f"{tech_id} is registered already"]})
            s.add(Technician(id=tech_id, tenant_id=outlet.tenant_id, outlet_id=outlet.id, name=member["name"],
                             skills=sorted(set(member.get("product_lines") or ())), active=True, created_at=now))
        outlet.registration = dict(outlet.registration or {}, staff=staff)

    # ------------------------------------------------------------ lifecycle steps
    @rpc
    def outlet_step(self, outlet_id, payload):
        """One lifecycle step on an outlet (see domain.STEPS); refused steps change nothing."""
        cmd = load(StepIn(), payload)
        principal = self.db.principal
        now = utcnow()
        try:
            with self.db.uow(principal) as uow:
                outlet = get_or_404(uow.session, Outlet, outlet_id, "outlet_id")
                if cmd["expected_version"] is not None and cmd["expected_version"] != outlet.version:
                    raise Conflict("the outlet changed since you read it",
                                   {"expected_version": [f"current version is {outlet.version}"]})
                try:
                    self._apply_step(uow, outlet, cmd, principal, now)
                    uow.commit()
                except StaleDataError:  # another step on this outlet committed first (at flush or commit)
                    raise Conflict("the outlet changed while this step was taken; read it again",
                                   {"expected_version": ["the outlet has a newer version"]}) from None
        except Exception as exc:
            label = cmd["action"] if cmd["action"] in domain.STEPS else "unknown"
            OUTLET_STEPS.labels(self.name, label, type(exc).__name__).inc()
            raise
        OUTLET_STEPS.labels(self.name, cmd["action"], "ok").inc()
        return self._dump(outlet)

    def _apply_step(self, uow, outlet, cmd, principal, now):
        action = cmd["action"]
        step = domain.STEPS.get(action)
        choice = cmd.get(step.choice) if step is not None and step.choice else None
        before = outlet.status
        target = domain.decide(action, before, principal, choice, outlet.resume_status)
        today = domain.local_date(now)
        data = {}
        reason = cmd.get("reason")
        if action == "center_review":
            if not cmd["inspection"]:
                raise ValidationFailed("the center review needs the site inspection",
                                       {"inspection": ["required for center_review"]})
            outlet.inspection = _jsonable(cmd["inspection"])
            data["inspection"] = outlet.inspection
        elif action == "issue_agreement":
            if not cmd["agreement"]:
                raise ValidationFailed("the agreement is missing", {"agreement": ["required for issue_agreement"]})
            agreement = domain.check_agreement(cmd["agreement"], today)
            if agreement["valid_from"] < today - timedelta(days=366) or agreement["valid_from"] > today + timedelta(days=92):
                raise ValidationFailed("agreement start out of range",
                                       {"agreement": {"valid_from": ["within a year back and 3 months ahead"]}})
            agreement["number"] = agreement.get("number") or f"XY-{outlet.id}-{agreement['valid_from'].year}"
            outlet.job_limit = agreement.pop("job_limit", None) or int(self._cfg("CERTIFICATION_PROBATION_JOB_LIMIT", 5))
            outlet.agreement = _jsonable(agreement)
            months = int(self._cfg("CERTIFICATION_PROBATION_MONTHS", domain.PROBATION_MONTHS))
            outlet.probation_until = domain.probation_end(agreement["valid_from"], months)
            data = {"agreement": outlet.agreement, "probation_until": outlet.probation_until.isoformat(),
                    "job_limit": outlet.job_limit}
        elif action == "assess_probation":
            assessment = cmd["assessment"] or {}
            if choice == "passed" and outlet.probation_until and today < outlet.probation_until:
                raise InvalidTransition("probation is not over yet",
                                        {"result": [f"probation runs until {outlet.probation_until.isoformat()}"]})
            if choice == "extended":
                base = max(outlet.probation_until or today, today)
                outlet.probation_until = domain.add_months(base, assessment.get("extend_months") or 1)
                data["probation_until"] = outlet.probation_until.isoformat()
            uow.session.add(Assessment(tenant_id=outlet.tenant_id, outlet_id=outlet.id, kind="probation",
                                       result=choice, score=assessment.get("score"),
                                       findings=assessment.get("findings") or reason, user=principal.user, at=now))
            data["assessment"] = _jsonable(dict(assessment, result=choice))
            if choice == "refused":
                outlet.revocation = {"reason_code": "probation_refused",
                                     "details": assessment.get("findings") or reason,
                                     "filed_by": principal.user, "filed_at": now.isoformat()}
        elif action == "suspend":
            outlet.resume_status = before
        elif action == "reinstate":
            outlet.resume_status = None
        elif action == "request_revocation":
            form = domain.check_revocation_form(cmd["revocation"], principal)
            outlet.revocation = _jsonable(dict(form, filed_by=principal.user, filed_role=principal.role,
                                               filed_at=now.isoformat()))
            outlet.resume_status = before
            data["revocation"] = outlet.revocation
        elif action in ("revocation_center_review", "revocation_technical_review", "revocation_approval") \
                and choice == "reject":
            outlet.revocation = dict(outlet.revocation or {}, rejected_by=principal.user, rejected_at=now.isoformat(),
                                     rejected_at_step=action, rejection_reason=reason)
            outlet.resume_status = None
        outlet.status = target
        outlet.updated_at = now
        self._step(uow, outlet, principal, action, choice, before, target, reason, cmd["attachments"], data)
        self._announce(uow, outlet, action, choice, before, reason, now)

    def _announce(self, uow, outlet, action, choice, before, reason, now):
        """The events a step causes, committed with it."""
        if action == "head_approval" and choice == "pass":
            uow.emit("outlet.approved", outlet_event(outlet, reason=reason))
            for row in uow.session.scalars(select(LineStatus).where(LineStatus.outlet_id == outlet.id,
                                                                    LineStatus.eligible.is_(False))):
                uow.emit("outlet.line_eligibility", outlet_event(outlet, product_line=row.product_line, eligible=False,
                                                                 reason=f"{row.certified} certified"))
        elif action == "issue_agreement":
            uow.emit("outlet.probation", outlet_event(outlet, job_limit=outlet.job_limit))
        elif action == "assess_probation" and choice == "passed":
            uow.emit("outlet.effective", outlet_event(outlet, reason=reason))
        elif action == "suspend":
            uow.emit("outlet.suspended", outlet_event(outlet, reason=reason))
        elif action == "reinstate":
            uow.emit("outlet.reinstated", outlet_event(
                outlet, reason=reason, job_limit=outlet.job_limit if outlet.status == OutletState.PROBATION else None))
        elif outlet.status == OutletState.REVOKING and before != OutletState.REVOKING:
            uow.emit("outlet.revoking", outlet_event(outlet, reason=(outlet.revocation or {}).get("reason_code")))
            self._request_clearing(uow, outlet, now)
        elif action == "request_clearing":
            self._request_clearing(uow, outlet, now)

    @staticmethod
    def _request_clearing(uow, outlet, now):
        """Ask settlement (and through it parts) whether anything is open (清理帐目)."""
        outlet.clearing_request_id = uuid.uuid4().hex
        outlet.clearing_status = "pending"
        uow.emit("account.clearing_requested", {"tenant_id": outlet.tenant_id, "outlet_id": outlet.id,
                                                "request_id": outlet.clearing_request_id, "at": now})

    @staticmethod
    def _step(uow, outlet, principal, action, choice, before, after, reason, attachments, data):
        uow.session.add(OutletStep(tenant_id=outlet.tenant_id, outlet_id=outlet.id, action=action, choice=choice,
                                   from_state=before, to_state=after, user=principal.user, role=principal.role,
                                   duty=principal.duty, at=utcnow(), reason=reason, attachments=attachments or [],
                                   data=_jsonable(data or {})))

    # ------------------------------------------------------------ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant
    # (`uow.principal`); a fact that meets a concurrent step on the same outlet (optimistic
    # version check) is applied again on the new state (shared.messaging.consume retries it).
    def _on_clearing_answer(self, uow, payload, consumer, cleared):
        acting = uow.principal
        outlet = uow.session.get(Outlet, payload["outlet_id"])
        if outlet is None or outlet.status != OutletState.REVOKING or outlet.clearing_request_id != payload["request_id"]:
            log.warning("%s for outlet %s request %s does not answer a pending clearing; ignored", consumer,
                        payload["outlet_id"], payload["request_id"])
            return  # the message id is remembered all the same: it will never apply
        now = utcnow()
        items = _jsonable(payload.get("open_items") or [])
        before = outlet.status
        if cleared:
            outlet.status = domain.decide("accounts_cleared", before, acting)
            outlet.clearing_status, outlet.open_items = "cleared", []
            outlet.resume_status = None
            uow.session.add(Notice(tenant_id=outlet.tenant_id, outlet_id=outlet.id, kind="revoked", at=now,
                                   text=f"合作终止通知: {outlet.name} ({outlet.id}) 的特约服务协议 "
                                        f"{(outlet.agreement or {}).get('number', '')} 已终止, 帐目已清理。"
                                        f" Cooperation ended; accounts cleared."))
            self._step(uow, outlet, acting, "accounts_cleared", None, before, outlet.status, None, [],
                       {"request_id": payload["request_id"], "notified": True})
            uow.emit("outlet.revoked", outlet_event(outlet, reason=(outlet.revocation or {}).get("reason_code")))
        else:
            domain.decide("accounts_open", before, acting)
            first = not uow.session.scalar(select(func.count()).select_from(OutletStep).where(
                OutletStep.outlet_id == outlet.id, OutletStep.action == "accounts_open"))
            outlet.clearing_status, outlet.open_items = "open_items", items
            self._step(uow, outlet, acting, "accounts_open", None, before, before, None, [],
                       {"request_id": payload["request_id"], "open_items": items})
            if first and _only_reservations(items):
                # the revocation's first answer lists only parts reservations: those of the
                # outlet's planned visits go as dispatch releases them on outlet.revoking (at the
                # same time as this request): ask once more rather than wait for a hand re-request
                self._rerequest_clearing(uow, outlet, acting, now)
        outlet.updated_at = now
        uow.commit()
        log.info("outlet %s clearing answered: %s", payload["outlet_id"], "cleared" if cleared else "open items")

    @consume("dispatch", "visit.released")
    def on_visit_released(self, uow, payload):
        """Dispatch took a planned visit back from a revoking outlet; parts lets the visit's reservation
        go on the same event. If the last clearing answer listed nothing but reservations, ask again."""
        outlet = uow.session.get(Outlet, payload["outlet_id"]) if payload.get("outlet_id") else None
        if outlet is not None and outlet.status == OutletState.REVOKING and outlet.clearing_status == "open_items" \
                and _only_reservations(outlet.open_items):
            now = utcnow()
            self._rerequest_clearing(uow, outlet, uow.principal, now)
            outlet.updated_at = now

    def _rerequest_clearing(self, uow, outlet, acting, now):
        previous = outlet.clearing_request_id
        self._request_clearing(uow, outlet, now)
        self._step(uow, outlet, acting, "clearing_rerequested", None, outlet.status, outlet.status,
                   "reservations released with the outlet's visits", [],
                   {"previous_request_id": previous, "request_id": outlet.clearing_request_id})
        log.info("outlet %s: clearing asked again (%s): open items were only reservations", outlet.id,
                 outlet.clearing_request_id)

    @consume("settlement", "account.cleared")
    def on_account_cleared(self, uow, payload):
        self._on_clearing_answer(uow, payload, "account.cleared", True)

    @consume("settlement", "account.open_items")
    def on_account_open_items(self, uow, payload):
        self._on_clearing_answer(uow, payload, "account.open_items", False)

    @consume("qa", "qa.scorecard_published")
    def on_scorecard(self, uow, payload):
        outlet = uow.session.get(Outlet, payload["outlet_id"])
        if outlet is None:
            log.warning("scorecard for unknown outlet %s", payload["outlet_id"])
            return
        previous = outlet.grade
        uow.session.add(GradeRecord(tenant_id=outlet.tenant_id, outlet_id=outlet.id, month=payload["month"],
                                    grade=payload["grade"], previous_grade=previous, score=payload["score"],
                                    source="scorecard", at=utcnow()))
        if payload["grade"] != previous:
            outlet.grade = payload["grade"]
            outlet.updated_at = utcnow()
            uow.emit("outlet.grade_changed", outlet_event(outlet, previous_grade=previous,
                                                          reason=f"scorecard {payload['month']}: {payload['score']}"))

    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        if not payload.get("outlet_id"):
            return
        month = domain.local_date(payload["at"]).strftime("%Y-%m")
        row = uow.session.scalars(select(MonthlyCount).where(MonthlyCount.outlet_id == payload["outlet_id"],
                                                             MonthlyCount.month == month)).first()
        if row is None:
            row = MonthlyCount(tenant_id=payload["tenant_id"], outlet_id=payload["outlet_id"], month=month,
                               installs=0, repairs=0, others=0)
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
            stmt = select(Outlet)
            for key in ("status", "tenant_id", "city"):
                if q.get(key):
                    stmt = stmt.where(getattr(Outlet, key) == q[key])
            total = uow.session.scalar(stmt.with_only_columns(func.count(Outlet.id)))
            rows = uow.session.scalars(stmt.order_by(Outlet.id).limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._dump(o) for o in rows], "total": total, "limit": q["limit"],
                    "offset": q["offset"]}

    @rpc
    def get_outlet(self, outlet_id):
        """The outlet file (网点档案): agreement, registration form, grade history, staff roster,
        assessment records, monthly install/repair counts, steps, notices, line eligibility."""
        with self.db.uow() as uow:
            s = uow.session
            outlet = get_or_404(s, Outlet, outlet_id, "outlet_id")
            out = self._dump(outlet)
            out["registration"] = outlet.registration
            out["inspection"] = outlet.inspection
            out["bank_account"] = outlet.bank_account
            out["steps"] = _steps_out.dump([AwareView(x) for x in s.scalars(
                select(OutletStep).where(OutletStep.outlet_id == outlet.id).order_by(OutletStep.id))])
            out["assessments"] = [{"kind": a.kind, "result": a.result, "score": None if a.score is None else str(a.score),
                                   "findings": a.findings, "user": a.user, "at": AwareView(a).at.isoformat()}
                                  for a in s.scalars(select(Assessment).where(Assessment.outlet_id == outlet.id)
                                                     .order_by(Assessment.id))]
            out["grade_history"] = [{"month": g.month, "grade": g.grade, "previous_grade": g.previous_grade,
                                     "score": None if g.score is None else str(g.score), "source": g.source,
                                     "at": AwareView(g).at.isoformat()}
                                    for g in s.scalars(select(GradeRecord).where(GradeRecord.outlet_id == outlet.id)
                                                       .order_by(GradeRecord.id))]
            out["monthly_counts"] = [{"month": m.month, "installs": m.installs, "repairs": m.repairs,
                                      "others": m.others}
                                     for m in s.scalars(select(MonthlyCount).where(MonthlyCount.outlet_id == outlet.id)
                                                        .order_by(MonthlyCount.month))]
            out["staff"] = self._roster(s, outlet)
            out["lines"] = [{"product_line": r.product_line, "eligible": r.eligible, "certified": r.certified}
                            for r in s.scalars(select(LineStatus).where(LineStatus.outlet_id == outlet.id)
                                               .order_by(LineStatus.product_line))]
            out["notices"] = [{"kind": n.kind, "text": n.text, "at": AwareView(n).at.isoformat()}
                              for n in s.scalars(select(Notice).where(Notice.outlet_id == outlet.id).order_by(Notice.id))]
            today = domain.local_date(utcnow())
            out["assessment_due"] = bool(outlet.status == OutletState.PROBATION and outlet.probation_until
                                         and outlet.probation_until <= today)
            return out

    @staticmethod
    def _roster(s, outlet):
        """Staff files: the technicians in the register with their certificates, and the other staff of
        the registration form."""
        techs = s.scalars(select(Technician).where(Technician.outlet_id == outlet.id).order_by(Technician.id)).all()
        certs = {}
        for c in s.scalars(select(Certificate).where(Certificate.outlet_id == outlet.id)
                           .order_by(Certificate.valid_until)):
            certs.setdefault(c.technician_id, []).append(_cert_out.dump(AwareView(c)))
        roster = [dict(_tech_out.dump(t), position="technician", certificates=certs.get(t.id, [])) for t in techs]
        for member in (outlet.registration or {}).get("staff") or []:
            if member.get("position") not in STAFF_TECH_POSITIONS:
                roster.append({"name": member["name"], "position": member["position"],
                               "qualification": member.get("qualification")})
        return roster

    # ------------------------------------------------------------ technicians
    def _staff(self, what):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER):
            raise Forbidden(f"only a center or HQ {what}", {"role": [f"{principal.role} may not"]})
        return principal

    @rpc
    def register_technician(self, payload):
        data = load(TechnicianIn(), payload)
        principal = self._staff("registers technicians")
        self._check_lines(data["skills"], "skills")
        now = utcnow()
        with self.db.uow(principal) as uow:
            outlet = uow.session.get(Outlet, data["outlet_id"])
            if outlet is None:
                raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {data['outlet_id']!r} you may see"]})
            tech = uow.session.get(Technician, data["id"])
            if tech is None:
                tech = Technician(id=data["id"], tenant_id=outlet.tenant_id, created_at=now, active=True)
                uow.session.add(tech)
            moved_from = tech.outlet_id if tech.outlet_id != outlet.id else None
            tech.outlet_id, tech.name, tech.skills = outlet.id, data["name"], sorted(set(data["skills"]))
            try:  # an id taken by a technician you may not see: refused here, not at an autoflush below
                uow.session.flush()
            except IntegrityError:
                raise ValidationFailed("technician id already used", {"id": ["already used"]}) from None
            for cert in uow.session.scalars(select(Certificate).where(Certificate.technician_id == tech.id)):
                cert.outlet_id = outlet.id
            uow.session.flush()
            refresh_lines(uow, outlet, now, self.minimum)
            if moved_from:
                old = uow.session.get(Outlet, moved_from)
                if old is not None:
                    refresh_lines(uow, old, now, self.minimum)
            try:
                uow.commit()
            except IntegrityError:
                raise ValidationFailed("technician id already used", {"id": ["already used"]}) from None
            return _tech_out.dump(tech)

    @rpc
    def list_technicians(self, query=None):
        q = load(TechnicianQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(Technician).order_by(Technician.id)
            if q.get("outlet_id"):
                stmt = stmt.where(Technician.outlet_id == q["outlet_id"])
            techs = uow.session.scalars(stmt).all()
            certs = {}
            cstmt = select(Certificate).where(Certificate.technician_id.in_([t.id for t in techs] or [""]))
            for c in uow.session.scalars(cstmt.order_by(Certificate.valid_until)):
                certs.setdefault(c.technician_id, []).append(_cert_out.dump(AwareView(c)))
            out = []
            for t in techs:
                row = dict(_tech_out.dump(t), certificates=certs.get(t.id, []))
                if q.get("product_line") and q["product_line"] not in (t.skills or ()):
                    continue
                out.append(row)
            return out

    @rpc
    def get_technician(self, technician_id):
        with self.db.uow() as uow:
            tech = get_or_404(uow.session, Technician, technician_id, "technician_id")
            out = _tech_out.dump(tech)
            out["certificates"] = [_cert_out.dump(AwareView(c)) for c in uow.session.scalars(
                select(Certificate).where(Certificate.technician_id == tech.id).order_by(Certificate.valid_until))]
            out["exams"] = [_exam_out.dump(e) for e in uow.session.scalars(
                select(ExamResult).where(ExamResult.technician_id == tech.id).order_by(ExamResult.taken_on))]
            return out

    def _check_lines(self, lines, field):
        unknown = [p for p in lines if p not in self.policies.directory.product_lines]
        if unknown:
            raise ValidationFailed("unknown product line", {field: [f"unknown: {', '.join(unknown)}"]})

    @rpc
    def record_training(self, payload):
        """A training session (技术培训) for a product line, with its attendees."""
        data = load(TrainingIn(), payload)
        principal = self._staff("records training")
        self._check_lines([data["product_line"]], "product_line")
        tenant = principal.tenant if principal.role == tenancy.CENTER else data.get("tenant_id")
        if tenant not in self.policies.directory.centers:
            raise ValidationFailed("unknown tenant", {"tenant_id": ["HQ names the center the session is for"]})
        with self.db.uow(principal) as uow:
            known = set(uow.session.scalars(select(Technician.id).where(Technician.id.in_(data["attendees"] or [""]),
                                                                        Technician.tenant_id == tenant)))
            missing = [a for a in data["attendees"] if a not in known]
            if missing:
                raise ValidationFailed("unknown attendees", {"attendees": [f"not in {tenant}: {', '.join(missing)}"]})
            session = TrainingSession(id=uuid.uuid4().hex, tenant_id=tenant, product_line=data["product_line"],
                                      title=data["title"], held_on=data["held_on"], trainer=data.get("trainer"),
                                      location=data.get("location"), attendees=sorted(set(data["attendees"])),
                                      created_by=principal.user)
            uow.session.add(session)
            uow.commit()
            return _training_out.dump(session)

    @rpc
    def list_trainings(self):
        with self.db.uow() as uow:
            return [_training_out.dump(t) for t in uow.session.scalars(
                select(TrainingSession).order_by(TrainingSession.held_on.desc()))]

    @rpc
    def record_exam(self, payload):
        """An exam result; a pass issues a certificate valid 2 years (technician.certified)."""
        data = load(ExamIn(), payload)
        principal = self._staff("records exams")
        self._check_lines([data["product_line"]], "product_line")
        now = utcnow()
        today = domain.local_date(now)
        taken = data.get("taken_on") or today
        if taken > today:
            raise ValidationFailed("exam date in the future", {"taken_on": ["must not be after today"]})
        valid_until = domain.certificate_valid_until(taken)
        pass_mark = data.get("pass_mark") or Decimal(str(self._cfg("CERTIFICATION_PASS_MARK", 60)))
        passed = domain.exam_passed(data["score"], pass_mark)
        if passed and domain.is_expired(valid_until, today):
            raise ValidationFailed("a pass this old gives no valid certificate", {"taken_on": ["more than 2 years ago"]})
        with self.db.uow(principal) as uow:
            s = uow.session
            tech = s.get(Technician, data["technician_id"])
            if tech is None:
                raise ValidationFailed("unknown technician", {"technician_id": [f"no {data['technician_id']!r}"]})
            if data.get("session_id"):
                session = s.get(TrainingSession, data["session_id"])
                if session is None or session.tenant_id != tech.tenant_id:
                    raise ValidationFailed("unknown training session", {"session_id": ["no such session"]})
                if session.product_line != data["product_line"]:
                    raise ValidationFailed("session for another product line",
                                           {"session_id": [f"the session trained {session.product_line}"]})
                if session.attendees and tech.id not in session.attendees:
                    raise ValidationFailed("technician did not attend",
                                           {"technician_id": ["not an attendee of the session"]})
            exam = ExamResult(id=uuid.uuid4().hex, tenant_id=tech.tenant_id, technician_id=tech.id,
                              outlet_id=tech.outlet_id, product_line=data["product_line"],
                              session_id=data.get("session_id"), score=data["score"], pass_mark=pass_mark,
                              passed=passed, taken_on=taken, recorded_by=principal.user, at=now)
            s.add(exam)
            out = {"exam": _exam_out.dump(exam), "certificate": None}
            if passed:
                for old in s.scalars(select(Certificate).where(Certificate.technician_id == tech.id,
                                                               Certificate.product_line == data["product_line"],
                                                               Certificate.status == "valid")):
                    old.status, old.ended_at, old.reason = "superseded", now, f"renewed by exam {exam.id}"
                cert = Certificate(id=uuid.uuid4().hex, tenant_id=tech.tenant_id, technician_id=tech.id,
                                   outlet_id=tech.outlet_id, product_line=data["product_line"], issued_on=taken,
                                   valid_until=valid_until, status="valid", exam_id=exam.id)
                s.add(cert)
                if data["product_line"] not in (tech.skills or ()):
                    tech.skills = sorted(set(tech.skills or ()) | {data["product_line"]})
                uow.emit("technician.certified", {"tenant_id": tech.tenant_id, "technician_id": tech.id,
                                                  "outlet_id": tech.outlet_id, "product_line": cert.product_line,
                                                  "valid_until": valid_until, "at": now})
                s.flush()
                out["certificate"] = _cert_out.dump(cert)
                CERTIFICATES.labels(self.name, tech.tenant_id, "certified").inc()
            self._refresh_outlet(uow, tech.outlet_id, now)
            uow.commit()
            return out

    @rpc
    def revoke_certificate(self, payload):
        data = load(RevokeCertificateIn(), payload)
        principal = self._staff("revokes certificates")
        now = utcnow()
        with self.db.uow(principal) as uow:
            tech = get_or_404(uow.session, Technician, data["technician_id"], "technician_id")
            certs = uow.session.scalars(select(Certificate).where(Certificate.technician_id == tech.id,
                                                                  Certificate.product_line == data["product_line"],
                                                                  Certificate.status == "valid")).all()
            if not certs:
                raise InvalidTransition("no valid certificate to revoke",
                                        {"product_line": [f"{tech.id} holds no valid {data['product_line']} certificate"]})
            for cert in certs:
                cert.status, cert.ended_at, cert.reason = "revoked", now, data["reason"]
            uow.emit("technician.revoked", {"tenant_id": tech.tenant_id, "technician_id": tech.id,
                                            "outlet_id": tech.outlet_id, "product_line": data["product_line"],
                                            "valid_until": None, "at": now})
            CERTIFICATES.labels(self.name, tech.tenant_id, "revoked").inc()
            uow.session.flush()
            self._refresh_outlet(uow, tech.outlet_id, now)
            uow.commit()
            return [_cert_out.dump(AwareView(c)) for c in certs]

    def _refresh_outlet(self, uow, outlet_id, now):
        if outlet_id:
            outlet = uow.session.get(Outlet, outlet_id)
            if outlet is not None:
                refresh_lines(uow, outlet, now, self.minimum)

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

    def _check_certificates(self, now):
        """Expire certificates past their date (the tenant's calendar date), remind 30 days ahead."""
        principal = tenancy.service_principal(self.name)
        today = domain.local_date(now)
        remind = int(self._cfg("CERTIFICATION_REMINDER_DAYS", domain.REMINDER_DAYS))
        expired = reminded = 0
        with self.db.uow(principal) as uow:
            s = uow.session
            outlets = set()
            for cert in s.scalars(select(Certificate).where(Certificate.status == "valid",
                                                            Certificate.valid_until < today).limit(2000)):
                cert.status, cert.ended_at, cert.reason = "expired", now, "not renewed within 2 years"
                uow.emit("technician.expired", {"tenant_id": cert.tenant_id, "technician_id": cert.technician_id,
                                                "outlet_id": cert.outlet_id, "product_line": cert.product_line,
                                                "valid_until": cert.valid_until, "at": now})
                CERTIFICATES.labels(self.name, cert.tenant_id, "expired").inc()
                outlets.add(cert.outlet_id)
                expired += 1
            for cert in s.scalars(select(Certificate).where(
                    Certificate.status == "valid", Certificate.reminded_at.is_(None),
                    Certificate.valid_until <= today + timedelta(days=remind)).limit(2000)):
                if not domain.is_expiring(cert.valid_until, today, remind):
                    continue
                cert.reminded_at = now
                uow.emit("technician.expiring", {"tenant_id": cert.tenant_id, "technician_id": cert.technician_id,
                                                 "outlet_id": cert.outlet_id, "product_line": cert.product_line,
                                                 "valid_until": cert.valid_until, "at": now})
                CERTIFICATES.labels(self.name, cert.tenant_id, "expiring").inc()
                reminded += 1
            s.flush()
            changes = 0
            for outlet_id in outlets - {None}:
                outlet = s.get(Outlet, outlet_id)
                if outlet is not None:
                    changes += len(refresh_lines(uow, outlet, now, self.minimum))
            uow.commit()
        if expired or reminded:
            log.info("certificates: %d expired, %d reminded, %d line changes", expired, reminded, changes)
        return {"expired": expired, "reminded": reminded, "line_changes": changes, "date": today.isoformat()}

    # ------------------------------------------------------------ network planning
    @rpc
    def network_plan(self, query=None):
        """Yearly repair volume per area from the installed base × repair rates, the outlets it
        needs at a capacity, against the current outlets (HQ: every tenant; a center: its own)."""
        q = load(PlanQuery(), query or {})
        principal = self._staff("sees network planning")
        capacity = q.get("capacity") or int(self._cfg("CERTIFICATION_OUTLET_CAPACITY", 1000))
        with self.db.uow(principal) as uow:
            s = uow.session
            stmt = select(InstalledBase)
            ostmt = select(Outlet.id, Outlet.tenant_id, Outlet.province, Outlet.city).where(
                Outlet.status.in_(domain.OPERATING + domain.REVOCATION_REVIEW))
            if q.get("tenant_id"):
                stmt = stmt.where(InstalledBase.tenant_id == q["tenant_id"])
                ostmt = ostmt.where(Outlet.tenant_id == q["tenant_id"])
            base = [{"tenant_id": r.tenant_id, "province": r.province, "city": r.city, "district": r.district,
                     "model": r.model, "installed": r.installed, "planned_sales": r.planned_sales}
                    for r in s.scalars(stmt)]
            rates = {r.model: r.rate for r in s.scalars(select(RepairRate))}
            outlets = [tuple(r) for r in s.execute(ostmt)]
        areas = domain.network_plan(base, rates, outlets, capacity)
        rows = [a.as_dict() for a in areas]
        if q.get("gaps_only"):
            rows = [r for r in rows if r["gap"] > 0]
        return {"capacity": capacity, "areas": rows,
                "totals": {"yearly_repairs": sum(r["yearly_repairs"] for r in rows),
                           "outlets_needed": sum(r["outlets_needed"] for r in rows),
                           "outlets_current": sum(r["outlets_current"] for r in rows),
                           "short": sum(max(r["gap"], 0) for r in rows)}}

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _dump(outlet):
        return _outlet_out.dump(AwareView(outlet))


def _jsonable(value):
    """Dates and Decimals inside JSON columns as strings."""
    from datetime import date, datetime

    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _only_reservations(items):
    """Open items that are all parts reservations (dispatch's release of the outlet's visits lets
    them go): worth asking again without waiting for anyone."""
    return bool(items) and all(i.get("kind") == "reservation" for i in items)
