"""Parts (配件): warehouses and outlet stock as a ledger of movements, reservations for scheduled
visits, issue to outlets (备件发放), consumption at check-out, old-part returns to the factory
(旧件返厂) with RMAs, receipts from scanners and the factory returns desk (plain AMQP), and the
monthly reconciliation (对账).

Entrypoints stay thin: load with a schema, call `operations` (writes) or `queries` (reads),
commit the unit of work, count. Reads act as the caller (the session scopes them); writes are
authorised by `domain.check_*` and then act for the service, because one movement touches two
locations the caller may not both see.
"""

from __future__ import annotations

import base64
import logging

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge

from services.parts import domain, ledger, machines, queries, receipts, reconcile, replacements
from services.parts import operations as ops
from services.parts.models import Base, Movement
from services.parts.schemas import (
    AdjustmentIn,
    CancelReplacement,
    CatalogueQuery,
    HandReceipt,
    IssueParts,
    MovementQuery,
    OverdueCheck,
    ReceiptMessage,
    ReconcileIn,
    ReconciliationQuery,
    RejectedQuery,
    ReplacementOut,
    RequestParts,
    ReservationQuery,
    ResolveRejected,
    RmaQuery,
    ScanQuery,
    ScrapIn,
    ShipRma,
    StockQuery,
    StockReceiptIn,
    TransferIn,
)
from shared import metrics, tenancy, web
from shared.db import AwareView, Database, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import ValidationFailed
from shared.leases import timer_once
from shared.messaging import CALLER_ALL, consume, consume_validated, unit_of_work
from shared.rpc import rpc
from shared.tenants import TenantDirectory
from shared.validation import load

log = logging.getLogger(__name__)

RECEIPT_EXCHANGE = "fsm.parts"
RECEIPT_ROUTING_KEY = "parts.receipt"
RECEIPT_QUEUE = "parts.receipts"

MOVEMENTS = Counter(
    "fsm_parts_movement_legs_total", "Stock movement legs booked", ["service", "kind"], registry=metrics.REGISTRY
)
RETURNS = Counter(
    "fsm_parts_returns_total",
    "RMA steps (created, overdue, received, rejected receipts)",
    ["service", "tenant", "step"],
    registry=metrics.REGISTRY,
)
RETURNS_OPEN = Gauge(
    "fsm_parts_returns_open",
    "Old parts (RMA) removed at the customer's and not yet received back at the warehouse",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)
RETURNS_OVERDUE = Gauge(
    "fsm_parts_returns_overdue",
    "Open returns (RMA) past their due date",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)
RESERVATIONS = Counter(
    "fsm_parts_reservations_total",
    "Reservation lines by outcome",
    ["service", "tenant", "outcome"],
    registry=metrics.REGISTRY,
)


class PartsDatabase(Database):
    """The service's database, seeded at start-up (catalogue, locations, opening stock)."""

    def setup(self):
        super().setup()
        config = self.container.config
        self.catalogue = domain.Catalogue.load(config.get("PARTS_CATALOGUE_FILE") or None)
        from services.parts import seed

        seed.seed_reference(self.store, self.catalogue, TenantDirectory.from_config(config))
        if str(config.get("PARTS_SEED_STOCK", True)).lower() not in ("0", "false", "no"):
            seed.seed_opening_stock(self.store, self.catalogue)


class CatalogueProvider(DependencyProvider):
    def setup(self):
        self.catalogue = domain.Catalogue.load(self.container.config.get("PARTS_CATALOGUE_FILE") or None)

    def get_dependency(self, worker_ctx):
        return self.catalogue


def _scanner(caller, msg):
    """Receipts are booked as the scanner (whoever published them)."""
    return tenancy.service_principal("parts-scanner")


class PartsService(web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "parts"

    db = PartsDatabase(Base.metadata, migrations_package="services.parts.migrations")
    catalogue = CatalogueProvider()
    policies = PolicyProvider()

    # ------------------------------------------------------------ helpers
    def _cfg(self, key, default):
        value = self.db.worker_ctx.container.config.get(key)
        return default if value in (None, "") else value

    def _due_days(self):
        return int(self._cfg("PARTS_RMA_DUE_DAYS", domain.DEFAULT_RMA_DUE_DAYS))

    def _writer(self, principal):
        """Acts for the service after the caller was authorised (a movement spans two locations)."""
        return principal.acting_for(None)

    @staticmethod
    def _count_legs(session):
        for obj in session.new:
            if isinstance(obj, Movement):
                MOVEMENTS.labels("parts", obj.kind).inc()

    def _commit(self, uow):
        self._count_legs(uow.session)
        uow.commit()

    @staticmethod
    def _count_reservations(reservations, outcome=None):
        for r in reservations:
            RESERVATIONS.labels("parts", r.tenant_id, outcome or r.status).inc()

    # ------------------------------------------------------------ catalogue and locations
    @rpc
    def catalogue_parts(self, query=None):
        return queries.catalogue_parts(self.catalogue, load(CatalogueQuery(), query or {}))

    @rpc
    def locations(self):
        principal = self.db.principal
        with self.db.uow() as uow:
            return queries.visible_locations(uow.session, principal)

    # ------------------------------------------------------------ stock
    @rpc
    def stock(self, query=None):
        q = load(StockQuery(), query or {})
        with self.db.uow() as uow:
            return queries.stock(uow.session, q)

    @rpc
    def movements(self, query=None):
        q = load(MovementQuery(), query or {})
        with self.db.uow() as uow:
            return queries.movements(uow.session, q)

    @rpc
    def recompute_balances(self, location_id=None):
        """Balances recomputed from movements next to the stored ones (they must agree)."""
        principal = self.db.principal
        with self.db.uow() as uow:
            return queries.balance_check(uow.session, principal, location_id)

    @rpc
    def receive_stock(self, payload):
        data = load(StockReceiptIn(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            now = utcnow()
            booked = ops.receive_stock(uow, principal, data, now)
            replacements.stock_arrived(uow, booked["location_id"], booked["part_no"], now, principal.user)
            self._commit(uow)
            return dict(booked, on_hand=ledger.balance(uow.session, booked["location_id"], booked["part_no"])[0])

    @rpc
    def adjust(self, payload):
        """A stock count correction (盘点调整): any sign, always with a reason; never below zero."""
        data = load(AdjustmentIn(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            now = utcnow()
            booked = ops.adjust(uow, principal, data, now)
            replacements.stock_arrived(uow, booked["location_id"], booked["part_no"], now, principal.user)
            self._commit(uow)
            on_hand, reserved = ledger.balance(uow.session, booked["location_id"], booked["part_no"], data["condition"])
            return dict(booked, on_hand=on_hand, reserved=reserved)

    @rpc
    def transfer(self, payload):
        data = load(TransferIn(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            now = utcnow()
            movement_no = ops.transfer(uow, principal, data, now)
            replacements.stock_arrived(uow, data["to_location_id"], data["part_no"], now, principal.user)
            self._commit(uow)
            return {"movement_no": movement_no}

    @rpc
    def scrap(self, payload):
        data = load(ScrapIn(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            movement_no = ops.scrap(uow, principal, data, utcnow())
            self._commit(uow)
            return {"movement_no": movement_no}

    # ------------------------------------------------------------ reservations and issue
    @rpc
    def request_parts(self, payload):
        data = load(RequestParts(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            made = ops.request_parts(uow, principal, data, utcnow())
            self._commit(uow)
            self._count_reservations(made)
            return [queries.reservation_out(r) for r in made]

    @rpc
    def reservations(self, query=None):
        q = load(ReservationQuery(), query or {})
        with self.db.uow() as uow:
            return queries.reservations(uow.session, q)

    @rpc
    def release_reservation(self, reservation_id):
        principal = self.db.principal
        with self.db.uow() as uow:  # the caller must see it
            res = queries.reservation(uow.session, reservation_id)
            domain.check_request(principal, ops.location(uow.session, res.outlet_id))
        with self.db.uow(self._writer(principal)) as uow:
            res = queries.reservation(uow.session, reservation_id)
            ops.release_reservation(uow.session, res)
            self._commit(uow)
            return queries.reservation_out(res)

    @rpc
    def issue(self, payload):
        """备件发放: from a warehouse to an outlet, reserved lines or direct, with serials."""
        data = load(IssueParts(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            result = ops.issue_order(uow, principal, data, utcnow())
            self._commit(uow)
            return dict(result, issued_at=queries.iso(result["issued_at"]))

    # ------------------------------------------------------------ returns (RMA)
    @rpc
    def rmas(self, query=None):
        q = load(RmaQuery(), query or {})
        with self.db.uow() as uow:
            return queries.rmas(uow.session, q, utcnow())

    @rpc
    def get_rma(self, rma_no):
        with self.db.uow() as uow:
            return queries.rma(uow.session, rma_no, utcnow())

    @rpc
    def ship_rma(self, rma_no, payload):
        """寄回: the outlet sends an old part back under a waybill (the warehouse's scan receives it)."""
        data = load(ShipRma(), payload)
        principal = self.db.principal
        with self.db.uow() as uow:  # the caller must see it: another outlet's return is not found
            queries.rma_row(uow.session, rma_no)
        with self.db.uow(self._writer(principal)) as uow:
            rma = queries.rma_row(uow.session, rma_no)
            domain.check_ship(principal, ops.location(uow.session, rma.outlet_id), rma.status, bool(rma.shipped_at))
            now = utcnow()
            rma.shipped_at, rma.shipped_by = now, principal.user
            rma.waybill_no, rma.carrier = data["waybill_no"], data["carrier"]
            uow.commit()
            RETURNS.labels(self.name, rma.tenant_id, "shipped").inc()
            return queries.rma_out(rma, now)

    @rpc
    def rma_ageing(self):
        """Open returns per outlet by age bucket (账龄): what is still out there, and for how long."""
        with self.db.uow() as uow:
            return queries.rma_ageing(uow.session, utcnow())

    @timer_once("PARTS_OVERDUE_CHECK_SECONDS", 60)  # on one replica at a time (shared.leases)
    def overdue_watch(self):
        self._check_overdue(utcnow())

    @rpc
    def run_overdue_check(self, payload=None):
        domain.check_overdue_runner(self.db.principal)
        data = load(OverdueCheck(), payload or {})
        return self._check_overdue(data["at"] or utcnow())

    def refresh_gauges(self):
        """Read when /metrics is scraped (shared.metrics.refresh): open and overdue returns."""
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = queries.open_returns_by_tenant(uow.session, utcnow())
        for tenant in set(self.policies.directory.centers) | set(counts):
            still_open, overdue = counts.get(tenant, (0, 0))
            RETURNS_OPEN.labels(self.name, tenant).set(still_open)
            RETURNS_OVERDUE.labels(self.name, tenant).set(overdue)

    def _check_overdue(self, now):
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            flagged = ops.flag_overdue_returns(uow, now)
            uow.commit()
        for rma in flagged:
            RETURNS.labels("parts", rma.tenant_id, "overdue").inc()
        return {"overdue": len(flagged)}

    # ------------------------------------------------------------ receipts (plain AMQP)
    @consume_validated(RECEIPT_EXCHANGE, RECEIPT_ROUTING_KEY, RECEIPT_QUEUE, ReceiptMessage)
    @unit_of_work(label=RECEIPT_QUEUE, scope=_scanner)
    def receipt(self, uow, msg):
        """A scan from a warehouse scanner or the factory returns desk (services/parts/client.py).
        The scan id makes it idempotent (no message-id claim); the same scan delivered twice at once
        fails one commit on the scan's key, and its retry finds the scan applied (a duplicate)."""
        result = receipts.apply_receipt(uow, msg, utcnow())
        self._commit(uow)
        outcome = result["outcome"]
        if outcome == "duplicate":
            log.info("duplicate scan %s", msg["scan_id"])
        else:
            step = result.get("stage") if outcome == "accepted" else outcome
            RETURNS.labels("parts", "-", f"scan_{step}").inc()
        if outcome == "rejected":
            log.warning("receipt %s rejected: %s", msg["scan_id"], result["reason"])
        return result

    @rpc
    def book_receipt(self, payload):
        """A scan typed in at the desk (手工签收): booked as the scanner's message is, by a keeper of
        the location; what the scanner's would leave rejected is refused here, naming the field."""
        data = load(HandReceipt(), payload)
        principal = self.db.principal
        with self.db.uow() as uow:  # the caller must see the return it books
            receipts.check_visible_rma(uow.session, data)
        with self.db.uow(self._writer(principal)) as uow:
            result = receipts.book_by_hand(uow, principal, data, utcnow())
            self._commit(uow)
        if result["outcome"] == "accepted":
            RETURNS.labels("parts", "-", f"scan_{result['stage']}").inc()
        with self.db.uow() as uow:  # read back as the caller: a scan id of another's is not found
            return queries.scan_status(uow.session, result["scan_id"])

    @rpc
    def scans(self, query=None):
        q = load(ScanQuery(), query or {})
        with self.db.uow() as uow:
            return queries.scans(uow.session, q)

    @rpc
    def scan_status(self, scan_id):
        with self.db.uow() as uow:
            return queries.scan_status(uow.session, scan_id)

    @rpc
    def rejected_receipts(self, query=None):
        q = load(RejectedQuery(), query or {})
        with self.db.uow() as uow:
            return queries.rejected_receipts(uow.session, q)

    @rpc
    def resolve_rejected(self, scan_id, payload):
        data = load(ResolveRejected(), payload)
        principal = self.db.principal
        domain.check_resolver(principal)
        with self.db.uow() as uow:
            row = receipts.resolve_rejected(uow.session, scan_id, principal.user, data["resolution"], utcnow())
            uow.commit()
            return {"scan_id": row.scan_id, "resolved_at": queries.iso(row.resolved_at), "resolution": row.resolution}

    # ------------------------------------------------------------ reconciliation (对账)
    @rpc
    def reconcile(self, payload):
        data = load(ReconcileIn(), payload)
        principal = self.db.principal
        domain.check_reconcile(principal)
        with self.db.uow() as uow:
            visible = queries.location_specs(uow.session, principal)
        chosen = domain.locations_to_reconcile(visible, data["location_id"], data["tenant_id"])
        with self.db.uow(self._writer(principal)) as uow:
            reports = reconcile.reconcile_and_store(uow, data["month"], chosen, utcnow())
            uow.commit()
        return domain.reconciliation_summary(data["month"], reports)

    @rpc
    def reconciliations(self, query=None):
        q = load(ReconciliationQuery(), query or {})
        with self.db.uow() as uow:
            return queries.reconciliations(uow.session, q)

    @rpc
    def reconciliation_export(self, query=None, fmt="csv"):
        """The stored reconciliations as CSV (text) or XLSX (base64): a summary row per location and
        one row per discrepancy."""
        q = load(ReconciliationQuery(), query or {})  # the caller's query, checked; an export is not paged
        if fmt not in ("csv", "xlsx"):
            raise ValidationFailed("unknown export format", {"format": ["csv or xlsx"]})
        with self.db.uow() as uow:
            rows = queries.all_reconciliations(uow.session, q)
        summary, details = queries.export_rows(rows)
        if fmt == "csv":
            return queries.export_csv(summary, details)
        return base64.b64encode(queries.export_xlsx(summary, details)).decode("ascii")

    # ------------------------------------------------------------ clearing an outlet (revocation)
    @rpc
    def outlet_balance(self, outlet_id):
        principal = self.db.principal
        with self.db.uow() as uow:
            queries.visible_outlet(uow.session, principal, outlet_id)
        with self.db.uow(self._writer(principal)) as uow:
            items = queries.outlet_open_items(uow.session, outlet_id)
        return {
            "outlet_id": outlet_id,
            "open_items": [dict(i, amount=queries.amount_text(i["amount"])) for i in items],
            "clear": not items,
        }

    # Facts from other services run once per message in a unit of work acting for the service over
    # every tenant (a reservation spans a warehouse and an outlet), see shared.messaging.consume.
    # Handlers that count what they did commit first (`_commit`), so a retry does not count twice.
    @consume("certification", "account.clearing_requested", scope=CALLER_ALL)
    def on_clearing_requested(self, uow, payload):
        items = queries.outlet_open_items(uow.session, payload["outlet_id"])
        uow.emit(
            "parts.outlet_balance",
            {
                "tenant_id": payload["tenant_id"],
                "outlet_id": payload["outlet_id"],
                "request_id": payload["request_id"],
                "open_items": items,
                "at": utcnow(),
            },
        )

    # ------------------------------------------------------------ facts from intake and dispatch
    @consume("intake", "ticket.registered", scope=CALLER_ALL)
    def on_ticket_registered(self, uow, payload):
        made = ops.record_ticket(uow, self.catalogue, payload, utcnow())
        self._commit(uow)
        self._count_reservations(made)

    @consume("dispatch", "visit.scheduled", scope=CALLER_ALL)
    def on_visit_scheduled(self, uow, payload):
        made = ops.visit_scheduled(uow, self.catalogue, payload, utcnow())
        self._commit(uow)
        self._count_reservations(made)

    @consume("dispatch", "visit.unassignable", scope=CALLER_ALL)
    def on_visit_unassignable(self, uow, payload):
        ops.visit_unassignable(uow.session, payload)

    @consume("dispatch", "visit.released", scope=CALLER_ALL)
    def on_visit_released(self, uow, payload):
        """Dispatch took a planned visit back from its outlet: what is only reserved for it there
        goes back to the warehouse (see `operations.visit_released`)."""
        released = ops.visit_released(uow.session, payload)
        uow.commit()
        self._count_reservations(released, "released")

    @consume("intake", "return.machine_returned")
    def on_machine_returned(self, uow, payload):
        """A returned or exchanged machine back in the center's warehouse (退换机): booked once."""
        machines.machine_returned(uow.session, payload)

    @consume("intake", "return.replacement_requested")
    def on_replacement_requested(self, uow, payload):
        """An exchange's replacement asked: booked out at once, or waiting for a good unit
        (parts.replacement_issued / parts.replacement_short; replacements.py). Never refused."""
        replacements.requested(uow, payload, utcnow())
        self._commit(uow)

    @rpc
    def cancel_replacement(self, case_id, payload):
        """Intake cancels an exchange's replacement awaiting stock: no receipt issues it from then on;
        409 when it was issued already (replacements.cancel, serialised with the receipts)."""
        data = load(CancelReplacement(), payload or {})
        principal = self.db.principal
        with self.db.uow() as uow:
            request = replacements.cancel(uow, principal, case_id, data["reason"], utcnow())
            self._commit(uow)
            return ReplacementOut().dump(AwareView(request))

    @consume("intake", "return.replacement_issued")
    def on_replacement_issued(self, uow, payload):
        """The superseded name of the request (one still queued or replayed from the dead letters):
        taken as a request; a case already replaced by it stays so in intake."""
        replacements.requested(uow, payload, utcnow())
        self._commit(uow)

    @consume("dispatch", "visit.completed", scope=CALLER_ALL)
    def on_visit_completed(self, uow, payload):
        rmas = ops.consume_visit(uow, payload, self._due_days(), self.policies.clock.calendar)
        self._commit(uow)
        for rma in rmas:
            RETURNS.labels("parts", rma.tenant_id, "created").inc()
