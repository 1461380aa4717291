"""Parts (配件): warehouses and outlet stock as a ledger of movements, reservations for scheduled
visits, issue to outlets (备件发放), consumption at check-out, old-part returns to the factory
(旧件返厂) with RMAs, receipts from scanners and the factory returns desk (plain AMQP), and the
monthly reconciliation (对账).

Entrypoints stay thin: load with a schema, authorise, call `operations`, commit the unit of work.
Reads act as the caller (the session scopes them); writes are authorised by `domain.check_*` and
then act for the service, because one movement touches two locations the caller may not both see.
"""
from __future__ import annotations

import base64
import csv
import io
import logging
from decimal import Decimal

from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from sqlalchemy import delete, func, select

from services.parts import domain, operations as ops, reconcile
from services.parts.domain import MovementKind as K, ReservationStatus as RS, RmaStatus
from services.parts.models import (Base, Location, Movement, Part, Reconciliation, RejectedReceipt, Reservation,
                                   Rma, Scan, StockBalance, TicketFact, VisitNeed)
from services.parts.schemas import (AdjustmentIn, CatalogueQuery, IssueParts, MovementQuery, OverdueCheck,
                                    ReceiptMessage, ReconcileIn, ReconciliationQuery, RejectedQuery, RequestParts,
                                    ReservationQuery, ResolveRejected, RmaQuery, ScrapIn, StockQuery, StockReceiptIn,
                                    TransferIn)
from services.parts import ledger
from shared import metrics, tenancy, web
from shared.db import Database, as_utc, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.leases import timer_once
from shared.messaging import CALLER_ALL, consume, consume_validated, unit_of_work
from shared.rpc import rpc
from shared.tenants import TenantDirectory
from shared.validation import load

log = logging.getLogger(__name__)

RECEIPT_EXCHANGE = "fsm.parts"
RECEIPT_ROUTING_KEY = "parts.receipt"
RECEIPT_QUEUE = "parts.receipts"

MOVEMENTS = Counter("fsm_parts_movement_legs_total", "Stock movement legs booked", ["service", "kind"],
                    registry=metrics.REGISTRY)
RETURNS = Counter("fsm_parts_returns_total", "RMA steps (created, overdue, received, rejected receipts)",
                  ["service", "tenant", "step"], registry=metrics.REGISTRY)
RESERVATIONS = Counter("fsm_parts_reservations_total", "Reservation lines by outcome",
                       ["service", "tenant", "outcome"], registry=metrics.REGISTRY)


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


def _iso(value):
    value = as_utc(value)
    return value.isoformat() if value is not None else None


def _money(value):
    return None if value is None else str(value)


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

    # ------------------------------------------------------------ catalogue and locations
    @rpc
    def catalogue_parts(self, query=None):
        q = load(CatalogueQuery(), query or {})
        cat = self.catalogue
        parts = cat.fitting(q["product_line"], q["model"])
        out = {"parts": [self._part_out(p) for p in sorted(parts, key=lambda p: p.part_no)]}
        if q["fault"]:
            out["fault_class"] = cat.fault_class(q["product_line"], q["fault"])
            out["needs"] = [{"part_no": n, "quantity": qty} for n, qty in
                            cat.needs(q["product_line"], q["model"], q["fault"])]
        return out

    @staticmethod
    def _part_out(p):
        return {"part_no": p.part_no, "name": p.name, "product_line": p.product_line, "kind": p.kind,
                "fits": list(p.fits), "returnable": p.returnable, "unit_cost": _money(p.unit_cost)}

    @rpc
    def locations(self):
        principal = self.db.principal
        with self.db.uow() as uow:
            rows = uow.session.scalars(select(Location).order_by(Location.id)).all()
            return [{"id": r.id, "kind": r.kind, "tenant_id": r.tenant_id, "name": r.name, "parent_id": r.parent_id}
                    for r in rows if domain.may_see_location(principal, r)]

    # ------------------------------------------------------------ stock
    @rpc
    def stock(self, query=None):
        q = load(StockQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(StockBalance, Part).join(Part, Part.part_no == StockBalance.part_no)
            for key in ("location_id", "part_no", "condition"):
                if q[key]:
                    stmt = stmt.where(getattr(StockBalance, key) == q[key])
            if q["product_line"]:
                stmt = stmt.where(Part.product_line == q["product_line"])
            if not q["include_zero"]:
                stmt = stmt.where(StockBalance.on_hand > 0)
            total = uow.session.scalar(stmt.with_only_columns(func.count(StockBalance.part_no)))
            rows = uow.session.execute(stmt.order_by(StockBalance.location_id, StockBalance.part_no,
                                                     StockBalance.condition)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            items = [{"location_id": b.location_id, "tenant_id": b.tenant_id, "part_no": b.part_no, "name": p.name,
                      "condition": b.condition, "on_hand": b.on_hand, "reserved": b.reserved,
                      "available": b.on_hand - b.reserved, "unit_cost": _money(p.unit_cost),
                      "value": _money(p.unit_cost * b.on_hand)} for b, p in rows]
            return {"items": items, "total": total, "limit": q["limit"], "offset": q["offset"]}

    @rpc
    def movements(self, query=None):
        q = load(MovementQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(Movement)
            for key in ("location_id", "part_no", "kind"):
                if q[key]:
                    stmt = stmt.where(getattr(Movement, key) == q[key])
            if q["month"]:
                start, end = domain.parse_month(q["month"])
                stmt = stmt.where(Movement.occurred_at >= start, Movement.occurred_at < end)
            total = uow.session.scalar(stmt.with_only_columns(func.count(Movement.id)))
            rows = uow.session.scalars(stmt.order_by(Movement.occurred_at.desc(), Movement.id.desc())
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._movement_out(m) for m in rows], "total": total,
                    "limit": q["limit"], "offset": q["offset"]}

    @staticmethod
    def _movement_out(m):
        return {"movement_no": m.movement_no, "kind": m.kind, "location_id": m.location_id,
                "counterpart_id": m.counterpart_id, "part_no": m.part_no, "condition": m.condition,
                "quantity": m.quantity, "reason": m.reason, "ref": m.ref, "serials": m.serials or [],
                "occurred_at": _iso(m.occurred_at), "user": m.user}

    @rpc
    def recompute_balances(self, location_id=None):
        """Balances recomputed from movements next to the stored ones (they must agree)."""
        principal = self.db.principal
        with self.db.uow() as uow:
            if location_id:
                loc = ops.location(uow.session, location_id)
                if not domain.may_see_location(principal, loc):
                    raise NotFound(f"location {location_id} not found")
            visible = {(b.location_id, b.part_no, b.condition): b.on_hand for b in uow.session.scalars(
                select(StockBalance).where(*([StockBalance.location_id == location_id] if location_id else [])))}
            sums = ledger.recomputed_balances(uow.session, [location_id] if location_id else None)
            keys = set(visible) | {k for k in sums if not location_id or k[0] == location_id}
            keys = {k for k in keys if k in visible}  # only what the caller may see
            rows = [{"location_id": k[0], "part_no": k[1], "condition": k[2], "balance": visible.get(k, 0),
                     "from_movements": sums.get(k, 0)} for k in sorted(keys)]
            return {"rows": rows, "mismatches": [r for r in rows if r["balance"] != r["from_movements"]]}

    @rpc
    def receive_stock(self, payload):
        data = load(StockReceiptIn(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            loc = ops.location(uow.session, data["location_id"])
            domain.check_stock_keeper(principal, loc)
            if loc.kind != domain.WAREHOUSE:
                raise ValidationFailed("new stock is received at a warehouse", {"location_id": [f"{loc.id} is a {loc.kind}"]})
            p = ops.part(uow.session, data["part_no"])
            serials = domain.check_serials(data["quantity"], data["serials"])
            movement_no = domain.new_movement_no(K.RECEIPT)
            ledger.post(uow.session, tenant_id=loc.tenant_id, location_id=loc.id, part_no=p.part_no,
                        quantity=data["quantity"], kind=K.RECEIPT, movement_no=movement_no, at=utcnow(),
                        counterpart_id=domain.FACTORY, reason=data["reason"], serials=serials, user=principal.user)
            self._commit(uow)
            return {"movement_no": movement_no, "location_id": loc.id, "part_no": p.part_no,
                    "on_hand": ledger.balance(uow.session, loc.id, p.part_no)[0]}

    @rpc
    def adjust(self, payload):
        """A stock count correction (盘点调整): any sign, always with a reason; never below zero."""
        data = load(AdjustmentIn(), payload)
        domain.check_adjustment(data["quantity"], data["reason"])
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            loc = ops.location(uow.session, data["location_id"])
            domain.check_stock_keeper(principal, loc)
            p = ops.part(uow.session, data["part_no"])
            movement_no = domain.new_movement_no(K.ADJUSTMENT)
            ledger.post(uow.session, tenant_id=loc.tenant_id, location_id=loc.id, part_no=p.part_no,
                        quantity=data["quantity"], kind=K.ADJUSTMENT, movement_no=movement_no, at=utcnow(),
                        condition=data["condition"], reason=data["reason"], user=principal.user)
            self._commit(uow)
            on_hand, reserved = ledger.balance(uow.session, loc.id, p.part_no, data["condition"])
            return {"movement_no": movement_no, "location_id": loc.id, "part_no": p.part_no,
                    "on_hand": on_hand, "reserved": reserved}

    @rpc
    def transfer(self, payload):
        data = load(TransferIn(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            src = ops.location(uow.session, data["from_location_id"], "from_location_id")
            dst = ops.location(uow.session, data["to_location_id"], "to_location_id")
            domain.check_stock_keeper(principal, src)
            if src.kind != domain.WAREHOUSE or dst.kind != domain.WAREHOUSE:
                raise ValidationFailed("transfers are between warehouses (use issue for an outlet)",
                                       {"to_location_id": ["must be a warehouse"]})
            p = ops.part(uow.session, data["part_no"])
            movement_no = domain.new_movement_no(K.TRANSFER)
            ledger.transfer(uow.session, source=src, target=dst, part_no=p.part_no, quantity=data["quantity"],
                            kind=K.TRANSFER, movement_no=movement_no, at=utcnow(), reason=data["reason"],
                            user=principal.user)
            self._commit(uow)
            return {"movement_no": movement_no}

    @rpc
    def scrap(self, payload):
        data = load(ScrapIn(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            loc = ops.location(uow.session, data["location_id"])
            domain.check_stock_keeper(principal, loc)
            p = ops.part(uow.session, data["part_no"])
            movement_no = domain.new_movement_no(K.SCRAP)
            ledger.post(uow.session, tenant_id=loc.tenant_id, location_id=loc.id, part_no=p.part_no,
                        quantity=-data["quantity"], kind=K.SCRAP, movement_no=movement_no, at=utcnow(),
                        condition=data["condition"], reason=data["reason"], user=principal.user)
            self._commit(uow)
            return {"movement_no": movement_no}

    # ------------------------------------------------------------ reservations and issue
    @rpc
    def request_parts(self, payload):
        data = load(RequestParts(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            outlet = ops.location(uow.session, data["outlet_id"], "outlet_id")
            domain.check_request(principal, outlet)
            warehouse = ops.location(uow.session, outlet.parent_id, "warehouse_id")
            merged = {}
            for line in data["lines"]:
                merged[line["part_no"]] = merged.get(line["part_no"], 0) + line["quantity"]
            made = ops.reserve(uow, outlet=outlet, warehouse=warehouse, lines=list(merged.items()),
                               visit_id=data["visit_id"], ticket_id=data["ticket_id"], source="request",
                               user=principal.user, now=utcnow())
            self._commit(uow)
            for r in made:
                RESERVATIONS.labels("parts", r.tenant_id, r.status).inc()
            return [self._reservation_out(r) for r in made]

    @rpc
    def reservations(self, query=None):
        q = load(ReservationQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(Reservation)
            for key in ("outlet_id", "visit_id", "status"):
                if q[key]:
                    stmt = stmt.where(getattr(Reservation, key) == q[key])
            total = uow.session.scalar(stmt.with_only_columns(func.count(Reservation.id)))
            rows = uow.session.scalars(stmt.order_by(Reservation.created_at.desc(), Reservation.id)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._reservation_out(r) for r in rows], "total": total}

    @staticmethod
    def _reservation_out(r):
        return {"id": r.id, "tenant_id": r.tenant_id, "visit_id": r.visit_id, "ticket_id": r.ticket_id,
                "outlet_id": r.outlet_id, "warehouse_id": r.warehouse_id, "part_no": r.part_no,
                "quantity": r.quantity, "status": r.status, "source": r.source, "created_at": _iso(r.created_at),
                "issued_at": _iso(r.issued_at), "movement_no": r.movement_no}

    @rpc
    def release_reservation(self, reservation_id):
        principal = self.db.principal
        with self.db.uow() as uow:  # the caller must see it
            res = uow.session.get(Reservation, reservation_id) if isinstance(reservation_id, str) else None
            if res is None:
                raise NotFound(f"reservation {reservation_id} not found")
            outlet = ops.location(uow.session, res.outlet_id)
            domain.check_request(principal, outlet)  # inside: the outlet is detached once the uow closes
        with self.db.uow(self._writer(principal)) as uow:
            res = uow.session.get(Reservation, reservation_id)
            ops.release_reservation(uow.session, res)
            self._commit(uow)
            return self._reservation_out(res)

    @rpc
    def issue(self, payload):
        """备件发放: from a warehouse to an outlet, reserved lines or direct, with serials."""
        data = load(IssueParts(), payload)
        principal = self.db.principal
        with self.db.uow(self._writer(principal)) as uow:
            outlet = ops.location(uow.session, data["outlet_id"], "outlet_id")
            warehouse = ops.location(uow.session, data["warehouse_id"] or outlet.parent_id, "warehouse_id")
            domain.check_issue(principal, warehouse, outlet)
            result = ops.issue(uow, outlet=outlet, warehouse=warehouse, lines=data["lines"], user=principal.user,
                               now=utcnow(), note=data["note"])
            self._commit(uow)
            result["issued_at"] = _iso(result["issued_at"])
            return result

    # ------------------------------------------------------------ returns (RMA)
    @rpc
    def rmas(self, query=None):
        q = load(RmaQuery(), query or {})
        now = utcnow()
        with self.db.uow() as uow:
            stmt = select(Rma)
            for key in ("outlet_id", "status", "visit_id"):
                if q[key]:
                    stmt = stmt.where(getattr(Rma, key) == q[key])
            if q["overdue"] is True:
                stmt = stmt.where(Rma.status == RmaStatus.OPEN, Rma.due_at < now)
            elif q["overdue"] is False:
                stmt = stmt.where((Rma.status != RmaStatus.OPEN) | (Rma.due_at >= now))
            total = uow.session.scalar(stmt.with_only_columns(func.count(Rma.rma_no)))
            rows = uow.session.scalars(stmt.order_by(Rma.created_at.desc(), Rma.rma_no)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._rma_out(r, now) for r in rows], "total": total}

    @rpc
    def get_rma(self, rma_no):
        with self.db.uow() as uow:
            rma = uow.session.get(Rma, rma_no) if isinstance(rma_no, str) and rma_no else None
            if rma is None:
                raise NotFound(f"RMA {rma_no} not found")
            out = self._rma_out(rma, utcnow())
            out["movements"] = [self._movement_out(m) for m in uow.session.scalars(
                select(Movement).where(Movement.ref.in_([rma.rma_no])).order_by(Movement.id))]
            return out

    @staticmethod
    def _rma_out(r, now):
        until = as_utc(r.warehouse_received_at) or now
        age, bucket = domain.ageing(as_utc(r.created_at), until)
        return {"rma_no": r.rma_no, "tenant_id": r.tenant_id, "outlet_id": r.outlet_id,
                "warehouse_id": r.warehouse_id, "part_no": r.part_no, "quantity": r.quantity,
                "removed_serial": r.removed_serial, "new_serial": r.new_serial, "visit_id": r.visit_id,
                "ticket_id": r.ticket_id, "unit_cost": _money(r.unit_cost), "status": r.status,
                "created_at": _iso(r.created_at), "due_at": _iso(r.due_at),
                "overdue": r.status == RmaStatus.OPEN and as_utc(r.due_at) < now,
                "overdue_notified_at": _iso(r.overdue_at), "age_days": age, "ageing": bucket,
                "warehouse_received_at": _iso(r.warehouse_received_at),
                "warehouse_location_id": r.warehouse_location_id, "warehouse_serial": r.warehouse_serial,
                "warehouse_quantity": r.warehouse_quantity, "late": r.late,
                "factory_received_at": _iso(r.factory_received_at), "factory_serial": r.factory_serial,
                "inspection": r.inspection, "inspected_at": _iso(r.inspected_at),
                "inspection_note": r.inspection_note}

    @rpc
    def rma_ageing(self):
        """Open returns per outlet by age bucket (账龄): what is still out there, and for how long."""
        now = utcnow()
        with self.db.uow() as uow:
            rows = uow.session.execute(select(Rma.outlet_id, Rma.created_at, Rma.due_at, Rma.unit_cost, Rma.quantity)
                                       .where(Rma.status == RmaStatus.OPEN)).all()
        table = {}
        for outlet, created, due, cost, qty in rows:
            _, bucket = domain.ageing(as_utc(created), now)
            entry = table.setdefault(outlet, {"outlet_id": outlet, "open": 0, "overdue": 0, "value": "0.00",
                                              "buckets": {b: 0 for _, b in domain.AGEING_BUCKETS} | {">90": 0}})
            entry["open"] += 1
            entry["overdue"] += as_utc(due) < now
            entry["buckets"][bucket] += 1
            entry["value"] = _money((cost * qty) + Decimal(entry["value"]))
        return sorted(table.values(), key=lambda e: e["outlet_id"])

    @timer_once("PARTS_OVERDUE_CHECK_SECONDS", 60)  # on one replica at a time (shared.leases)
    def overdue_watch(self):
        self._check_overdue(utcnow())

    @rpc
    def run_overdue_check(self, payload=None):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE):
            raise Forbidden("only HQ runs the overdue check by hand")
        data = load(OverdueCheck(), payload or {})
        return self._check_overdue(data["at"] or utcnow())

    def _check_overdue(self, now):
        found = 0
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            for rma in ops.overdue_rmas(uow.session, now):
                rma.overdue_at = now
                found += 1
                RETURNS.labels("parts", rma.tenant_id, "overdue").inc()
                uow.emit("parts.return_overdue", {
                    "tenant_id": rma.tenant_id, "rma_no": rma.rma_no, "outlet_id": rma.outlet_id,
                    "part_no": rma.part_no, "visit_id": rma.visit_id, "ticket_id": rma.ticket_id,
                    "removed_serial": rma.removed_serial, "due_at": as_utc(rma.due_at), "detected_at": now,
                    "unit_cost": rma.unit_cost * rma.quantity})
            uow.commit()
        return {"overdue": found}

    # ------------------------------------------------------------ receipts (plain AMQP)
    @consume_validated(RECEIPT_EXCHANGE, RECEIPT_ROUTING_KEY, RECEIPT_QUEUE, ReceiptMessage)
    @unit_of_work(label=RECEIPT_QUEUE, scope=_scanner)
    def receipt(self, uow, msg):
        """A scan from a warehouse scanner or the factory returns desk (services/parts/client.py).
        The scan id makes it idempotent (no message-id claim); the same scan delivered twice at once
        fails one commit on the scan's key, and its retry finds the scan applied (a duplicate)."""
        result = ops.apply_receipt(uow, msg, utcnow())
        self._commit(uow)
        if result["outcome"] == "duplicate":
            log.info("duplicate scan %s", msg["scan_id"])
        step = result.get("stage") if result["outcome"] == "accepted" else result["outcome"]
        if result["outcome"] != "duplicate":
            RETURNS.labels("parts", "-", f"scan_{step}").inc()
        if result["outcome"] == "rejected":
            log.warning("receipt %s rejected: %s", msg["scan_id"], result["reason"])
        return result

    @rpc
    def scan_status(self, scan_id):
        with self.db.uow() as uow:
            scan = uow.session.get(Scan, scan_id) if isinstance(scan_id, str) else None
            if scan is None:
                raise NotFound(f"scan {scan_id} not found (not yet processed?)")
            return {"scan_id": scan.scan_id, "kind": scan.kind, "location_id": scan.location_id,
                    "rma_no": scan.rma_no, "outcome": scan.outcome, "detail": scan.detail,
                    "received_at": _iso(scan.received_at)}

    @rpc
    def rejected_receipts(self, query=None):
        q = load(RejectedQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(RejectedReceipt)
            if q["unresolved"]:
                stmt = stmt.where(RejectedReceipt.resolved_at.is_(None))
            total = uow.session.scalar(stmt.with_only_columns(func.count(RejectedReceipt.scan_id)))
            rows = uow.session.scalars(stmt.order_by(RejectedReceipt.received_at.desc())
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [{"scan_id": r.scan_id, "location_id": r.location_id, "rma_no": r.rma_no,
                               "reason": r.reason, "payload": r.payload, "received_at": _iso(r.received_at),
                               "resolved_at": _iso(r.resolved_at), "resolution": r.resolution} for r in rows],
                    "total": total}

    @rpc
    def resolve_rejected(self, scan_id, payload):
        data = load(ResolveRejected(), payload)
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.WAREHOUSE):
            raise Forbidden(f"role {principal.role} cannot resolve rejected receipts")
        with self.db.uow() as uow:
            row = uow.session.get(RejectedReceipt, scan_id) if isinstance(scan_id, str) else None
            if row is None:
                raise NotFound(f"rejected receipt {scan_id} not found")
            row.resolved_at, row.resolution = utcnow(), f"{principal.user}: {data['resolution']}"
            uow.commit()
            return {"scan_id": row.scan_id, "resolved_at": _iso(row.resolved_at), "resolution": row.resolution}

    # ------------------------------------------------------------ reconciliation (对账)
    @rpc
    def reconcile(self, payload):
        data = load(ReconcileIn(), payload)
        principal = self.db.principal
        domain.check_reconcile(principal)
        with self.db.uow() as uow:
            locs = {l.id: domain.LocationSpec(l.id, l.kind, l.tenant_id, l.name, l.parent_id)
                    for l in uow.session.scalars(select(Location)) if domain.may_see_location(principal, l)}
        if data["location_id"]:
            if data["location_id"] not in locs:
                raise NotFound(f"location {data['location_id']} not found", {"location_id": ["unknown location"]})
            locs = {data["location_id"]: locs[data["location_id"]]}
        if data["tenant_id"]:
            locs = {k: v for k, v in locs.items() if v.tenant_id == data["tenant_id"]}
        locs = {k: v for k, v in locs.items() if v.kind in (domain.OUTLET, domain.WAREHOUSE)}
        if not locs:
            raise NotFound("no location to reconcile", {"location_id": ["none visible"]})
        now = utcnow()
        with self.db.uow(self._writer(principal)) as uow:
            reports = reconcile.reconcile_month(uow.session, data["month"], locs)
            store_reports(uow, reports, now)
            uow.commit()
        return {"month": data["month"], "locations": len(reports),
                "with_discrepancies": sum(1 for r in reports if r["discrepancy_count"]),
                "discrepancies": sum(r["discrepancy_count"] for r in reports),
                "reports": [{k: r[k] for k in ("location_id", "location_kind", "tenant_id", "figures",
                                               "discrepancy_count", "by_kind", "discrepancies")} for r in reports]}

    @rpc
    def reconciliations(self, query=None):
        q = load(ReconciliationQuery(), query or {})
        with self.db.uow() as uow:
            stmt = self._reconciliation_stmt(q)
            total = uow.session.scalar(stmt.with_only_columns(func.count(Reconciliation.id)))
            rows = uow.session.scalars(stmt.order_by(Reconciliation.month.desc(), Reconciliation.location_id)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._reconciliation_out(r) for r in rows], "total": total}

    @staticmethod
    def _reconciliation_stmt(q):
        stmt = select(Reconciliation)
        if q.get("month"):
            stmt = stmt.where(Reconciliation.month == q["month"])
        if q.get("location_id"):
            stmt = stmt.where(Reconciliation.location_id == q["location_id"])
        if q.get("with_discrepancies") is True:
            stmt = stmt.where(Reconciliation.discrepancy_count > 0)
        return stmt

    @staticmethod
    def _reconciliation_out(r):
        return {"location_id": r.location_id, "location_kind": r.location_kind, "tenant_id": r.tenant_id,
                "month": r.month, "figures": r.figures, "discrepancies": r.discrepancies,
                "discrepancy_count": r.discrepancy_count, "run_at": _iso(r.run_at)}

    @rpc
    def reconciliation_export(self, query=None, fmt="csv"):
        """The stored reconciliations as CSV (text) or XLSX (base64): a summary row per location and
        one row per discrepancy."""
        q = load(ReconciliationQuery(), query or {})  # the caller's query, checked; an export is not paged
        if fmt not in ("csv", "xlsx"):
            raise ValidationFailed("unknown export format", {"format": ["csv or xlsx"]})
        with self.db.uow() as uow:
            rows = [self._reconciliation_out(r) for r in uow.session.scalars(
                self._reconciliation_stmt(q).order_by(Reconciliation.month, Reconciliation.location_id))]
        summary, details = export_rows(rows)
        if fmt == "csv":
            return export_csv(summary, details)
        return base64.b64encode(export_xlsx(summary, details)).decode("ascii")

    # ------------------------------------------------------------ clearing an outlet (revocation)
    @rpc
    def outlet_balance(self, outlet_id):
        principal = self.db.principal
        with self.db.uow() as uow:
            loc = ops.location(uow.session, outlet_id, "outlet_id")
            if not domain.may_see_location(principal, loc) or loc.kind != domain.OUTLET:
                raise NotFound(f"outlet {outlet_id} not found")
        with self.db.uow(self._writer(principal)) as uow:
            items = ops.outlet_open_items(uow.session, outlet_id)
        return {"outlet_id": outlet_id, "open_items": [dict(i, amount=_money(i["amount"])) for i in items],
                "clear": not items}

    # Facts from other services run once per message in a unit of work acting for the service over
    # every tenant (a reservation spans a warehouse and an outlet), see shared.messaging.consume.
    # Handlers that count what they did commit first (`_commit`), so a retry does not count twice.
    @consume("certification", "account.clearing_requested", scope=CALLER_ALL)
    def on_clearing_requested(self, uow, payload):
        items = ops.outlet_open_items(uow.session, payload["outlet_id"])
        uow.emit("parts.outlet_balance", {"tenant_id": payload["tenant_id"], "outlet_id": payload["outlet_id"],
                                          "request_id": payload["request_id"], "open_items": items,
                                          "at": utcnow()})

    # ------------------------------------------------------------ facts from intake and dispatch
    @consume("intake", "ticket.registered", scope=CALLER_ALL)
    def on_ticket_registered(self, uow, payload):
        uow.session.merge(TicketFact(ticket_id=payload["ticket_id"], tenant_id=payload["tenant_id"],
                                     number=payload["number"], product_line=payload.get("product_line"),
                                     model=payload.get("model"), serial_no=payload.get("serial_no"),
                                     fault=payload.get("fault"), warranty=payload.get("warranty")))
        uow.session.flush()
        made = []
        for need in uow.session.scalars(select(VisitNeed).where(VisitNeed.ticket_id == payload["ticket_id"],
                                                                VisitNeed.status == "waiting_ticket")):
            made += ops.reserve_for_visit(uow, self.catalogue, need, utcnow())
        self._commit(uow)
        for r in made:
            RESERVATIONS.labels("parts", r.tenant_id, r.status).inc()

    @consume("dispatch", "visit.scheduled", scope=CALLER_ALL)
    def on_visit_scheduled(self, uow, payload):
        need = uow.session.get(VisitNeed, payload["visit_id"])
        made = []
        if need is None:
            need = VisitNeed(visit_id=payload["visit_id"], tenant_id=payload["tenant_id"],
                             ticket_id=payload["ticket_id"], outlet_id=payload.get("outlet_id"),
                             status="waiting_ticket", scheduled_at=payload["at"])
            uow.session.add(need)
            uow.session.flush()
            made = ops.reserve_for_visit(uow, self.catalogue, need, utcnow())
        elif _stale(need, payload):
            log.info("visit.scheduled for %s older than the last fact applied; ignored", need.visit_id)
        else:
            need.scheduled_at = payload["at"]
            if payload.get("outlet_id") and payload["outlet_id"] != need.outlet_id:
                need.outlet_id = payload["outlet_id"]
                ops.move_visit_reservations(uow.session, need.visit_id, need.outlet_id)
            if need.status in ("waiting_ticket", "released"):
                made = ops.reserve_for_visit(uow, self.catalogue, need, utcnow())
        self._commit(uow)
        for r in made:
            RESERVATIONS.labels("parts", r.tenant_id, r.status).inc()

    @consume("dispatch", "visit.unassignable", scope=CALLER_ALL)
    def on_visit_unassignable(self, uow, payload):
        need = uow.session.get(VisitNeed, payload["visit_id"])
        if need is not None and need.status == "reserved":
            for res in uow.session.scalars(select(Reservation).where(Reservation.visit_id == need.visit_id)):
                ops.release_reservation(uow.session, res)
            need.status = "released"

    @consume("dispatch", "visit.released", scope=CALLER_ALL)
    def on_visit_released(self, uow, payload):
        """Dispatch took a planned visit back from its outlet (suspended, revoking, a line or a
        certificate lost): what is still only reserved for it at the old outlet goes back to the
        warehouse, so the outlet's balance clears and the next `visit.scheduled` reserves afresh
        for wherever the visit goes. Parts already issued to the outlet stay its stock."""
        need = uow.session.get(VisitNeed, payload["visit_id"])
        released = []
        if need is None:
            # released before parts heard it was scheduled (the events travel on separate
            # queues): remember the release, so the late visit.scheduled does not reserve
            uow.session.add(VisitNeed(visit_id=payload["visit_id"], tenant_id=payload["tenant_id"],
                                      ticket_id=payload["ticket_id"], outlet_id=None, status="released",
                                      scheduled_at=payload["at"]))
        elif _stale(need, payload) or need.status == "completed" \
                or (need.outlet_id and payload.get("outlet_id") and need.outlet_id != payload["outlet_id"]):
            log.info("visit.released for %s does not apply (need %s at %s); ignored",
                     need.visit_id, need.status, need.outlet_id)
        else:
            stmt = select(Reservation).where(Reservation.visit_id == need.visit_id,
                                             Reservation.status.in_(RS.OPEN))
            if payload.get("outlet_id"):
                stmt = stmt.where(Reservation.outlet_id == payload["outlet_id"])
            for res in uow.session.scalars(stmt):
                ops.release_reservation(uow.session, res)
                released.append(res.tenant_id)
            if need.status in ("reserved", "waiting_ticket"):
                need.status = "released"
            need.outlet_id, need.scheduled_at = None, payload["at"]
        uow.commit()
        for tenant in released:
            RESERVATIONS.labels("parts", tenant, "released").inc()

    @consume("dispatch", "visit.completed", scope=CALLER_ALL)
    def on_visit_completed(self, uow, payload):
        rmas = ops.consume_visit(uow, payload, self._due_days(), self.policies.clock.calendar)
        self._commit(uow)
        for rma in rmas:
            RETURNS.labels("parts", rma.tenant_id, "created").inc()


def _stale(need, payload):
    """A dispatch fact older than the last one applied to the visit (scheduled and released travel
    on separate queues, so a re-plan may overtake the release it follows)."""
    last = as_utc(need.scheduled_at)
    return last is not None and payload["at"] < last


def store_reports(uow, reports, now):
    """Replace the stored reconciliation of each reported location and month; publish each."""
    if not reports:
        return
    month = reports[0]["month"]
    ids = [r["location_id"] for r in reports]
    for chunk in range(0, len(ids), 500):
        uow.session.execute(delete(Reconciliation).where(Reconciliation.month == month,
                                                         Reconciliation.location_id.in_(ids[chunk:chunk + 500])))
    for r in reports:
        uow.session.add(Reconciliation(tenant_id=r["tenant_id"], location_id=r["location_id"],
                                       location_kind=r["location_kind"], month=r["month"], figures=r["figures"],
                                       discrepancies=r["discrepancies"], discrepancy_count=r["discrepancy_count"],
                                       run_at=now))
        uow.emit("parts.reconciled", {"tenant_id": r["tenant_id"], "location_id": r["location_id"],
                                      "location_kind": r["location_kind"], "month": r["month"],
                                      "discrepancies": r["discrepancy_count"], "by_kind": r["by_kind"]})


SUMMARY_COLUMNS = ("month", "location_id", "location_kind", "tenant_id") + domain.FIGURES + ("discrepancy_count",)
DETAIL_COLUMNS = ("month", "location_id", "kind", "part_no", "quantity", "ref", "detail")


def export_rows(rows):
    summary, details = [], []
    for r in rows:
        line = {k: r.get(k) for k in ("month", "location_id", "location_kind", "tenant_id", "discrepancy_count")}
        line.update({k: (r["figures"] or {}).get(k, 0) for k in domain.FIGURES})
        summary.append(line)
        for d in r["discrepancies"] or []:
            details.append({"month": r["month"], "location_id": r["location_id"], **d})
    return summary, details


def export_csv(summary, details) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(("section",) + SUMMARY_COLUMNS)
    for line in summary:
        writer.writerow(("summary",) + tuple(line.get(c) for c in SUMMARY_COLUMNS))
    writer.writerow(())
    writer.writerow(("section",) + DETAIL_COLUMNS)
    for d in details:
        writer.writerow(("discrepancy",) + tuple(d.get(c) for c in DETAIL_COLUMNS))
    return buf.getvalue()


def export_xlsx(summary, details) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    ws.append(list(SUMMARY_COLUMNS))
    for line in summary:
        ws.append([line.get(c) for c in SUMMARY_COLUMNS])
    ws2 = wb.create_sheet("discrepancies")
    ws2.append(list(DETAIL_COLUMNS))
    for d in details:
        ws2.append([d.get(c) for c in DETAIL_COLUMNS])
    for sheet in (ws, ws2):
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

