"""What parts does to its tables, one function per use case, inside the caller's unit of work.

The service's entrypoints parse and authorise, then call these; tests, the benchmark and the
concurrency test call them too, with a plain `Store` unit of work (no nameko).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.parts import domain, ledger
from services.parts.domain import DEFECTIVE, MovementKind as K, ReservationStatus as RS, RmaStatus
from services.parts.models import (Consumption, IssuedSerial, Location, Part, RejectedReceipt, Reservation, Rma,
                                   Scan, StockBalance, TicketFact, VisitNeed)
from shared.db import as_utc
from shared.errors import Conflict, NotFound, ValidationFailed


def location(session, location_id: str, field: str = "location_id") -> Location:
    loc = session.get(Location, location_id) if location_id else None
    if loc is None:
        raise NotFound(f"location {location_id} not found", {field: ["unknown location"]})
    return loc


def part(session, part_no: str, field: str = "part_no") -> Part:
    p = session.get(Part, part_no) if part_no else None
    if p is None:
        raise ValidationFailed(f"unknown part {part_no}", {field: [f"no part {part_no!r} in the catalogue"]})
    return p


# ---------------------------------------------------------------- reservations
def reserve(uow, *, outlet: Location, warehouse: Location, lines, visit_id=None, ticket_id=None,
            source="request", user=None, now: datetime) -> list[Reservation]:
    """Hold each line at `warehouse` for `outlet`; a line the warehouse cannot cover is `short`."""
    out = []
    for part_no, qty in lines:
        part(uow.session, part_no)
        held = ledger.reserve(uow.session, warehouse.tenant_id, warehouse.id, part_no, qty)
        res = Reservation(id=uuid.uuid4().hex, tenant_id=outlet.tenant_id, visit_id=visit_id, ticket_id=ticket_id,
                          outlet_id=outlet.id, warehouse_id=warehouse.id, part_no=part_no, quantity=qty,
                          status=RS.RESERVED if held else RS.SHORT, source=source, requested_by=user,
                          created_at=now)
        uow.session.add(res)
        out.append(res)
    return out


def release_reservation(session, res: Reservation):
    if res.status == RS.RESERVED:
        ledger.release(session, res.warehouse_id, res.part_no, res.quantity)
    if res.status in RS.OPEN:
        res.status = RS.RELEASED


def reserve_for_visit(uow, catalogue: domain.Catalogue, need: VisitNeed, now) -> list[Reservation]:
    """A scheduled visit whose ticket is known: reserve what its fault needs, once."""
    fact = uow.session.get(TicketFact, need.ticket_id)
    if fact is None:
        need.status = "waiting_ticket"
        return []
    if need.outlet_id is None:
        return []
    outlet = location(uow.session, need.outlet_id, "outlet_id")
    warehouse = location(uow.session, outlet.parent_id or domain.warehouse_of(outlet.tenant_id), "warehouse_id")
    lines = catalogue.needs(fact.product_line, fact.model, fact.fault)
    if not lines:
        need.status = "no_parts"
        return []
    made = reserve(uow, outlet=outlet, warehouse=warehouse, lines=lines, visit_id=need.visit_id,
                   ticket_id=need.ticket_id, source="visit", user="dispatch", now=now)
    need.status = "reserved"
    return made


def move_visit_reservations(session, visit_id: str, outlet_id: str):
    """A re-planned visit went to another outlet: its open reservations follow it."""
    for res in session.scalars(select(Reservation).where(Reservation.visit_id == visit_id,
                                                         Reservation.status.in_(RS.OPEN))):
        res.outlet_id = outlet_id


# ---------------------------------------------------------------- issue (备件发放)
def issue(uow, *, outlet: Location, warehouse: Location, lines, user, now, note=None) -> dict:
    """Move each line from the warehouse to the outlet: a reserved line from its reservation."""
    session = uow.session
    movement_no = domain.new_movement_no(K.ISSUE)
    issued = []
    for line in lines:
        p = part(session, line["part_no"])
        qty = line["quantity"]
        serials = domain.check_serials(qty, line.get("serials"))
        from_reserved = False
        res = None
        if line.get("reservation_id"):
            res = session.get(Reservation, line["reservation_id"])
            if res is None or res.outlet_id != outlet.id:
                raise NotFound(f"reservation {line['reservation_id']} not found",
                               {"reservation_id": ["no such reservation for this outlet"]})
            if res.status not in RS.OPEN:
                raise Conflict(f"reservation {res.id} is {res.status}", {"reservation_id": [f"already {res.status}"]})
            if res.part_no != p.part_no or res.warehouse_id != warehouse.id:
                raise ValidationFailed("line does not match its reservation",
                                       {"part_no": [f"reservation is for {res.part_no} at {res.warehouse_id}"]})
            if qty != res.quantity:
                raise ValidationFailed("issue the reserved quantity", {"quantity": [f"reserved {res.quantity}"]})
            from_reserved = res.status == RS.RESERVED
        ledger.transfer(session, source=warehouse, target=outlet, part_no=p.part_no, quantity=qty, kind=K.ISSUE,
                        movement_no=movement_no, at=now, serials=serials, user=user, ref=res.id if res else None,
                        reason=note, from_reserved=from_reserved)
        for serial in serials:
            session.add(IssuedSerial(tenant_id=outlet.tenant_id, part_no=p.part_no, serial=serial,
                                     outlet_id=outlet.id, warehouse_id=warehouse.id, movement_no=movement_no,
                                     issued_at=now))
        if res is not None:
            res.status, res.issued_at, res.movement_no = RS.ISSUED, now, movement_no
        issued.append({"part_no": p.part_no, "quantity": qty, "serials": serials,
                       "reservation_id": res.id if res else None})
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("a serial was issued before", {"serials": ["already issued"]}) from None
    return {"movement_no": movement_no, "outlet_id": outlet.id, "warehouse_id": warehouse.id, "lines": issued,
            "issued_at": now}


# ---------------------------------------------------------------- consumption and RMAs
def consume_visit(uow, payload: dict, due_days: int, calendar) -> list[Rma]:
    """Book the parts a completed visit used (new serial in, old part out) and open an RMA for every
    returnable removed part. A line the outlet has no stock for is recorded, not dropped (booked < quantity)."""
    session = uow.session
    visit_id, outlet_id, at = payload["visit_id"], payload.get("outlet_id"), payload["at"]
    if session.scalar(select(func.count()).select_from(Consumption).where(Consumption.visit_id == visit_id)):
        return []  # the same completion reported twice
    outlet = session.get(Location, outlet_id) if outlet_id else None
    rmas = []
    movement_no = domain.new_movement_no(K.CONSUMPTION)
    for n, line in enumerate(payload.get("parts_used") or [], start=1):
        p = session.get(Part, line["part_no"])
        qty = max(1, int(line.get("quantity") or 1))
        row = Consumption(tenant_id=payload["tenant_id"], visit_id=visit_id, line=n,
                          ticket_id=payload.get("ticket_id"), outlet_id=outlet_id or "-", part_no=line["part_no"],
                          quantity=qty, booked=0, new_serial=line.get("new_serial"),
                          removed_serial=line.get("removed_serial"), consumed_at=at)
        session.add(row)
        if p is None or outlet is None:
            row.note = "unknown part" if p is None else "visit without an outlet"
            continue
        available = ledger.balance(session, outlet.id, p.part_no)
        booked = min(qty, max(0, available[0] - available[1]))
        if booked:
            ledger.post(session, tenant_id=outlet.tenant_id, location_id=outlet.id, part_no=p.part_no,
                        quantity=-booked, kind=K.CONSUMPTION, movement_no=movement_no, at=at, ref=visit_id,
                        serials=[line["new_serial"]] if line.get("new_serial") else None)
        row.booked = booked
        if booked < qty:
            row.note = f"{qty - booked} used without stock at {outlet.id}"
        if line.get("new_serial"):
            session.execute(update(IssuedSerial).where(
                IssuedSerial.outlet_id == outlet.id, IssuedSerial.part_no == p.part_no,
                IssuedSerial.serial == line["new_serial"]).values(consumed_visit_id=visit_id))
        if p.returnable:
            # the old part taken out of the machine now waits at the outlet to go back
            ledger.post(session, tenant_id=outlet.tenant_id, location_id=outlet.id, part_no=p.part_no,
                        quantity=qty, kind=K.CONSUMPTION, condition=DEFECTIVE, movement_no=movement_no, at=at,
                        ref=visit_id, serials=[line["removed_serial"]] if line.get("removed_serial") else None,
                        reason="old part removed")
            rma = Rma(rma_no=domain.new_rma_no(at, outlet.tenant_id), tenant_id=outlet.tenant_id,
                      outlet_id=outlet.id, warehouse_id=outlet.parent_id or domain.warehouse_of(outlet.tenant_id),
                      part_no=p.part_no, quantity=qty, removed_serial=line.get("removed_serial"),
                      new_serial=line.get("new_serial"), visit_id=visit_id, ticket_id=payload.get("ticket_id"),
                      unit_cost=p.unit_cost, status=RmaStatus.OPEN, created_at=at,
                      due_at=domain.rma_due(at, due_days, calendar))
            session.add(rma)
            row.rma_no = rma.rma_no
            rmas.append(rma)
    # what the visit reserved and was issued is now used; what it only reserved goes back
    used = {line["part_no"] for line in payload.get("parts_used") or []}
    for res in session.scalars(select(Reservation).where(Reservation.visit_id == visit_id)):
        if res.status == RS.ISSUED and res.part_no in used:
            res.status = RS.CONSUMED
        elif res.status in RS.OPEN:
            release_reservation(session, res)
    need = session.get(VisitNeed, visit_id)
    if need is not None:
        need.status = "completed"
    return rmas


def overdue_rmas(session, now, limit=1000) -> list[Rma]:
    return list(session.scalars(select(Rma).where(Rma.status == RmaStatus.OPEN, Rma.overdue_at.is_(None),
                                                  Rma.due_at < now).order_by(Rma.due_at).limit(limit)))


# ---------------------------------------------------------------- receipts (scanners, returns desk)
class Rejected(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def apply_receipt(uow, msg: dict, now) -> dict:
    """One scan: an RMA's old part at a warehouse or the factory, an inspection, or new stock.

    Returns {"outcome": "duplicate"|"accepted"|"rejected", ...}. A rejected scan is stored with
    its reason and payload (never lost); the same scan id again changes nothing."""
    session = uow.session
    scan_id = msg["scan_id"]
    if session.get(Scan, scan_id) is not None:
        return {"outcome": "duplicate", "scan_id": scan_id}
    at = (msg.get("received_at") or now)
    loc = session.get(Location, msg["location_id"])
    try:
        if loc is None:
            raise Rejected(f"unknown location {msg['location_id']}")
        if msg["kind"] == "stock":
            result = _stock_receipt(uow, loc, msg, at)
        else:
            result = _rma_receipt(uow, loc, msg, at)
    except Rejected as exc:
        tenant = loc.tenant_id if loc is not None else domain.HQ_TENANT
        session.add(RejectedReceipt(tenant_id=tenant, scan_id=scan_id, location_id=msg["location_id"],
                                    rma_no=msg.get("rma_no"), reason=exc.reason, payload=_jsonable(msg),
                                    received_at=at))
        session.add(Scan(tenant_id=tenant, scan_id=scan_id, kind=msg["kind"], location_id=msg["location_id"],
                         rma_no=msg.get("rma_no"), outcome="rejected", detail=exc.reason, received_at=at))
        return {"outcome": "rejected", "scan_id": scan_id, "reason": exc.reason}
    session.add(Scan(tenant_id=loc.tenant_id, scan_id=scan_id, kind=msg["kind"], location_id=loc.id,
                     rma_no=msg.get("rma_no"), outcome="accepted", detail=result.get("stage"), received_at=at))
    result.update(outcome="accepted", scan_id=scan_id)
    return result


def _stock_receipt(uow, loc, msg, at):
    if loc.kind != domain.WAREHOUSE:
        raise Rejected(f"new stock is received at a warehouse, {loc.id} is a {loc.kind}")
    p = uow.session.get(Part, msg["part_no"])
    if p is None:
        raise Rejected(f"unknown part {msg['part_no']}")
    try:
        serials = domain.check_serials(msg["quantity"], msg.get("serials"))
    except ValidationFailed as exc:
        raise Rejected(exc.message) from None
    ledger.post(uow.session, tenant_id=loc.tenant_id, location_id=loc.id, part_no=p.part_no, quantity=msg["quantity"],
                kind=K.RECEIPT, movement_no=domain.new_movement_no(K.RECEIPT), at=at, counterpart_id=domain.FACTORY,
                reason=msg.get("note") or "goods receipt", ref=msg["scan_id"], serials=serials,
                user=msg.get("scanned_by"))
    return {"stage": "stock", "part_no": p.part_no, "quantity": msg["quantity"]}


def _rma_receipt(uow, loc, msg, at):
    session = uow.session
    rma = session.get(Rma, msg["rma_no"])
    if rma is None:
        raise Rejected(f"unknown RMA {msg['rma_no']}")
    if msg.get("part_no") and msg["part_no"] != rma.part_no:
        raise Rejected(f"RMA {rma.rma_no} is for {rma.part_no}, scanned part is {msg['part_no']}")
    try:
        step = domain.receipt_step(rma.status, loc.kind, as_utc(rma.due_at), at, msg["kind"])
    except ValueError as exc:
        raise Rejected(f"RMA {rma.rma_no}: {exc}") from None
    qty = msg["quantity"]
    if step.stage == "warehouse":
        outlet = session.get(Location, rma.outlet_id)
        moved = min(qty, ledger.balance(session, outlet.id, rma.part_no, DEFECTIVE)[0])
        movement_no = domain.new_movement_no(K.RETURN)
        serials = [msg["serial"]] if msg.get("serial") else None
        if moved:
            ledger.transfer(session, source=outlet, target=loc, part_no=rma.part_no, quantity=moved, kind=K.RETURN,
                            movement_no=movement_no, at=at, condition=DEFECTIVE, ref=rma.rma_no, serials=serials,
                            user=msg.get("scanned_by"))
        if qty > moved:  # more arrived than the outlet had booked out: taken in, and visible as such
            ledger.post(session, tenant_id=loc.tenant_id, location_id=loc.id, part_no=rma.part_no,
                        quantity=qty - moved, kind=K.ADJUSTMENT, condition=DEFECTIVE, movement_no=movement_no,
                        at=at, ref=rma.rma_no, reason=f"received more than booked on {rma.rma_no}")
        rma.status, rma.warehouse_received_at, rma.warehouse_location_id = RmaStatus.AT_WAREHOUSE, at, loc.id
        rma.warehouse_serial, rma.warehouse_quantity, rma.late = msg.get("serial"), qty, step.late
        uow.emit("parts.return_received", {
            "tenant_id": rma.tenant_id, "rma_no": rma.rma_no, "outlet_id": rma.outlet_id, "part_no": rma.part_no,
            "visit_id": rma.visit_id, "location_id": loc.id, "received_at": at, "late": step.late})
        return {"stage": "warehouse", "rma_no": rma.rma_no, "late": step.late}
    if step.stage == "factory":
        source = session.get(Location, rma.warehouse_location_id or rma.warehouse_id)
        have = ledger.balance(session, source.id, rma.part_no, DEFECTIVE)[0]
        moved = min(qty, have)
        if moved:
            ledger.transfer(session, source=source, target=loc, part_no=rma.part_no, quantity=moved, kind=K.RETURN,
                            movement_no=domain.new_movement_no(K.RETURN), at=at, condition=DEFECTIVE,
                            ref=rma.rma_no, serials=[msg["serial"]] if msg.get("serial") else None,
                            user=msg.get("scanned_by"))
        rma.status, rma.factory_received_at, rma.factory_serial = RmaStatus.AT_FACTORY, at, msg.get("serial")
        if msg.get("inspection"):
            _inspect(rma, msg, at)
        return {"stage": "factory", "rma_no": rma.rma_no, "inspection": rma.inspection}
    _inspect(rma, msg, at)
    return {"stage": "inspection", "rma_no": rma.rma_no, "inspection": rma.inspection}


def _inspect(rma, msg, at):
    rma.status, rma.inspection, rma.inspected_at = RmaStatus.INSPECTED, msg["inspection"], at
    rma.inspection_note = msg.get("note")


def _jsonable(msg):
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in msg.items()}


# ---------------------------------------------------------------- an outlet's open items (clearing)
def outlet_open_items(session, outlet_id: str) -> list[dict]:
    """Stock on hand, open RMAs and open reservations of an outlet, with their value."""
    items = []
    rows = session.execute(select(StockBalance, Part).join(Part, Part.part_no == StockBalance.part_no)
                           .where(StockBalance.location_id == outlet_id, StockBalance.on_hand > 0)
                           .order_by(StockBalance.part_no)).all()
    for bal, p in rows:
        if bal.condition == DEFECTIVE:
            continue  # old parts waiting to go back are listed by their RMA below
        items.append({"kind": "stock", "ref": p.part_no, "description": f"{bal.on_hand} × {p.name} on hand",
                      "amount": (p.unit_cost * bal.on_hand).quantize(Decimal("0.01"))})
    for rma in session.scalars(select(Rma).where(Rma.outlet_id == outlet_id, Rma.status == RmaStatus.OPEN)
                               .order_by(Rma.created_at)):
        items.append({"kind": "rma", "ref": rma.rma_no,
                      "description": f"old part {rma.part_no} {rma.removed_serial or ''} not returned "
                                     f"(due {domain.as_local_date(rma.due_at)})".replace("  ", " "),
                      "amount": (rma.unit_cost * rma.quantity).quantize(Decimal("0.01"))})
    res_rows = session.execute(select(Reservation, Part).join(Part, Part.part_no == Reservation.part_no)
                               .where(Reservation.outlet_id == outlet_id, Reservation.status.in_(RS.OPEN))
                               .order_by(Reservation.created_at)).all()
    for res, p in res_rows:
        items.append({"kind": "reservation", "ref": res.id,
                      "description": f"{res.quantity} × {p.name} {res.status} at {res.warehouse_id}",
                      "amount": (p.unit_cost * res.quantity).quantize(Decimal("0.01"))})
    return items
