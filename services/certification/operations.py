"""What certification does to its tables, one function per use case, inside the caller's unit of work.

The service's entrypoints parse and authorise, then call these; the rules they follow are
`domain`'s and `lifecycle`'s (plain Python), this module only reads the rows they need and
writes what they decide.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.certification import domain, expiry, lifecycle, training_ops
from services.certification.domain import OutletState
from services.certification.models import (
    Assessment,
    Certificate,
    ExamResult,
    LineStatus,
    Notice,
    Outlet,
    OutletStep,
    Technician,
    TrainingSession,
)
from shared.errors import Conflict, InvalidTransition, ValidationFailed

# the outlet's columns an OutletRecord copies (its ineligible lines come from line_status)
RECORD_FIELDS = tuple(name for name in lifecycle.OutletRecord.__dataclass_fields__ if name != "ineligible_lines")


# ---------------------------------------------------------------- the outlet lifecycle
def outlet_record(session, outlet: Outlet, with_lines: bool = True) -> lifecycle.OutletRecord:
    """The outlet as the lifecycle's rules read it (with its lines below the minimum)."""
    ineligible = ()
    if with_lines:
        ineligible = tuple(
            (row.product_line, row.certified)
            for row in session.scalars(
                select(LineStatus)
                .where(LineStatus.outlet_id == outlet.id, LineStatus.eligible.is_(False))
                .order_by(LineStatus.product_line)
            )
        )
    return lifecycle.OutletRecord(
        **{name: getattr(outlet, name) for name in RECORD_FIELDS}, ineligible_lines=ineligible
    )


def record_step(session, outlet: Outlet, principal, step: lifecycle.StepRecord, now: datetime):
    session.add(
        OutletStep(
            tenant_id=outlet.tenant_id,
            outlet_id=outlet.id,
            action=step.action,
            choice=step.choice,
            from_state=step.from_state,
            to_state=step.to_state,
            user=principal.user,
            role=principal.role,
            duty=principal.duty,
            at=now,
            reason=step.reason,
            attachments=step.attachments,
            data=step.data,
        )
    )


def apply_outcome(uow, outlet: Outlet, outcome: lifecycle.StepOutcome, principal, now: datetime):
    """Write what a step decided (the outlet's fields, its audit trail, an assessment or a notice)
    and emit its events, all in the caller's transaction."""
    for name, value in outcome.changes.items():
        setattr(outlet, name, value)
    if outcome.assessment is not None:
        assessment = outcome.assessment
        uow.session.add(
            Assessment(
                tenant_id=outlet.tenant_id,
                outlet_id=outlet.id,
                kind=assessment.kind,
                result=assessment.result,
                score=assessment.score,
                findings=assessment.findings,
                user=principal.user,
                at=now,
            )
        )
    if outcome.notice is not None:
        uow.session.add(
            Notice(
                tenant_id=outlet.tenant_id,
                outlet_id=outlet.id,
                kind=outcome.notice.kind,
                text=outcome.notice.text,
                at=now,
            )
        )
    for step in outcome.steps:
        record_step(uow.session, outlet, principal, step, now)
    for event in outcome.events:
        uow.emit(event.name, event.payload)


def take_step(
    uow, outlet: Outlet, command: lifecycle.StepCommand, principal, now: datetime, policy: lifecycle.LifecyclePolicy
) -> lifecycle.StepOutcome:
    outcome = lifecycle.take_step(outlet_record(uow.session, outlet), command, principal, now, policy)
    apply_outcome(uow, outlet, outcome, principal, now)
    return outcome


def answer_clearing(uow, payload: dict, cleared: bool, now: datetime) -> bool:
    """Settlement's answer to the outlet's pending clearing; False if it answers none."""
    acting = uow.principal
    outlet = uow.session.get(Outlet, payload["outlet_id"])
    record = outlet_record(uow.session, outlet, with_lines=False) if outlet is not None else None
    if not lifecycle.answers_pending_clearing(record, payload["request_id"]):
        return False
    if cleared:
        outcome = lifecycle.accounts_cleared(record, payload["request_id"], acting, now)
    else:
        first = not uow.session.scalar(
            select(func.count())
            .select_from(OutletStep)
            .where(OutletStep.outlet_id == outlet.id, OutletStep.action == "accounts_open")
        )
        outcome = lifecycle.accounts_open(record, payload["request_id"], payload.get("open_items"), first, acting, now)
    apply_outcome(uow, outlet, outcome, acting, now)
    return True


def visit_released(uow, outlet_id: str | None, now: datetime) -> lifecycle.StepOutcome | None:
    """Dispatch took a visit back from a revoking outlet: ask for clearing again if only
    reservations (which go with the visit) were open."""
    outlet = uow.session.get(Outlet, outlet_id) if outlet_id else None
    if outlet is None:
        return None
    record = outlet_record(uow.session, outlet, with_lines=False)
    if not lifecycle.clearing_worth_asking_again(record):
        return None
    outcome = lifecycle.rerequest_clearing(record, now, lifecycle.new_request_id())
    apply_outcome(uow, outlet, outcome, uow.principal, now)
    return outcome


# ---------------------------------------------------------------- applications
def file_application(
    uow, form: dict, principal, outlet_id: str | None, seeded_ids: set, now: datetime, minimum: int
) -> Outlet:
    """A new outlet in `applied` from its registration form (网点情况登记表), with its technicians;
    `seeded_ids`: the tenant's outlets in the tenant directory (their ids are taken)."""
    session, tenant = uow.session, principal.tenant
    if outlet_id is None:
        taken = set(session.scalars(select(Outlet.id).where(Outlet.tenant_id == tenant))) | seeded_ids
        outlet_id = domain.next_outlet_id(tenant, taken)
    if not outlet_id.startswith(f"{tenant}-"):
        raise ValidationFailed("outlet id of another center", {"outlet_id": [f"must start with {tenant}-"]})
    if session.get(Outlet, outlet_id) is not None:
        raise Conflict("this outlet exists already", {"outlet_id": [f"{outlet_id} is taken"]})
    staff = domain.staff_with_technician_ids(outlet_id, form["staff"])
    registration = domain.jsonable({k: v for k, v in form.items() if k != "attachments"})
    outlet = Outlet(
        id=outlet_id,
        tenant_id=tenant,
        name=form["name"],
        kind=form["kind"],
        status=OutletState.APPLIED,
        province=form["province"],
        city=form["city"],
        district=form["district"],
        address=form["premises"]["address"],
        lat=form["lat"],
        lon=form["lon"],
        legal_entity=form["legal_entity"],
        licence_no=form["licence_no"],
        bank_account=form["bank_account"],
        registration=dict(registration, staff=staff),
        product_lines=sorted(set(form["product_lines"])),
        seeded=False,
        applied_by=principal.user,
        created_at=now,
        updated_at=now,
    )
    session.add(outlet)
    session.flush()
    register_staff(session, outlet, staff, now)
    record_step(
        session,
        outlet,
        principal,
        lifecycle.StepRecord(
            "apply",
            None,
            None,
            OutletState.APPLIED,
            None,
            form["attachments"] or [],
            {"staff": len(staff), "product_lines": outlet.product_lines},
        ),
        now,
    )
    refresh_lines(uow, outlet, now, minimum)
    return outlet


def register_staff(session, outlet: Outlet, staff: list, now: datetime):
    for member in staff:
        if member["position"] not in domain.STAFF_TECH_POSITIONS:
            continue
        if session.get(Technician, member["technician_id"]) is not None:
            raise Conflict("technician id taken", {"staff": [f"{member['technician_id']} is registered already"]})
        session.add(
            Technician(
                id=member["technician_id"],
                tenant_id=outlet.tenant_id,
                outlet_id=outlet.id,
                name=member["name"],
                skills=sorted(set(member.get("product_lines") or ())),
                active=True,
                created_at=now,
            )
        )


# ---------------------------------------------------------------- line eligibility
def refresh_lines(uow, outlet: Outlet, now: datetime, minimum: int, announce: bool = True) -> list:
    """Recompute the outlet's line eligibility (certified technicians per product line against
    the minimum); publish each change once dispatch knows the outlet. Returns the announced changes."""
    session = uow.session
    today = domain.local_date(now)
    techs = session.scalars(
        select(Technician).where(Technician.outlet_id == outlet.id, Technician.active.is_(True))
    ).all()
    lines = set(outlet.product_lines or ())
    for tech in techs:
        lines.update(tech.skills or ())
    counts = dict(
        session.execute(
            select(Certificate.product_line, func.count(func.distinct(Certificate.technician_id)))
            .where(
                Certificate.outlet_id == outlet.id,
                Certificate.status == "valid",
                Certificate.valid_until >= today,
                Certificate.technician_id.in_([t.id for t in techs] or [""]),
            )
            .group_by(Certificate.product_line)
        ).all()
    )
    rows = {r.product_line: r for r in session.scalars(select(LineStatus).where(LineStatus.outlet_id == outlet.id))}
    current = {line: (row.eligible, row.certified) for line, row in rows.items()}
    changes = domain.line_changes(lines, counts, minimum, current)
    for change in changes:
        if change.new:
            session.add(
                LineStatus(
                    tenant_id=outlet.tenant_id,
                    outlet_id=outlet.id,
                    product_line=change.product_line,
                    eligible=change.eligible,
                    certified=change.certified,
                    updated_at=now,
                )
            )
        else:
            row = rows[change.product_line]
            row.eligible, row.certified, row.updated_at = change.eligible, change.certified, now
    announced = [c for c in changes if c.announce]
    if announce and domain.dispatch_knows(outlet.status):
        for change in announced:
            uow.emit("outlet.line_eligibility", domain.line_event(outlet, change, minimum, now))
    return announced


def refresh_outlet(uow, outlet_id: str | None, now: datetime, minimum: int):
    outlet = uow.session.get(Outlet, outlet_id) if outlet_id else None
    if outlet is not None:
        refresh_lines(uow, outlet, now, minimum)


def refresh_seeded(uow, now: datetime, minimum: int):
    """Line eligibility of the outlets seeded from the tenant directory."""
    for outlet in uow.session.scalars(select(Outlet).where(Outlet.seeded.is_(True))):
        refresh_lines(uow, outlet, now, minimum)


# ---------------------------------------------------------------- technicians, training, exams
def register_technician(uow, data: dict, now: datetime, minimum: int) -> Technician:
    """Register a technician at an outlet, or move one (with its certificates) to another."""
    session = uow.session
    outlet = session.get(Outlet, data["outlet_id"])
    if outlet is None:
        raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {data['outlet_id']!r} you may see"]})
    tech = session.get(Technician, data["id"])
    if tech is None:
        tech = Technician(id=data["id"], tenant_id=outlet.tenant_id, created_at=now, active=True)
        session.add(tech)
    moved_from = tech.outlet_id if tech.outlet_id != outlet.id else None
    tech.outlet_id, tech.name, tech.skills = outlet.id, data["name"], sorted(set(data["skills"]))
    try:  # an id taken by a technician you may not see: refused here, not at an autoflush below
        session.flush()
    except IntegrityError:
        raise ValidationFailed("technician id already used", {"id": ["already used"]}) from None
    for cert in session.scalars(select(Certificate).where(Certificate.technician_id == tech.id)):
        cert.outlet_id = outlet.id
    session.flush()
    refresh_lines(uow, outlet, now, minimum)
    refresh_outlet(uow, moved_from, now, minimum)
    return tech


def record_training(session, data: dict, tenant: str | None, user: str) -> TrainingSession:
    """A training session (技术培训) of the tenant's technicians, under a plan (its tenant's and
    line's; `training_ops.check_session_plan`) or unplanned (seed 001's 不定期培训)."""
    plan = training_ops.check_session_plan(session, data)
    if plan is not None:
        if tenant is not None and tenant != plan.tenant_id:
            raise ValidationFailed("the plan is another center's", {"plan_id": [f"a plan of {plan.tenant_id}"]})
        tenant = plan.tenant_id
    if tenant is None:
        raise ValidationFailed("unknown tenant", {"tenant_id": ["HQ names the center the session is for"]})
    known = set(
        session.scalars(
            select(Technician.id).where(Technician.id.in_(data["attendees"] or [""]), Technician.tenant_id == tenant)
        )
    )
    missing = [a for a in data["attendees"] if a not in known]
    if missing:
        raise ValidationFailed("unknown attendees", {"attendees": [f"not in {tenant}: {', '.join(missing)}"]})
    training = TrainingSession(
        id=uuid.uuid4().hex,
        tenant_id=tenant,
        plan_id=plan.id if plan is not None else None,
        product_line=data["product_line"],
        title=data["title"],
        held_on=data["held_on"],
        trainer=data.get("trainer"),
        location=data.get("location"),
        attendees=sorted(set(data["attendees"])),
        created_by=user,
    )
    session.add(training)
    return training


def record_exam(uow, data: dict, user: str, pass_mark: Decimal, now: datetime, minimum: int, training_mode="plan"):
    """An exam result, resting on the training before it (training.session_for_exam: the plan's
    session the technician attended); a pass issues a certificate (superseding the line's valid
    one) and emits technician.certified. Returns (exam, certificate or None)."""
    session = uow.session
    today = domain.local_date(now)
    taken = data.get("taken_on") or today
    passed, valid_until = domain.check_exam(data["score"], pass_mark, taken, today)
    tech = session.get(Technician, data["technician_id"])
    if tech is None:
        raise ValidationFailed("unknown technician", {"technician_id": [f"no {data['technician_id']!r}"]})
    session_id = training_ops.exam_session(session, data, tech, taken, training_mode)
    exam = ExamResult(
        id=uuid.uuid4().hex,
        tenant_id=tech.tenant_id,
        technician_id=tech.id,
        outlet_id=tech.outlet_id,
        product_line=data["product_line"],
        session_id=session_id,
        score=data["score"],
        pass_mark=pass_mark,
        passed=passed,
        taken_on=taken,
        recorded_by=user,
        at=now,
    )
    session.add(exam)
    cert = None
    if passed:
        for old in session.scalars(
            select(Certificate).where(
                Certificate.technician_id == tech.id,
                Certificate.product_line == data["product_line"],
                Certificate.status == "valid",
            )
        ):
            old.status, old.ended_at, old.reason = "superseded", now, f"renewed by exam {exam.id}"
        cert = Certificate(
            id=uuid.uuid4().hex,
            tenant_id=tech.tenant_id,
            technician_id=tech.id,
            outlet_id=tech.outlet_id,
            product_line=data["product_line"],
            issued_on=taken,
            valid_until=valid_until,
            status="valid",
            exam_id=exam.id,
        )
        session.add(cert)
        if data["product_line"] not in (tech.skills or ()):
            tech.skills = sorted(set(tech.skills or ()) | {data["product_line"]})
        uow.emit("technician.certified", certificate_event(cert, now))
        session.flush()
    refresh_outlet(uow, tech.outlet_id, now, minimum)
    return exam, cert


def certificate_event(cert: Certificate, now: datetime) -> dict:
    return {
        "tenant_id": cert.tenant_id,
        "technician_id": cert.technician_id,
        "outlet_id": cert.outlet_id,
        "product_line": cert.product_line,
        "valid_until": cert.valid_until,
        "at": now,
    }


def revoke_certificates(uow, technician: Technician, product_line: str, reason: str, now: datetime, minimum: int):
    """End the technician's valid certificates of a line (technician.revoked); returns them."""
    certs = uow.session.scalars(
        select(Certificate).where(
            Certificate.technician_id == technician.id,
            Certificate.product_line == product_line,
            Certificate.status == "valid",
        )
    ).all()
    if not certs:
        raise InvalidTransition(
            "no valid certificate to revoke",
            {"product_line": [f"{technician.id} holds no valid {product_line} certificate"]},
        )
    for cert in certs:
        cert.status, cert.ended_at, cert.reason = "revoked", now, reason
    uow.emit(
        "technician.revoked",
        {
            "tenant_id": technician.tenant_id,
            "technician_id": technician.id,
            "outlet_id": technician.outlet_id,
            "product_line": product_line,
            "valid_until": None,
            "at": now,
        },
    )
    uow.session.flush()
    refresh_outlet(uow, technician.outlet_id, now, minimum)
    return certs


def check_certificates(uow, now: datetime, remind_days, minimum: int) -> tuple[dict, Counter]:
    """Expire certificates past their date (the tenant's calendar date), remind once per threshold
    of `remind_days` (days, or several: expiry.reminder_due); returns the summary and the count per
    (tenant, event). Each reminder goes out through the outbox in this unit of work."""
    days = (remind_days,) if isinstance(remind_days, int) else tuple(remind_days)
    session = uow.session
    today = domain.local_date(now)
    counted = Counter()
    outlets = set()
    for cert in session.scalars(
        select(Certificate).where(Certificate.status == "valid", Certificate.valid_until < today).limit(2000)
    ):
        cert.status, cert.ended_at, cert.reason = "expired", now, "not renewed within 2 years"
        uow.emit("technician.expired", certificate_event(cert, now))
        counted[cert.tenant_id, "expired"] += 1
        outlets.add(cert.outlet_id)
    for cert in session.scalars(
        select(Certificate)
        .where(
            Certificate.status == "valid",
            Certificate.valid_until >= today,
            Certificate.valid_until <= today + timedelta(days=max(days)),
            Certificate.reminded_at.is_(None)
            | Certificate.reminded_days.is_(None)
            | (Certificate.reminded_days > min(days)),
        )
        .limit(2000)
    ):
        due = expiry.reminder_due(cert.valid_until, today, days, cert.reminded_days, cert.reminded_at)
        if due is None:
            continue
        cert.reminded_at, cert.reminded_days = now, due
        uow.emit("technician.expiring", certificate_event(cert, now))
        counted[cert.tenant_id, "expiring"] += 1
    session.flush()
    changes = 0
    for outlet_id in outlets - {None}:
        outlet = session.get(Outlet, outlet_id)
        if outlet is not None:
            changes += len(refresh_lines(uow, outlet, now, minimum))
    summary = {
        "expired": sum(n for (_, event), n in counted.items() if event == "expired"),
        "reminded": sum(n for (_, event), n in counted.items() if event == "expiring"),
        "line_changes": changes,
        "date": today.isoformat(),
    }
    return summary, counted
