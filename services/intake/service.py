"""Intake: receives requests from every channel, registers tickets with their SLA clock,
runs the complaint case workflow, watches deadlines and keeps the service ledger (台帐).

Entrypoints stay thin: load with a schema, let `domain` decide (registration, transitions, the
facts' rules), apply it with `operations` in the unit of work, read with `queries`, commit,
dump.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime

from prometheus_client import Gauge
from sqlalchemy.exc import IntegrityError

from services.intake import (
    archive_store,
    complaint_report,
    domain,
    facts,
    outlook,
    queries,
    returns_service,
    routing,
    sla_report,
    sla_watch,
)
from services.intake import operations as ops
from services.intake.archive_service import ArchiveEntrypoints
from services.intake.hq_schemas import SlaReportOut, SlaReportQuery, TriageQuery
from services.intake.models import Base, Ticket
from services.intake.returns_service import ReturnEntrypoints
from services.intake.schemas import (
    AuditOut,
    BridgeRequest,
    ListQuery,
    PreviewOut,
    PreviewQuery,
    RegisterTicket,
    StepsOut,
    TicketOut,
    Transition,
)
from shared import escalation, metrics, tenancy, web
from shared.db import AwareView, Database, get_or_404, utcnow
from shared.dependencies import Geocoder, PolicyProvider
from shared.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from shared.fonts import CONFIG_KEY as PDF_FONT
from shared.fonts import FontMissing, cjk_font
from shared.leases import timer_once
from shared.messaging import consume, consume_validated, retrying
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

BRIDGE_EXCHANGE = "fsm.bridge"
BRIDGE_ROUTING_KEY = "intake.request"
BRIDGE_QUEUE = "intake.bridge-requests"

BREACHED_OPEN = Gauge(
    "fsm_sla_breached_open",
    "Deadlines breached and not yet met, of tickets still open",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)

_ticket_out = TicketOut()
_audit_out = AuditOut(many=True)
_preview_out = PreviewOut()
_steps_out = StepsOut()
_sla_report_out = SlaReportOut()


# not imported by name: `nameko run` would take it for a service; the archive's and returns' RPCs are mixins
class IntakeService(web.ServiceBase, ArchiveEntrypoints, ReturnEntrypoints):
    name = "intake"

    db = Database(Base.metadata, migrations_package="services.intake.migrations")
    geocoder = Geocoder()
    policies = PolicyProvider()

    # ------------------------------------------------------------ registering
    @rpc
    def register_ticket(self, payload):
        cmd = load(RegisterTicket(), payload)
        return self._register(cmd, self.db.principal)

    @consume_validated(BRIDGE_EXCHANGE, BRIDGE_ROUTING_KEY, BRIDGE_QUEUE, BridgeRequest)
    @retrying(BRIDGE_QUEUE)  # a busy or lost database: registered again, not dead-lettered
    def bridge_request(self, cmd):
        """A request from the hotline/fax bridge (plain AMQP, see shared/bridge.py)."""
        try:
            self._register(cmd, tenancy.service_principal("hotline-bridge"))
        except Conflict:  # the same reference delivered twice at once: the other one registered it
            log.info("duplicate bridge request %s", cmd["external_ref"])

    @rpc
    def import_requests(self, rows):
        """Register many requests, each in its own transaction; one result per row, in order."""
        if not isinstance(rows, list):
            raise ValidationFailed("rows must be a list", {"rows": ["must be a list"]})
        principal = self.db.principal
        results = []
        for index, row in enumerate(rows):
            try:
                ticket = self._register(load(RegisterTicket(), row), principal)
                results.append(
                    {
                        "row": index,
                        "ok": True,
                        "ticket_id": ticket["id"],
                        "number": ticket["number"],
                        "tenant_id": ticket["tenant_id"],
                        "duplicate": ticket.get("duplicate", False),
                    }
                )
            except (ValidationFailed, Forbidden, Conflict) as exc:
                results.append({"row": index, "ok": False, "error": exc.message, "fields": exc.fields})
        return results

    def _register(self, cmd, principal):
        now = utcnow()
        request = domain.admit(cmd, principal, now)
        reg = domain.register(request, self.geocoder.parse(request["address"]), principal, now, self.policies)
        # a customer's request is written into the center its address belongs to
        writer = principal.acting_for(reg.placement.tenant_id) if principal.role == tenancy.CUSTOMER else principal
        with self.db.uow(writer) as uow:
            ticket, duplicate = ops.register(uow, reg, principal, self._escalation_chains())
            if duplicate:
                return dict(self._dump(ticket), duplicate=True)
            archive_store.link(uow, ticket, reg.warranty.expires_on, cmd)  # 客户档案, 产品档案
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict(
                    "a ticket with this reference exists already", {"external_ref": ["duplicate for this channel"]}
                ) from None
            return self._dump(ticket)

    @rpc
    def preview_ticket(self, query=None):
        """What registering the request as typed so far would decide (outlook.preview): the
        address placed by the geocoder registration uses, center, tier, warranty, deadlines."""
        q = load(PreviewQuery(), query or {})
        principal = self.db.principal
        if principal.role not in domain.REGISTRARS:
            raise Forbidden(f"role {principal.role} cannot register tickets")
        geo = self.geocoder.parse(q["address"]) if q["address"] else None
        return _preview_out.dump(outlook.preview(q, geo, principal, utcnow(), self.policies))

    # ------------------------------------------------------------ reading
    @rpc
    def allowed_steps(self, ticket_id):
        """The workflow steps the caller may take now from the ticket's status and case state."""
        with self.db.uow() as uow:
            ticket = self._load(uow, ticket_id)
            principal = self.db.principal
            steps = outlook.allowed_steps(ticket, principal.role, principal.user)
            return _steps_out.dump(
                {
                    "ticket_id": ticket.id,
                    "status": ticket.status,
                    "case_state": ticket.case_state,
                    "version": ticket.version,
                    "steps": steps,
                }
            )

    @rpc
    def get_ticket(self, ticket_id):
        with self.db.uow() as uow:
            ticket = self._load(uow, ticket_id)
            out = self._dump(ticket)
            # SQLite gives naive UTC
            out["audit"] = _audit_out.dump([AwareView(a) for a in queries.audit_trail(uow.session, ticket.id)])
            return out

    @rpc
    def complaint_report_file(self, ticket_id):
        """The complaint handling report (投诉处理报告) archived at the case's `report` step, as a PDF:
        {filename, content_type, data (base64), size}; 404 naming ticket_id before it is made."""
        with self.db.uow() as uow:
            ticket = self._load(uow, ticket_id)
            report = queries.complaint_report(uow.session, ticket.id)
        if report is None:
            raise NotFound("no complaint handling report yet", {"ticket_id": ["the case has not been reported (汇报)"]})
        try:
            data = complaint_report.pdf(report, cjk_font(self.db.worker_ctx.container.config.get(PDF_FONT)))
        except FontMissing as exc:  # the machine lacks a package: say which, and keep the service up
            raise ServiceUnavailable(str(exc), {"ticket_id": [str(exc)]}, retry_after=300) from None
        return {
            "filename": f"complaint-report-{report['number']}.pdf",
            "content_type": "application/pdf",
            "data": base64.b64encode(data).decode("ascii"),
            "size": len(data),
        }

    @rpc
    def list_tickets(self, query=None):
        q = load(ListQuery(), query or {})
        with self.db.uow() as uow:
            rows, total = queries.ticket_page(uow.session, q)
            return {"items": [self._dump(t) for t in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}

    @rpc
    def ledger(self, query=None):
        """The service ledger (服务信息台帐): one row per ticket, as the seed's columns."""
        q = load(ListQuery(), query or {})
        with self.db.uow() as uow:
            return queries.ledger(uow.session, q)

    @rpc
    def ledger_csv(self, query=None):
        query = dict(query or {})
        query.setdefault("limit", 500)
        limit = load(ListQuery(), query)["limit"]  # HTTP gives strings: compare the loaded int
        rows = []
        offset = 0
        while True:
            query["offset"] = offset
            page = self.ledger(query)
            rows.extend(page)
            if len(page) < limit:
                break
            offset += len(page)
        return queries.ledger_csv(rows)

    @rpc
    def sla_summary(self):
        """Per tenant: tickets by SLA tier (open or not) and the earliest open on-site deadlines."""
        with self.db.uow() as uow:
            return queries.sla_summary(uow.session)

    @rpc
    def sla_report(self, query=None):
        """Deadlines met, met late, breached, at risk, open: per center and tier, week by week or
        month by month (sla_report); HQ's across every center, a center's its own."""
        q = load(SlaReportQuery(), query or {})
        now = utcnow()
        since, until = sla_report.window(now, q["period"], q["periods"])
        with self.db.uow() as uow:
            found = queries.sla_facts(uow.session, since, until, q["sla"], now)
        return _sla_report_out.dump(sla_report.report(found, now, q["period"], q["periods"], q["sla"]))

    @rpc
    def triage_queue(self, query=None):
        """HQ's triage queue: the tickets whose center the address did not tell, most urgent first,
        each with why and the centers that may take it (routing.candidates)."""
        q = load(TriageQuery(), query or {})
        if self.db.principal.role != tenancy.HQ:
            raise Forbidden("only HQ routes triage tickets")
        with self.db.uow() as uow:
            rows, total = queries.ticket_page(uow.session, dict(q, status=domain.Status.TRIAGE, order="due"))
            items = [dict(self._dump(t), candidates=self._candidates(t.address)) for t in rows]
        return {"items": items, "total": total, "limit": q["limit"], "offset": q["offset"]}

    # ------------------------------------------------------------ workflow
    @rpc
    def transition(self, ticket_id, payload):
        cmd = load(Transition(), payload)
        with self.db.uow() as uow:
            ticket = self._load(uow, ticket_id)
            ticket = ops.transition(
                uow, ticket, cmd, self.db.principal, utcnow(), self.policies, self.geocoder, self._escalation_chains()
            )
            uow.commit()
            return self._dump(ticket)

    # ------------------------------------------------------------ facts from other services
    # Each fact runs once per message in a unit of work acting for the event's tenant
    # (shared.messaging.consume: claim, commit, retries) and names a ticket of that tenant; its
    # rule is domain's function of the same name.
    @consume("dispatch", "visit.scheduled")
    def on_visit_scheduled(self, uow, payload):
        ops.on_fact(uow, payload, "visit.scheduled", facts.visit_scheduled)

    @consume("dispatch", "visit.released")
    def on_visit_released(self, uow, payload):
        ticket = ops.fact_ticket(uow, payload, "visit.released")
        if ticket is not None:
            scheduled = queries.visit_scheduled_times(uow.session, ticket.id, payload["visit_id"])
            ops.apply(uow, ticket, facts.visit_released(ticket, payload, scheduled), uow.principal)

    @consume("dispatch", "visit.started")
    def on_visit_started(self, uow, payload):
        ops.on_fact(uow, payload, "visit.started", facts.visit_started)

    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        ops.on_fact(uow, payload, "visit.completed", facts.visit_completed)
        ticket = uow.session.get(Ticket, payload["ticket_id"])
        if ticket is not None:
            archive_store.installed(uow, ticket, payload)  # 产品档案: installed when and by whom

    @consume("qa", "callback.negative")
    def on_callback_negative(self, uow, payload):
        ops.on_fact(uow, payload, "callback.negative", facts.callback_negative)

    @consume("qa", "callback.completed")
    def on_callback_completed(self, uow, payload):
        ops.on_fact(uow, payload, "callback.completed", facts.callback_completed)

    @consume("qa", "callback.closed")
    def on_callback_closed(self, uow, payload):
        ticket = ops.fact_ticket(uow, payload, "callback.closed")
        if ticket is not None:
            returned = queries.return_visit_completed(uow.session, ticket.id, payload["callback_id"])
            ops.apply(uow, ticket, facts.callback_closed(ticket, payload, returned), uow.principal)

    @consume("settlement", "settlement.refund_paid")
    def on_refund_paid(self, uow, payload):
        """A return case's refund completes its step (returns_service); a complaint's compensation
        moves the ticket's case (facts.refund_paid)."""
        if not returns_service.refund_paid(uow, payload):
            ops.on_fact(uow, payload, "settlement.refund_paid", facts.refund_paid)

    @consume("parts", "parts.replacement_issued")
    def on_replacement_issued(self, uow, payload):
        """Parts booked an exchange's replacement out: the case is replaced (returns_service)."""
        returns_service.replacement_issued(uow, payload)

    @consume("parts", "parts.replacement_short")
    def on_replacement_short(self, uow, payload):
        """Parts has no good unit for an exchange's replacement yet: the case awaits stock."""
        returns_service.replacement_short(uow, payload)

    # ------------------------------------------------------------ SLA watchdog
    @timer_once("SLA_CHECK_SECONDS", 30)  # one replica marks the breaches (shared.leases)
    def sla_watchdog(self):
        self._check_sla(utcnow())

    @rpc
    def run_sla_check(self, at=None):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE):
            raise Forbidden("only HQ runs the SLA check by hand")
        return self._check_sla(datetime.fromisoformat(at) if at else utcnow())

    def refresh_gauges(self):
        """Read when /metrics is scraped (shared.metrics.refresh): open breaches per tenant."""
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = queries.open_breaches(uow.session)
        for tenant in set(self.policies.directory.centers) | set(counts):
            BREACHED_OPEN.labels(self.name, tenant).set(counts.get(tenant, 0))

    def _check_sla(self, now):
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            breached = ops.mark_breaches(uow, now)
            re_escalated = ops.re_escalate(uow, now, self._escalation_chains())
            at_risk = ops.mark_at_risk(uow, now, self._at_risk_share())
            uow.commit()
        return {"breached": breached, "re_escalated": re_escalated, "at_risk": at_risk}

    # ------------------------------------------------------------ helpers
    def _escalation_chains(self):
        """COMPLAINT_ESCALATION (README): each tenant's named managers for major issues, read by the
        one parser notify also uses (shared.escalation)."""
        return escalation.EscalationChains.parse(self.db.worker_ctx.container.config.get(escalation.KEY))

    def _at_risk_share(self):
        """SLA_AT_RISK_SHARE (README): the share of a deadline's window after which it warns."""
        return sla_watch.parse_share(self.db.worker_ctx.container.config.get("SLA_AT_RISK_SHARE"))

    def _candidates(self, address):
        found = routing.candidates(self.policies.directory, self.geocoder.parse(address))
        return [{"tenant_id": center, "province": province} for center, province in found]

    @staticmethod
    def _load(uow, ticket_id):
        return get_or_404(uow.session, Ticket, ticket_id, "ticket_id")

    @staticmethod
    def _dump(ticket):
        out = _ticket_out.dump(AwareView(ticket, nested=("deadlines",)))
        now, still_open = utcnow(), ticket.status in domain.OPEN_STATUSES
        for deadline, dumped in zip(ticket.deadlines, out["deadlines"], strict=True):
            dumped["state"] = outlook.deadline_state(deadline, ticket.received_at, still_open, now)
        return out
