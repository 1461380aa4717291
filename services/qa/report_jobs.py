"""HQ's requests to make a month's stored reports, run in the background (issue 18.5).

``POST /api/v1/reports/generate`` (`generate_reports`) only records a request (a `ReportJob`,
pending) and answers at once with it; making every center's monthly report (and the quarter's)
takes longer than an RPC may wait. qa's ``report_jobs`` timer (``QA_REPORT_JOB_SECONDS``, 2 s; on
one replica at a time, `shared.leases`) takes the oldest request not finished, in its own worker
and database session, and makes the reports one by one as the schedule does (those already
stored are skipped; one per center, kind and period), writing its progress (``done`` of
``total``) after each. A request left running by a stopped or crashed process is not finished,
so the next tick takes it up again. The same month asked again while its request is pending or
running is that request (one job).
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from sqlalchemy import select

from services.qa import monthly_report
from services.qa.report_models import ReportJob
from services.qa.report_schemas import GenerateBody
from shared import tenancy
from shared.db import utcnow
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.leases import timer_once
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
OPEN = (PENDING, RUNNING)  # not finished: the same month asked again is this job; the timer takes it
HQ_SCOPE = monthly_report.HQ_SCOPE
RECENT = 5


def job_total(centers: int, quarter: str | None) -> int:
    """How many reports a month's request covers: each center's month and HQ's roll-up, and as
    many quarterly reports when the month closes a quarter."""
    return (centers + 1) * (2 if quarter else 1)


def job_out(row: ReportJob) -> dict[str, Any]:
    return {
        "id": row.id,
        "month": row.month,
        "quarter": row.quarter,
        "state": row.state,
        "done": row.done,
        "total": row.total,
        "made": list(row.made or []),
        "error": row.error,
        "requested_by": row.requested_by,
        "requested_at": _iso(row.requested_at),
        "finished_at": _iso(row.finished_at),
    }


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=UTC)
    return str(value.isoformat())


def _job_id(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(value).strip() != str(number):
        raise ValidationFailed("invalid job_id", {"job_id": ["must be a positive whole number"]})
    return number


def _hq_only(principal: tenancy.Principal) -> None:
    if principal.role not in (tenancy.HQ, tenancy.SERVICE) or not principal.all_tenants:
        raise Forbidden("only HQ generates the stored reports")


class ReportJobEntrypoints:
    """Mixed into `QaService` beside `ReportEntrypoints` (its `_generate_due` does the work)."""

    @rpc
    def generate_reports(self, payload):
        """HQ asks for a month's stored reports: the request (pending, or the one already open for
        that month), at once; qa's ``report_jobs`` timer makes them."""
        data = load(GenerateBody(), payload or {})
        principal = self.db.principal
        _hq_only(principal)
        month = data["month"]
        with self.db.uow(principal) as uow:
            row = uow.session.scalars(
                select(ReportJob).where(ReportJob.month == month, ReportJob.state.in_(OPEN)).order_by(ReportJob.id)
            ).first()
            if row is None:
                now = utcnow()
                quarter = monthly_report.ends_quarter(month)
                row = ReportJob(
                    tenant_id=HQ_SCOPE,
                    month=month,
                    quarter=quarter,
                    state=PENDING,
                    done=0,
                    total=job_total(len(self.directory.centers), quarter),
                    made=[],
                    requested_by=principal.user,
                    requested_at=now,
                    updated_at=now,
                )
                uow.session.add(row)
                uow.commit()
            return job_out(row)

    @rpc
    def report_job(self, job_id):
        """One request's state and progress (HQ)."""
        number = _job_id(job_id)
        _hq_only(self.db.principal)
        with self.db.uow() as uow:
            row = uow.session.get(ReportJob, number)
            if row is None:
                raise NotFound(f"report job {job_id} not found")
            return job_out(row)

    @rpc
    def recent_report_jobs(self):
        """HQ's requests not finished and the latest finished ones, newest first (the reports page)."""
        _hq_only(self.db.principal)
        with self.db.uow() as uow:
            rows = uow.session.scalars(select(ReportJob).order_by(ReportJob.id.desc()).limit(RECENT)).all()
            return [job_out(row) for row in rows]

    @timer_once("QA_REPORT_JOB_SECONDS", 2)  # on one replica at a time (shared.leases)
    def report_jobs(self):
        """The oldest request not finished (a running one was left by a stopped process): run now."""
        principal = tenancy.service_principal(self.name)
        tenancy.put_principal(self.db.worker_ctx, principal)
        with self.db.uow(principal) as uow:
            row = uow.session.scalars(select(ReportJob).where(ReportJob.state.in_(OPEN)).order_by(ReportJob.id)).first()
            if row is None:
                return None
            job_id, month = row.id, row.month
            row.state, row.updated_at = RUNNING, utcnow()
            uow.commit()

        def progress(done: int, total: int, made: list[str]) -> None:
            self._job_update(principal, job_id, done=done, total=total, made=list(made))

        try:
            out = self._generate_due(month, principal, progress)
        except Exception as exc:  # the request ends failed, named; HQ may ask again
            log.exception("report job %s (%s) failed", job_id, month)
            self._job_update(principal, job_id, state=FAILED, error=str(exc)[:500], finished_at=utcnow())
            return None
        self._job_update(principal, job_id, state=DONE, made=out["made"], finished_at=utcnow())
        return {"job": job_id, "made": out["made"]}

    def _job_update(self, principal, job_id, **values):
        with self.db.uow(principal) as uow:
            row = uow.session.get(ReportJob, job_id)
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            uow.commit()
