"""Settlement: outlets' fee claims priced from the tariff, audited by named rules and three
levels (center → technical lead → HQ), holds and deductions from parts, QA and SLA facts,
monthly statements with XLSX/PDF downloads, payments, balances and account clearing.

Entrypoints stay thin: load with a schema, authorise, call `operations` or `statements` (writes,
with the rules of `domain`) or `queries` (reads), commit the unit of work, return the answer.
"""

from __future__ import annotations

import base64
from datetime import UTC

from nameko.extensions import DependencyProvider
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.settlement import documents, domain, facts, queries, statements
from services.settlement import operations as ops
from services.settlement.models import Base, Claim, Statement, TariffVersionRow, VisitFact
from services.settlement.refunds_service import RefundEntrypoints
from services.settlement.schemas import (
    AuditIn,
    BalanceQuery,
    ClaimQuery,
    IssueAll,
    IssueStatement,
    PaymentIn,
    Receipt,
    StatementQuery,
    SubmitClaim,
    TariffQuery,
)
from services.settlement.statement_sheet import statement_sheet
from services.settlement.tariff import TariffBook, TariffError, parse_version
from shared import tenancy, web
from shared.db import Database, get_or_404, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed
from shared.fonts import CONFIG_KEY as PDF_FONT
from shared.fonts import FontMissing, cjk_font
from shared.messaging import ALL, consume
from shared.rpc import rpc
from shared.validation import load

CLAIMANTS = (tenancy.OUTLET, tenancy.CENTER, tenancy.HQ)
STATEMENT_ISSUERS = (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE)
FILE_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


class Tariffs(DependencyProvider):
    """The tariff book of this process, loaded from the database (seeded from the YAML default
    the first time) and reloaded when the stored versions change."""

    def setup(self):
        self.book = None
        self.stamp = None
        self.document = TariffBook.load()

    def start(self):
        """Seed the default tariff once, before any worker runs (a replica starting at the
        same moment may have done it: then there is nothing to do)."""
        store = next(dep.store for dep in self.container.dependencies if isinstance(dep, Database))
        with store.session(tenancy.service_principal("settlement")) as session:
            if session.scalar(select(func.count(TariffVersionRow.id))):
                return
            for v in self.document.versions:
                session.add(
                    TariffVersionRow(
                        id=v.id,
                        tenant_id=v.tenant,
                        valid_from=v.valid_from,
                        valid_to=v.valid_to,
                        body=v.body,
                        created_at=utcnow(),
                        created_by="seed",
                    )
                )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

    def get_dependency(self, worker_ctx):
        return self

    def current(self, session) -> TariffBook:
        stamp = tuple(
            session.execute(select(func.count(TariffVersionRow.id), func.max(TariffVersionRow.created_at))).one()
        )
        if self.book is None or stamp != self.stamp:
            rows = session.scalars(select(TariffVersionRow).order_by(TariffVersionRow.valid_from)).all()
            versions = [
                parse_version(
                    {"id": r.id, "tenant": r.tenant_id, "valid_from": r.valid_from, "valid_to": r.valid_to, **r.body}
                )
                for r in rows
            ]
            self.book = TariffBook(versions, self.document.fault_classes, self.document.kinds)
            self.stamp = stamp
        return self.book


# not imported by name: `nameko run` would take it for a service; the refunds' entrypoints are a mixin
class SettlementService(web.ServiceBase, RefundEntrypoints):
    name = "settlement"

    db = Database(Base.metadata, migrations_package="services.settlement.migrations")
    policies = PolicyProvider()
    tariffs = Tariffs()

    @property
    def pricing(self) -> ops.Pricing:
        return ops.Pricing(self.tariffs, self.policies.directory)

    # ================================================================ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant (see
    # shared.messaging.consume: claim, commit and retries of transient errors are done there).
    # Every instant of an event is stored in UTC first (`operations.utc_instants`).
    @consume("intake", "ticket.registered", scope=ALL)
    def on_ticket_registered(self, uow, payload):
        # all tenants: HQ may route a ticket to another center, and its facts move with it
        facts.record_ticket(uow, self.pricing, payload)

    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        facts.record_visit(uow, self.pricing, payload)

    @consume("parts", "parts.return_overdue")
    def on_part_overdue(self, uow, payload):
        facts.part_overdue(uow, payload)

    @consume("parts", "parts.return_received")
    def on_part_received(self, uow, payload):
        facts.part_received(uow, self.pricing, payload)

    @consume("qa", "callback.negative")
    def on_callback_negative(self, uow, payload):
        facts.callback_negative(uow, payload)

    @consume("qa", "callback.closed")
    def on_callback_closed(self, uow, payload):
        facts.callback_closed(uow, payload)

    @consume("intake", "sla.breached")
    def on_sla_breached(self, uow, payload):
        facts.sla_breached(uow, self.pricing, payload)

    @consume("certification", "outlet.grade_changed")
    def on_grade_changed(self, uow, payload):
        facts.grade_changed(uow, payload)

    @consume("certification", "account.clearing_requested", consumer="clearing")
    def on_clearing_requested(self, uow, payload):
        facts.clearing_fact(uow, payload, requested=True, now=utcnow())

    @consume("parts", "parts.outlet_balance")
    def on_parts_balance(self, uow, payload):
        facts.clearing_fact(uow, payload, requested=False, now=utcnow())

    # ================================================================ claims
    @rpc
    def submit_claim(self, payload):
        """An outlet claims its fees for a completed visit (or amends the claim filed for it)."""
        cmd = load(SubmitClaim(), payload)
        principal = self.db.principal
        if principal.role not in CLAIMANTS:
            raise Forbidden(f"role {principal.role} cannot submit claims")
        with self.db.uow() as uow:  # the caller's own view: another outlet's visit is not found
            tenant = get_or_404(uow.session, VisitFact, cmd["visit_id"], "visit_id").tenant_id
        with self.db.uow(principal.acting_for(tenant)) as uow:
            claim = ops.submit_claim(uow, self.pricing, cmd["visit_id"], cmd)
            uow.commit()
            return queries.claim_out(uow.session, claim, detail=True)

    @rpc
    def record_receipt(self, claim_id, payload):
        """The customer's receipt for a self-paid job (自费收据): the outlet's share is computed."""
        cmd = load(Receipt(), payload)
        principal = self.db.principal
        if principal.role not in CLAIMANTS:
            raise Forbidden(f"role {principal.role} cannot record receipts")
        with self.db.uow() as uow:
            claim = get_or_404(uow.session, Claim, claim_id, "claim_id")
            ops.record_receipt(uow, self.pricing, claim, cmd)
            uow.commit()
            return queries.claim_out(uow.session, claim, detail=True)

    @rpc
    def audit_claim(self, claim_id, payload):
        """One audit level decides: approve, adjust (amount and reason) or reject (reason)."""
        cmd = load(AuditIn(), payload)
        principal = self.db.principal
        ops.check_auditor(principal, cmd["level"])
        with self.db.uow() as uow:
            claim = get_or_404(uow.session, Claim, claim_id, "claim_id")
            ops.check_version(claim, cmd["expected_version"])
            prior = tuple(a.user for a in self._audits(uow, claim))
            ops.decide(uow, claim, cmd, principal, prior, utcnow())
            uow.commit()
            return queries.claim_out(uow.session, claim, detail=True)

    @staticmethod
    def _audits(uow, claim):
        """The claim's audit steps so far (who decided at which level)."""
        return queries.claim_audits(uow.session, claim)

    @rpc
    def get_claim(self, claim_id):
        with self.db.uow() as uow:
            return queries.claim_out(uow.session, get_or_404(uow.session, Claim, claim_id, "claim_id"), detail=True)

    @rpc
    def claim_for_visit(self, visit_id):
        with self.db.uow() as uow:
            claim = queries.live_claim(uow.session, visit_id)
            if claim is None:
                raise NotFound(f"no claim for visit {visit_id}")
            return queries.claim_out(uow.session, claim, detail=True)

    @rpc
    def list_claims(self, query=None):
        q = load(ClaimQuery(), query or {})
        with self.db.uow() as uow:
            return queries.claims(uow.session, q)

    # ================================================================ tariffs
    @rpc
    def tariff_in_force(self, query=None):
        q = load(TariffQuery(), query or {})
        principal = self.db.principal
        tenant = q["tenant_id"] or principal.tenant
        if tenant and not principal.sees_tenant(tenant):
            raise NotFound(f"tenant {tenant} not found")
        day = q["on"] or utcnow().astimezone(domain.LOCAL_TZ).date()
        with self.db.uow() as uow:
            tariff = self.pricing.tariff(uow.session, tenant, day)
        return {
            "tenant_id": tenant,
            "on": day.isoformat(),
            "versions": list(tariff.versions),
            "values": tariff.values,
            "sources": tariff.sources,
        }

    @rpc
    def publish_tariff(self, payload):
        """HQ adds a tariff version (HQ default or a tenant's override) for a validity period."""
        principal = self.db.principal
        if principal.role != tenancy.HQ:
            raise Forbidden("only HQ publishes tariffs")
        if not isinstance(payload, dict):
            raise ValidationFailed("tariff must be an object", {"_schema": ["must be a JSON object"]})
        try:
            version = parse_version(payload)
        except TariffError as exc:
            raise ValidationFailed(exc.message, exc.fields) from None
        if version.tenant and version.tenant not in self.policies.directory.centers:
            raise ValidationFailed("unknown tenant", {"tenant": [f"no center {version.tenant!r}"]})
        with self.db.uow() as uow:
            ops.publish_tariff(uow, self.tariffs, version, principal.user, utcnow())
            uow.commit()
        return {
            "id": version.id,
            "tenant": version.tenant,
            "valid_from": version.valid_from.isoformat(),
            "valid_to": version.valid_to and version.valid_to.isoformat(),
        }

    # ================================================================ statements (月结算单), payments, accounts
    @rpc
    def issue_statement(self, payload):
        cmd = load(IssueStatement(), payload)
        principal = self._statement_issuer()
        outlet = self.policies.directory.outlets.get(cmd["outlet_id"])
        if outlet is None or not principal.sees_tenant(outlet.center):
            raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {cmd['outlet_id']!r}"]})
        self._check_month(cmd["month"])
        issued = Conflict("the statement of this month is issued already", {"month": ["issued already"]})
        with self.db.uow(principal) as uow:
            if queries.statement_of(uow.session, outlet.id, cmd["month"]):
                raise issued
            try:
                st = statements.issue(
                    uow, self.pricing, outlet, cmd["month"], principal.user, allow_empty=True, now=utcnow()
                )
                uow.commit()
            except IntegrityError:  # issued at the same moment by someone else
                raise issued from None
            return queries.statement_out(uow.session, st)

    @rpc
    def issue_statements(self, payload):
        """Every outlet of the tenant (HQ: every tenant, or the one named) with something to settle."""
        cmd = load(IssueAll(), payload)
        principal = self._statement_issuer()
        self._check_month(cmd["month"])
        tenants = (
            [cmd["tenant_id"]]
            if cmd["tenant_id"]
            else ([principal.tenant] if principal.tenant else list(self.policies.directory.centers))
        )
        issued = []
        for tenant in tenants:
            if not principal.sees_tenant(tenant):
                raise ValidationFailed("unknown tenant", {"tenant_id": [f"no tenant {tenant!r}"]})
            for outlet in self.policies.directory.outlets_of(tenant):
                with self.db.uow(principal) as uow:
                    if queries.statement_of(uow.session, outlet.id, cmd["month"]):
                        continue
                    st = statements.issue(
                        uow, self.pricing, outlet, cmd["month"], principal.user, allow_empty=False, now=utcnow()
                    )
                    if st is None:
                        continue
                    uow.commit()
                    issued.append(
                        {
                            "statement_id": st.id,
                            "outlet_id": st.outlet_id,
                            "total": queries.yuan_text(st.total_fen),
                            "lines": queries.statement_lines_count(uow.session, st.id),
                        }
                    )
        return {"month": cmd["month"], "issued": issued}

    def _statement_issuer(self):
        principal = self.db.principal
        if principal.role not in STATEMENT_ISSUERS:
            raise Forbidden(f"role {principal.role} cannot issue statements")
        return principal

    @staticmethod
    def _check_month(month):
        now_month = domain.local_month(utcnow())
        if month > now_month:
            raise ValidationFailed("the month has not begun", {"month": [f"must not be after {now_month}"]})

    @rpc
    def list_statements(self, query=None):
        q = load(StatementQuery(), query or {})
        with self.db.uow() as uow:
            return queries.statements(uow.session, q)

    @rpc
    def get_statement(self, statement_id):
        with self.db.uow() as uow:
            return queries.statement_out(uow.session, get_or_404(uow.session, Statement, statement_id, "statement_id"))

    @rpc
    def statement_file(self, statement_id, fmt):
        """The statement as XLSX or PDF: {filename, content_type, data (base64)}. The outlet's name
        and bank account come from the directory, the PDF's font from config PDF_FONT."""
        if fmt not in FILE_TYPES:
            raise ValidationFailed("unknown format", {"format": ["xlsx or pdf"]})
        with self.db.uow() as uow:
            st = queries.statement_out(uow.session, get_or_404(uow.session, Statement, statement_id, "statement_id"))
            versions = {v.id: v.body for v in self.tariffs.current(uow.session).versions}
        directory = self.policies.directory
        center = directory.centers.get(st["tenant_id"])
        sheet = statement_sheet(st, directory.outlets.get(st["outlet_id"]), center and center.name, versions)
        try:
            config = self.db.worker_ctx.container.config
            data = documents.xlsx(sheet) if fmt == "xlsx" else documents.pdf(sheet, cjk_font(config.get(PDF_FONT)))
        except FontMissing as exc:  # the machine lacks a package: say which, and keep the service up
            raise ServiceUnavailable(str(exc), {"format": [str(exc)]}, retry_after=300) from None
        return {
            "filename": f"statement-{st['outlet_id']}-{st['month']}.{fmt}",
            "content_type": FILE_TYPES[fmt],
            "data": base64.b64encode(data).decode("ascii"),
            "size": len(data),
        }

    @rpc
    def record_payment(self, statement_id, payload):
        cmd = load(PaymentIn(), payload)
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER):
            raise Forbidden(f"role {principal.role} cannot record payments")
        with self.db.uow() as uow:
            st = get_or_404(uow.session, Statement, statement_id, "statement_id")
            statements.record_payment(uow, st, cmd, principal.user, utcnow())
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict("a payment with this reference exists", {"reference": ["duplicate"]}) from None
            return queries.statement_out(uow.session, st)

    @rpc
    def balance(self, outlet_id, query=None):
        """An outlet's account at a moment: statements issued minus payments, and what is on the way."""
        q = load(BalanceQuery(), query or {})
        principal = self.db.principal
        if principal.role == tenancy.OUTLET and principal.outlet != outlet_id:
            raise NotFound(f"outlet {outlet_id} not found")
        self._visible_outlet(principal, outlet_id)
        at = (q["at"] or utcnow()).astimezone(UTC)
        with self.db.uow() as uow:
            return queries.balance(uow.session, outlet_id, at)

    @rpc
    def open_items(self, outlet_id):
        principal = self.db.principal
        if principal.role not in STATEMENT_ISSUERS:
            raise Forbidden("only the center or HQ see an outlet's open items")
        self._visible_outlet(principal, outlet_id)
        with self.db.uow() as uow:
            return queries.open_items(uow.session, outlet_id)

    def _visible_outlet(self, principal, outlet_id):
        outlet = self.policies.directory.outlets.get(outlet_id)
        if outlet is None or not principal.sees_tenant(outlet.center):
            raise NotFound(f"outlet {outlet_id} not found")
        return outlet

    @rpc
    def clearing(self, request_id):
        with self.db.uow() as uow:
            return queries.clearing(uow.session, request_id)
