"""QA's entrypoints of the monthly center report, HQ's roll-up and the quarterly satisfaction report
(issue 18.5): a mixin of `QaService`, as `assessment_rpc` is.

On demand (`monthly_report`, `quarterly_report`): made now, as JSON or a file; HQ's roll-up of a
month from the stored one or in the background (`report_jobs`: answered with the job). On a schedule
(`report_schedule`, a `timer_once` tick; from the 1st of a month): the previous month's report of
every center and HQ's roll-up, and after a quarter's last month the quarter's satisfaction reports,
stored once each (`stored_reports`, unique per scope, kind and period), then listed and downloaded.

Who sees what: HQ every center's and the roll-ups; a center its own only (another center's is
refused, naming ``tenant``); an outlet none. The remote sections are read acting inside the one
center (`report_collect`), so intake, parts and settlement scope them by their own tenancy.
"""

from __future__ import annotations

import base64
import json
import logging
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from services.qa import domain, monthly_report, report_collect, report_files, reports
from services.qa.report_models import StoredReport
from services.qa.report_schemas import (
    GenerateBody,
    MonthlyReportQuery,
    NotesBody,
    QuarterlyReportQuery,
    StoredFileQuery,
    StoredReportOut,
    StoredReportQuery,
)
from shared import fonts, tenancy
from shared.clock import LOCAL_TZ
from shared.db import AwareView, utcnow
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.leases import timer_once
from shared.rpc import RpcProxy, rpc
from shared.validation import load

log = logging.getLogger(__name__)
_stored_out = StoredReportOut()
ALL = "all"
WRITTEN = "written"  # a month's written part (its content: the four lines), kept with the reports


class ReportEntrypoints:
    """Mixed into `QaService`; uses its `db`, `directory`, `name`, `_cfg` and `_agent`."""

    intake_rpc = RpcProxy("intake")
    parts_rpc = RpcProxy("parts")
    settlement_rpc = RpcProxy("settlement")

    # ------------------------------------------------------------ on demand
    @rpc
    def monthly_report(self, query):
        """A center's month (``tenant``: its id; a center's user: its own by default) or HQ's
        roll-up (``tenant`` all or none, HQ only), as ``format`` json, pdf or xlsx."""
        asked = load(MonthlyReportQuery(), query or {})
        scope = self._report_scope(asked.get("tenant"))
        if scope == monthly_report.HQ_SCOPE:  # every center's figures: not within one RPC's wait
            return self._rollup(asked["month"], asked["format"])
        report = self._month(scope, asked["month"], utcnow())
        return self._answer(report, asked["format"])

    @rpc
    def quarterly_report(self, query):
        """The quarter's satisfaction (``quarter`` YYYY-Qn): a center's, or every center's and the
        country's (HQ)."""
        asked = load(QuarterlyReportQuery(), query or {})
        scope = self._report_scope(asked.get("tenant"))
        return self._answer(self._quarter(scope, asked["quarter"]), asked["format"])

    # ------------------------------------------------------------ stored (the schedule's)
    @rpc
    def stored_reports(self, query=None):
        """The stored reports the caller sees (a center its own, HQ all), newest period first."""
        asked = load(StoredReportQuery(), query or {})
        self._agent()
        with self.db.uow() as uow:
            stmt = select(StoredReport)
            if asked.get("kind"):
                stmt = stmt.where(StoredReport.kind == asked["kind"])
            else:
                stmt = stmt.where(StoredReport.kind != WRITTEN)  # the written parts are inside the reports
            if asked.get("period"):
                stmt = stmt.where(StoredReport.period == asked["period"])
            stmt = stmt.options(defer(StoredReport.pdf), defer(StoredReport.xlsx), defer(StoredReport.content))
            rows = uow.session.scalars(
                stmt.order_by(StoredReport.period.desc(), StoredReport.kind, StoredReport.tenant_id)
            ).all()
            items = [self._stored_out(row) for row in rows]
        page = items[asked["offset"] : asked["offset"] + asked["limit"]]
        return {"items": page, "total": len(items), "limit": asked["limit"], "offset": asked["offset"]}

    @rpc
    def stored_report_file(self, report_id, query=None):
        """One stored report's PDF or XLSX (another center's is not found)."""
        asked = load(StoredFileQuery(), query or {})
        self._agent()
        with self.db.uow() as uow:
            row = uow.session.scalars(
                select(StoredReport).where(StoredReport.id == _report_id(report_id), StoredReport.kind != WRITTEN)
            ).first()
            if row is None:
                raise NotFound(f"report {report_id} not found")
            data = row.pdf if asked["format"] == "pdf" else row.xlsx
            name = _filename(row.content, asked["format"])
        return _file(name, asked["format"], data)

    @rpc
    def record_report_notes(self, payload):
        """The month's written part (seed 001): a center's (its own only) or HQ's analysis. Kept
        once per center and month (written again: replaced); a report of that month already
        stored is made again with it: the center's now, HQ's roll-up (it says who wrote) by a
        roll-up job (``rollup_job``; `report_jobs`), as it reads every center."""
        data = load(NotesBody(), payload or {})
        principal = self._agent()
        scope = principal.tenant if not principal.all_tenants else monthly_report.HQ_SCOPE
        if scope is None:
            raise Forbidden("a service acting for no center writes no report")
        now = utcnow()
        notes = {k: data[k].strip() for k in monthly_report.NOTE_FIELDS}
        notes.update(written_by=principal.user, written_at=now.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"))
        service = tenancy.service_principal(self.name)
        with self.db.uow(service) as uow:
            row = uow.session.scalars(
                select(StoredReport).where(
                    StoredReport.tenant_id == scope, StoredReport.kind == WRITTEN, StoredReport.period == data["month"]
                )
            ).first()
            if row is None:
                row = StoredReport(tenant_id=scope, kind=WRITTEN, period=data["month"], pdf=b"", xlsx=b"")
                uow.session.add(row)
            row.title, row.content = "书面报告", notes
            row.generated_at, row.generated_by = now, principal.user
            uow.commit()
        redone = []
        if scope != monthly_report.HQ_SCOPE:
            with self._acting(service):  # the stored reports are the service's: made again as the schedule makes them
                redone = self._remake(scope, data["month"], service, now)
        # HQ's roll-up (which says who wrote) reads every center: made again in the background
        rollup = self._remake_rollup(data["month"], service)
        return {"tenant_id": scope, "month": data["month"], "written": notes, "remade": redone, "rollup_job": rollup}

    @rpc
    def report_notes(self, query):
        """The caller's written part of a month as kept (a center's own, HQ's analysis), or {}."""
        month = load(GenerateBody(), query or {})["month"]
        principal = self._agent()
        scope = principal.tenant if not principal.all_tenants else monthly_report.HQ_SCOPE
        return self._notes(scope, month) or {}

    def _remake(self, scope, month, principal, now):
        with self.db.uow(principal) as uow:
            row = uow.session.scalars(
                select(StoredReport).where(
                    StoredReport.tenant_id == scope, StoredReport.kind == "monthly", StoredReport.period == month
                )
            ).first()
            if row is None:
                return []
            report = self._month(scope, month, now)
            row.title = report["title"]
            row.content = stored_content(report)
            row.pdf, row.xlsx = report_files.to_pdf(report, self._font()), report_files.to_xlsx(report)
            row.generated_at, row.generated_by = now, principal.user
            uow.commit()
        return [f"{scope}:monthly:{month}"]

    def _notes(self, scope, month):
        with self.db.uow() as uow:
            row = uow.session.scalars(
                select(StoredReport.content).where(
                    StoredReport.tenant_id == scope, StoredReport.kind == WRITTEN, StoredReport.period == month
                )
            ).first()
        return row

    @timer_once("QA_REPORT_SECONDS", 600)  # on one replica at a time (shared.leases)
    def report_schedule(self):
        """From the 1st of a month: the previous month's reports (and quarter's) not stored yet."""
        auto = self._cfg("QA_AUTO_REPORTS", self._cfg("QA_AUTO_MONTHLY", "true"))  # off: as the month's other steps
        if str(auto).lower() in ("0", "false", "no"):
            return None
        principal = tenancy.service_principal(self.name)
        tenancy.put_principal(self.db.worker_ctx, principal)
        month = domain.previous_month(utcnow().astimezone(LOCAL_TZ).strftime("%Y-%m"))
        return self._generate_due(month, principal)

    def _generate_due(self, month, principal, progress=None):
        """Each center's month, HQ's roll-up, and after a quarter's last month the quarters: those
        not stored yet, one by one (a report made by another replica meanwhile is kept, not doubled).
        `progress(done, total, made)` is told after each (HQ's requests, `report_jobs`)."""
        quarter = monthly_report.ends_quarter(month)
        with self.db.uow(principal) as uow:
            have = set(
                uow.session.execute(
                    select(StoredReport.tenant_id, StoredReport.kind, StoredReport.period).where(
                        StoredReport.period.in_([month, quarter or month])
                    )
                ).all()
            )
        centers = sorted(self.directory.centers)
        made, now = [], utcnow()
        month_reports = {}
        scopes = centers + [monthly_report.HQ_SCOPE]
        total, done = monthly_report.job_total(len(centers), quarter), 0
        with self._acting(principal):
            for scope in scopes:
                if (scope, "monthly", month) not in have:
                    if scope == monthly_report.HQ_SCOPE:
                        report = monthly_report.hq_month(
                            month,
                            [month_reports.get(t) or self._center_month(t, month, now) for t in centers],
                            self._notes(scope, month),
                        )
                    else:
                        report = month_reports[scope] = self._center_month(scope, month, now)
                    made += self._store(report, principal, now)
                done += 1
                if progress:
                    progress(done, total, made)
            for scope in scopes if quarter else []:
                if (scope, "quarterly", quarter) not in have:
                    made += self._store(self._quarter(scope, quarter), principal, now)
                done += 1
                if progress:
                    progress(done, total, made)
        return {"month": month, "quarter": quarter, "made": made}

    def _store(self, report, principal, now):
        row = StoredReport(
            tenant_id=report["tenant_id"],
            kind=report["kind"],
            period=report["period"],
            title=report["title"],
            content=stored_content(report),
            pdf=report_files.to_pdf(report, self._font()),
            xlsx=report_files.to_xlsx(report),
            generated_at=now,
            generated_by=principal.user,
        )
        try:
            with self.db.uow(principal) as uow:
                uow.session.add(row)
                uow.commit()
        except IntegrityError:  # another replica stored it first
            log.info("report %s %s %s was stored meanwhile", report["tenant_id"], report["kind"], report["period"])
            return []
        return [f"{report['tenant_id']}:{report['kind']}:{report['period']}"]

    # ------------------------------------------------------------ assembly
    def _report_scope(self, tenant):
        """The center asked (checked against the caller), or HQ's roll-up."""
        principal = self._agent()
        if not principal.all_tenants:  # a center (or a service acting inside one): its own only
            if tenant not in (None, principal.tenant):
                raise Forbidden(f"tenant: center {principal.tenant} cannot read the reports of {tenant}")
            return principal.tenant
        if tenant in (None, ALL, monthly_report.HQ_SCOPE):
            return monthly_report.HQ_SCOPE
        if tenant not in self.directory.centers:
            raise ValidationFailed("unknown center", {"tenant": [f"no center {tenant!r}"]})
        return tenant

    def _month(self, scope, month, now):
        if scope != monthly_report.HQ_SCOPE:
            return self._center_month(scope, month, now)
        centers = sorted(self.directory.centers)
        return monthly_report.hq_month(
            month, [self._center_month(t, month, now) for t in centers], self._notes(monthly_report.HQ_SCOPE, month)
        )

    def _center_month(self, tenant, month, now):
        """One center's month: QA's own sections from its session, the others' over RPC acting
        inside the center (the worker's principal narrowed to it for those calls)."""
        caller = self.db.principal
        inside = caller if caller.tenant == tenant else caller.acting_for(tenant)
        outlets = {o.id: o.name for o in self.directory.outlets.values() if o.center == tenant}
        with self.db.uow(inside) as uow:
            sections = report_collect.own_sections(uow.session, tenant, month, now, outlets)
        sections["written"] = self._notes(tenant, month)
        with self._acting(inside):
            intake, parts, settlement = self.intake_rpc, self.parts_rpc, self.settlement_rpc
            sections["served"] = report_collect.guarded(lambda: report_collect.served(intake, month))
            sections["sla"] = report_collect.guarded(lambda: report_collect.sla(intake, tenant, month, now))
            sections["parts"] = report_collect.guarded(lambda: report_collect.parts(parts, month))
            sections["money"] = report_collect.guarded(lambda: report_collect.money(settlement, month))
        return monthly_report.center_month(tenant, self.directory.centers[tenant].name, month, sections)

    def _quarter(self, scope, quarter):
        months = monthly_report.quarter_months(quarter)
        if scope == monthly_report.HQ_SCOPE:
            centers = [(t, self.directory.centers[t].name) for t in sorted(self.directory.centers)]
        else:
            centers = [(scope, self.directory.centers[scope].name)]
        with self.db.uow() as uow:
            figures = report_collect.satisfaction_figures(
                uow.session, None if scope == monthly_report.HQ_SCOPE else scope, months
            )
        return monthly_report.quarterly(quarter, centers, figures)

    @contextmanager
    def _acting(self, principal):
        """The worker's principal (what its RPCs carry) is `principal` inside the block."""
        data = self.db.worker_ctx.data
        before = data.get(tenancy.CONTEXT_KEY)
        tenancy.put_principal(self.db.worker_ctx, principal)
        try:
            yield
        finally:
            if before is None:
                data.pop(tenancy.CONTEXT_KEY, None)
            else:
                data[tenancy.CONTEXT_KEY] = before

    def _font(self):
        return fonts.cjk_font(self.db.worker_ctx.container.config.get(fonts.CONFIG_KEY))

    def _answer(self, report, fmt):
        if fmt == "json":
            return reports.jsonable(report)
        data = report_files.to_pdf(report, self._font()) if fmt == "pdf" else report_files.to_xlsx(report)
        return _file(_filename(report, fmt), fmt, data)

    def _stored_out(self, row):
        out = _stored_out.dump(AwareView(row))
        center = self.directory.centers.get(row.tenant_id)
        out["center_name"] = center.name if center else monthly_report.HQ_NAME
        return out


def stored_content(report: dict[str, Any]) -> dict[str, Any]:
    """A made report as kept in a JSON column (what the json format answers)."""
    return dict(json.loads(json.dumps(reports.jsonable(report), ensure_ascii=False)))


def file_answer(content: dict[str, Any], pdf: bytes | None, xlsx: bytes | None, fmt: str) -> dict[str, Any]:
    """A made report's answer from what was kept: its JSON, or its PDF or XLSX as a file."""
    if fmt == "json":
        return content
    return _file(_filename(content, fmt), fmt, (pdf if fmt == "pdf" else xlsx) or b"")


def _filename(report: dict[str, Any], fmt: str) -> str:
    return f"{report['kind']}-{report['tenant_id']}-{report['period']}.{fmt}"


def _file(filename: str, fmt: str, data: bytes) -> dict[str, Any]:
    return {
        "filename": filename,
        "content_type": report_files.CONTENT_TYPES[fmt],
        "encoding": "base64",
        "data": base64.b64encode(data).decode("ascii"),
    }


def _report_id(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1 or str(value).strip() != str(number):
        raise ValidationFailed("invalid report_id", {"report_id": ["must be a positive whole number"]})
    return number
