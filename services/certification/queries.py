"""Certification's reads that are more than a lookup: the outlet file (网点档案), technicians with
their certificates and exams, trainings, and the inputs of the network plan. Each runs in the
caller's session, so it sees what the caller's tenancy lets it see."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select

from services.certification import domain
from services.certification.domain import OutletState
from services.certification.models import (
    Assessment,
    Certificate,
    ExamResult,
    GradeRecord,
    InstalledBase,
    LineStatus,
    MonthlyCount,
    Notice,
    Outlet,
    OutletStep,
    RepairRate,
    Technician,
    TrainingSession,
)
from services.certification.schemas import CertificateOut, ExamOut, OutletOut, StepOut, TechnicianOut, TrainingOut
from shared.db import AwareView

_outlet_out = OutletOut()
_steps_out = StepOut(many=True)
_tech_out = TechnicianOut()
_cert_out = CertificateOut()
_exam_out = ExamOut()
_training_out = TrainingOut()


def outlet_out(outlet: Outlet) -> dict:
    return _outlet_out.dump(AwareView(outlet))


def certificate_out(cert: Certificate) -> dict:
    return _cert_out.dump(AwareView(cert))


def technician_out(tech: Technician) -> dict:
    return _tech_out.dump(tech)


def exam_out(exam: ExamResult) -> dict:
    return _exam_out.dump(exam)


def training_out(training: TrainingSession) -> dict:
    return _training_out.dump(training)


def _decimal_text(value):
    return None if value is None else str(value)


# ---------------------------------------------------------------- outlets
def outlets(session, q: dict) -> dict:
    stmt = select(Outlet)
    for key in ("status", "tenant_id", "city"):
        if q.get(key):
            stmt = stmt.where(getattr(Outlet, key) == q[key])
    total = session.scalar(stmt.with_only_columns(func.count(Outlet.id)))
    rows = session.scalars(stmt.order_by(Outlet.id).limit(q["limit"]).offset(q["offset"])).all()
    return {"items": [outlet_out(o) for o in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}


def outlet_file(session, outlet: Outlet, today: date) -> dict:
    """The outlet file (网点档案): agreement, registration form, grade history, staff roster,
    assessment records, monthly install/repair counts, steps, notices, line eligibility."""

    def of_outlet(model, order):
        return session.scalars(select(model).where(model.outlet_id == outlet.id).order_by(order))

    out = outlet_out(outlet)
    out["registration"] = outlet.registration
    out["inspection"] = outlet.inspection
    out["bank_account"] = outlet.bank_account
    out["steps"] = _steps_out.dump([AwareView(x) for x in of_outlet(OutletStep, OutletStep.id)])
    out["assessments"] = [
        {
            "kind": a.kind,
            "result": a.result,
            "score": _decimal_text(a.score),
            "findings": a.findings,
            "user": a.user,
            "at": AwareView(a).at.isoformat(),
        }
        for a in of_outlet(Assessment, Assessment.id)
    ]
    out["grade_history"] = [
        {
            "month": g.month,
            "grade": g.grade,
            "previous_grade": g.previous_grade,
            "score": _decimal_text(g.score),
            "source": g.source,
            "at": AwareView(g).at.isoformat(),
        }
        for g in of_outlet(GradeRecord, GradeRecord.id)
    ]
    out["monthly_counts"] = [
        {"month": m.month, "installs": m.installs, "repairs": m.repairs, "others": m.others}
        for m in of_outlet(MonthlyCount, MonthlyCount.month)
    ]
    out["staff"] = roster(session, outlet)
    out["lines"] = [
        {"product_line": r.product_line, "eligible": r.eligible, "certified": r.certified}
        for r in of_outlet(LineStatus, LineStatus.product_line)
    ]
    out["notices"] = [
        {"kind": n.kind, "text": n.text, "at": AwareView(n).at.isoformat()} for n in of_outlet(Notice, Notice.id)
    ]
    out["assessment_due"] = bool(
        outlet.status == OutletState.PROBATION and outlet.probation_until and outlet.probation_until <= today
    )
    return out


def _certificates_by_technician(session, where) -> dict:
    certs = {}
    for c in session.scalars(select(Certificate).where(where).order_by(Certificate.valid_until)):
        certs.setdefault(c.technician_id, []).append(certificate_out(c))
    return certs


def roster(session, outlet: Outlet) -> list:
    """Staff files: the technicians in the register with their certificates, and the other staff of
    the registration form."""
    techs = session.scalars(select(Technician).where(Technician.outlet_id == outlet.id).order_by(Technician.id)).all()
    certs = _certificates_by_technician(session, Certificate.outlet_id == outlet.id)
    staff = [dict(technician_out(t), position="technician", certificates=certs.get(t.id, [])) for t in techs]
    for member in (outlet.registration or {}).get("staff") or []:
        if member.get("position") not in domain.STAFF_TECH_POSITIONS:
            staff.append(
                {"name": member["name"], "position": member["position"], "qualification": member.get("qualification")}
            )
    return staff


# ---------------------------------------------------------------- technicians
def technicians(session, q: dict) -> list:
    stmt = select(Technician).order_by(Technician.id)
    if q.get("outlet_id"):
        stmt = stmt.where(Technician.outlet_id == q["outlet_id"])
    techs = session.scalars(stmt).all()
    certs = _certificates_by_technician(session, Certificate.technician_id.in_([t.id for t in techs] or [""]))
    return [
        dict(technician_out(t), certificates=certs.get(t.id, []))
        for t in techs
        if not q.get("product_line") or q["product_line"] in (t.skills or ())
    ]


def technician_file(session, tech: Technician) -> dict:
    out = technician_out(tech)
    out["certificates"] = [
        certificate_out(c)
        for c in session.scalars(
            select(Certificate).where(Certificate.technician_id == tech.id).order_by(Certificate.valid_until)
        )
    ]
    out["exams"] = [
        exam_out(e)
        for e in session.scalars(
            select(ExamResult).where(ExamResult.technician_id == tech.id).order_by(ExamResult.taken_on)
        )
    ]
    return out


def trainings(session) -> list:
    return [training_out(t) for t in session.scalars(select(TrainingSession).order_by(TrainingSession.held_on.desc()))]


def expiring_by_tenant(session, today: date, days: int) -> dict[str, int]:
    """Per tenant: valid certificates whose last valid day is within `days` of `today` (or
    already past, not yet marked expired by the expiry check)."""
    rows = session.execute(
        select(Certificate.tenant_id, func.count())
        .where(Certificate.status == "valid", Certificate.valid_until <= today + timedelta(days=days))
        .group_by(Certificate.tenant_id)
    ).all()
    return {tenant: int(n) for tenant, n in rows}


# ---------------------------------------------------------------- network planning
def network_inputs(session, tenant_id: str | None) -> tuple[list, dict, list]:
    """(installed base rows, repair rate per model, operating outlets) for `domain.network_plan`."""
    stmt = select(InstalledBase)
    outlet_stmt = select(Outlet.id, Outlet.tenant_id, Outlet.province, Outlet.city).where(
        Outlet.status.in_(domain.OPERATING + domain.REVOCATION_REVIEW)
    )
    if tenant_id:
        stmt = stmt.where(InstalledBase.tenant_id == tenant_id)
        outlet_stmt = outlet_stmt.where(Outlet.tenant_id == tenant_id)
    base = [
        {
            "tenant_id": r.tenant_id,
            "province": r.province,
            "city": r.city,
            "district": r.district,
            "model": r.model,
            "installed": r.installed,
            "planned_sales": r.planned_sales,
        }
        for r in session.scalars(stmt)
    ]
    rates = {r.model: r.rate for r in session.scalars(select(RepairRate))}
    return base, rates, [tuple(r) for r in session.execute(outlet_stmt)]
