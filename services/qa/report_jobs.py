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

HQ's on-demand roll-up of a month (``monthly_report`` with tenant all: 全国汇总) collects every
center's figures over RPC, longer than an RPC may wait under load; it is answered at once
(`_rollup`): from the stored roll-up when that month's is current (made after the month ended),
from a roll-up job finished within ``QA_ROLLUP_FRESH_SECONDS`` (300), or else with a job (kind
``rollup``; the open one for that month joined) that the timer takes before the stored reports'
requests: it reads the centers one by one (``done`` of ``total``), keeps the roll-up's JSON, PDF
and XLSX on the row (``report_job_file``) and, the month being over, stores it as the month's
roll-up as the schedule would.
"""

from __future__ import annotations

import logging
from datetime import UTC
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError

from services.qa import monthly_report, report_files
from services.qa.monthly_report import job_total, rollup_current, rollup_fresh
from services.qa.report_models import ReportJob, StoredReport
from services.qa.report_rpc import file_answer, stored_content
from services.qa.report_schemas import GenerateBody, JobFileQuery
from shared import tenancy
from shared.db import utcnow
from shared.errors import Conflict, NotFound, ValidationFailed
from shared.leases import timer_once
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
OPEN = (PENDING, RUNNING)  # not finished: the same month asked again is this job; the timer takes it
HQ_SCOPE = monthly_report.HQ_SCOPE
RECENT = 5
STORE, ROLLUP = "store", "rollup"  # a month's stored reports; HQ's roll-up asked on demand
FRESH_SECONDS = 300
HQ_ONLY = "generates the stored reports"  # `AssessmentEntrypoints._hq_only`: "only HQ ..."


def job_out(row: ReportJob) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind or STORE,
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


class ReportJobEntrypoints:
    """Mixed into `QaService` beside `ReportEntrypoints` (its `_generate_due` does the work)."""

    @rpc
    def generate_reports(self, payload):
        """HQ asks for a month's stored reports: the request (pending, or the one already open for
        that month), at once; qa's ``report_jobs`` timer makes them."""
        data = load(GenerateBody(), payload or {})
        principal = self._hq_only(HQ_ONLY)
        month = data["month"]
        with self.db.uow(principal) as uow:
            row = uow.session.scalars(
                select(ReportJob)
                .where(ReportJob.month == month, ReportJob.kind == STORE, ReportJob.state.in_(OPEN))
                .order_by(ReportJob.id)
            ).first()
            if row is None:
                now = utcnow()
                quarter = monthly_report.ends_quarter(month)
                row = ReportJob(
                    tenant_id=HQ_SCOPE,
                    kind=STORE,
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
        self._hq_only(HQ_ONLY)
        with self.db.uow() as uow:
            row = uow.session.get(ReportJob, number)
            if row is None:
                raise NotFound(f"report job {job_id} not found")
            return job_out(row)

    @rpc
    def recent_report_jobs(self):
        """HQ's requests not finished and the latest finished ones, newest first (the reports page)."""
        self._hq_only(HQ_ONLY)
        with self.db.uow() as uow:
            rows = uow.session.scalars(
                select(ReportJob).where(ReportJob.kind == STORE).order_by(ReportJob.id.desc()).limit(RECENT)
            ).all()
            return [job_out(row) for row in rows]

    @timer_once("QA_REPORT_JOB_SECONDS", 2)  # on one replica at a time (shared.leases)
    def report_jobs(self):
        """The oldest request not finished (a running one was left by a stopped process; HQ's
        roll-ups, someone waiting on the page, before the stored reports'): run now."""
        principal = tenancy.service_principal(self.name)
        tenancy.put_principal(self.db.worker_ctx, principal)
        with self.db.uow(principal) as uow:
            first = case((ReportJob.kind == ROLLUP, 0), else_=1)
            row = uow.session.scalars(
                select(ReportJob).where(ReportJob.state.in_(OPEN)).order_by(first, ReportJob.id)
            ).first()
            if row is None:
                return None
            job_id, month, kind = row.id, row.month, row.kind
            row.state, row.updated_at = RUNNING, utcnow()
            uow.commit()
        if kind == ROLLUP:
            return self._run_rollup(job_id, month, principal)

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

    # ------------------------------------------------------------ HQ's roll-up on demand
    def _rollup(self, month, fmt):
        """HQ's roll-up of `month` as `fmt` now (the stored one, current, or a fresh job's), or
        ``{"accepted": job}``: the month's roll-up job, started or joined, to follow."""
        principal, now = self.db.principal, utcnow()
        with self.db.uow(principal) as uow:
            stored = uow.session.scalars(
                select(StoredReport).where(
                    StoredReport.tenant_id == HQ_SCOPE, StoredReport.kind == "monthly", StoredReport.period == month
                )
            ).first()
            if stored is not None and rollup_current(stored.generated_at, month):
                return file_answer(stored.content, stored.pdf, stored.xlsx, fmt)
            row = uow.session.scalars(
                select(ReportJob)
                .where(ReportJob.month == month, ReportJob.kind == ROLLUP)
                .order_by(ReportJob.id.desc())
            ).first()
            fresh = float(self._cfg("QA_ROLLUP_FRESH_SECONDS", FRESH_SECONDS))
            if row is not None and row.state == DONE and rollup_fresh(row.finished_at, now, fresh):
                return file_answer(row.content, row.pdf, row.xlsx, fmt)
            if row is None or row.state not in OPEN:
                row = self._new_rollup(uow, month, principal.user, now)
            return {"accepted": job_out(row)}

    def _new_rollup(self, uow, month, user, now):
        row = ReportJob(
            tenant_id=HQ_SCOPE,
            kind=ROLLUP,
            month=month,
            state=PENDING,
            done=0,
            total=job_total(len(self.directory.centers), None),
            made=[],
            requested_by=user,
            requested_at=now,
            updated_at=now,
        )
        uow.session.add(row)
        uow.commit()
        return row

    def _remake_rollup(self, month, principal):
        """The month's stored roll-up made again (a written part changed) by a roll-up job: one
        still pending joined (it reads the written parts when it runs), else a new one; None
        when no roll-up of the month is stored."""
        now = utcnow()
        with self.db.uow(principal) as uow:
            stored = uow.session.scalars(
                select(StoredReport.id).where(
                    StoredReport.tenant_id == HQ_SCOPE, StoredReport.kind == "monthly", StoredReport.period == month
                )
            ).first()
            if stored is None:
                return None
            row = uow.session.scalars(
                select(ReportJob).where(ReportJob.month == month, ReportJob.kind == ROLLUP, ReportJob.state == PENDING)
            ).first()
            return job_out(row or self._new_rollup(uow, month, principal.user, now))

    @rpc
    def report_job_file(self, job_id, query=None):
        """A finished roll-up job's file (``format`` pdf, xlsx or json); not yet made: 409."""
        asked = load(JobFileQuery(), query or {})
        number = _job_id(job_id)
        self._hq_only(HQ_ONLY)
        with self.db.uow() as uow:
            row = uow.session.get(ReportJob, number)
            if row is None or row.kind != ROLLUP:
                raise NotFound(f"roll-up job {job_id} not found")
            if row.state == FAILED:
                raise Conflict(f"roll-up job {number} failed: {row.error}")
            if row.state != DONE:
                raise Conflict(f"roll-up job {number} is {row.state} ({row.done}/{row.total}): no file yet")
            return file_answer(row.content, row.pdf, row.xlsx, asked["format"])

    def _run_rollup(self, job_id, month, principal):
        """The centers' months one by one (progress after each), then HQ's roll-up and its files,
        kept on the job and as the month's stored roll-up (`_keep_rollup`)."""
        centers, now = sorted(self.directory.centers), utcnow()
        total = job_total(len(centers), None)
        try:
            months = []
            with self._acting(principal):
                for done, tenant in enumerate(centers, 1):
                    months.append(self._center_month(tenant, month, now))
                    self._job_update(principal, job_id, done=done, total=total)
                report = monthly_report.hq_month(month, months, self._notes(HQ_SCOPE, month))
            content = stored_content(report)
            pdf, xlsx = report_files.to_pdf(report, self._font()), report_files.to_xlsx(report)
            made = self._keep_rollup(report, content, pdf, xlsx, principal, now)
        except Exception as exc:  # the job ends failed, named; the page offers to ask again
            log.exception("roll-up job %s (%s) failed", job_id, month)
            self._job_update(principal, job_id, state=FAILED, error=str(exc)[:500], finished_at=utcnow())
            return None
        self._job_update(
            principal,
            job_id,
            state=DONE,
            done=total,
            made=made,
            content=content,
            pdf=pdf,
            xlsx=xlsx,
            finished_at=utcnow(),
        )
        return {"job": job_id, "made": made}

    def _keep_rollup(self, report, content, pdf, xlsx, principal, now):
        """The month's stored roll-up made again with this one; a month already over without one
        gets it (as the schedule would store it); an open month's is not stored."""
        values = {"title": report["title"], "content": content, "pdf": pdf, "xlsx": xlsx}
        values.update(generated_at=now, generated_by=principal.user)
        month = report["period"]
        with self.db.uow(principal) as uow:
            row = uow.session.scalars(
                select(StoredReport).where(
                    StoredReport.tenant_id == HQ_SCOPE, StoredReport.kind == "monthly", StoredReport.period == month
                )
            ).first()
            if row is None and not rollup_current(now, month):
                return []
            if row is None:
                row = StoredReport(tenant_id=HQ_SCOPE, kind="monthly", period=month, **values)
                uow.session.add(row)
            else:
                for key, value in values.items():
                    setattr(row, key, value)
            try:
                uow.commit()
            except IntegrityError:  # another replica stored it first: kept
                return []
        return [f"{HQ_SCOPE}:monthly:{month}"]
