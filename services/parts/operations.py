"""What parts does to its tables, one function per use case, inside the caller's unit of work.

The service's entrypoints load their input and call these; each authorises with `domain.check_*`
before it books anything. Tests, the benchmark and the concurrency test call them too, with a
plain `Store` unit of work (no nameko). What parts answers (the read side) is in `queries`.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from services.parts import domain, ledger
from services.parts.domain import DEFECTIVE, MovementKind, ReservationStatus, RmaStatus
from services.parts.models import (
    Consumption,
    IssuedSerial,
    Location,
    Part,
    Reservation,
    Rma,
    TicketFact,
    VisitNeed,
)
from shared.db import as_utc
from shared.errors import Conflict, NotFound, ValidationFailed

log = logging.getLogger(__name__)


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


# ---------------------------------------------------------------- stock booked by its keeper
def receive_stock(uow, principal, receipt: dict, now) -> dict:
    """New stock from the factory into a warehouse (入库)."""
    loc = location(uow.session, receipt["location_id"])
    domain.check_stock_keeper(principal, loc)
    domain.check_receiving_location(loc)
    p = part(uow.session, receipt["part_no"])
    serials = domain.check_serials(receipt["quantity"], receipt["serials"])
    movement_no = domain.new_movement_no(MovementKind.RECEIPT)
    ledger.post(
        uow.session,
        tenant_id=loc.tenant_id,
        location_id=loc.id,
        part_no=p.part_no,
        quantity=receipt["quantity"],
        kind=MovementKind.RECEIPT,
        movement_no=movement_no,
        at=now,
        counterpart_id=domain.FACTORY,
        reason=receipt["reason"],
        serials=serials,
        user=principal.user,
    )
    return {"movement_no": movement_no, "location_id": loc.id, "part_no": p.part_no}


def adjust(uow, principal, adjustment: dict, now) -> dict:
    """A stock count correction (盘点调整): any sign, always with a reason; never below zero."""
    domain.check_adjustment(adjustment["quantity"], adjustment["reason"])
    loc = location(uow.session, adjustment["location_id"])
    domain.check_stock_keeper(principal, loc)
    p = part(uow.session, adjustment["part_no"])
    movement_no = domain.new_movement_no(MovementKind.ADJUSTMENT)
    ledger.post(
        uow.session,
        tenant_id=loc.tenant_id,
        location_id=loc.id,
        part_no=p.part_no,
        quantity=adjustment["quantity"],
        kind=MovementKind.ADJUSTMENT,
        movement_no=movement_no,
        at=now,
        condition=adjustment["condition"],
        reason=adjustment["reason"],
        user=principal.user,
    )
    return {"movement_no": movement_no, "location_id": loc.id, "part_no": p.part_no}


def transfer(uow, principal, order: dict, now) -> str:
    """Warehouse to warehouse (调拨); the movement number."""
    source = location(uow.session, order["from_location_id"], "from_location_id")
    target = location(uow.session, order["to_location_id"], "to_location_id")
    domain.check_stock_keeper(principal, source)
    domain.check_transfer(source, target)
    p = part(uow.session, order["part_no"])
    movement_no = domain.new_movement_no(MovementKind.TRANSFER)
    ledger.transfer(
        uow.session,
        source=source,
        target=target,
        part_no=p.part_no,
        quantity=order["quantity"],
        kind=MovementKind.TRANSFER,
        movement_no=movement_no,
        at=now,
        reason=order["reason"],
        user=principal.user,
    )
    return movement_no


def scrap(uow, principal, order: dict, now) -> str:
    """Stock written off (报废); the movement number."""
    loc = location(uow.session, order["location_id"])
    domain.check_stock_keeper(principal, loc)
    p = part(uow.session, order["part_no"])
    movement_no = domain.new_movement_no(MovementKind.SCRAP)
    ledger.post(
        uow.session,
        tenant_id=loc.tenant_id,
        location_id=loc.id,
        part_no=p.part_no,
        quantity=-order["quantity"],
        kind=MovementKind.SCRAP,
        movement_no=movement_no,
        at=now,
        condition=order["condition"],
        reason=order["reason"],
        user=principal.user,
    )
    return movement_no


# ---------------------------------------------------------------- reservations
def reserve(
    uow,
    *,
    outlet: Location,
    warehouse: Location,
    lines,
    visit_id=None,
    ticket_id=None,
    source="request",
    user=None,
    now: datetime,
) -> list[Reservation]:
    """Hold each line at `warehouse` for `outlet`; a line the warehouse cannot cover is `short`."""
    out = []
    for part_no, qty in lines:
        part(uow.session, part_no)
        held = ledger.reserve(uow.session, warehouse.tenant_id, warehouse.id, part_no, qty)
        res = Reservation(
            id=uuid.uuid4().hex,
            tenant_id=outlet.tenant_id,
            visit_id=visit_id,
            ticket_id=ticket_id,
            outlet_id=outlet.id,
            warehouse_id=warehouse.id,
            part_no=part_no,
            quantity=qty,
            status=ReservationStatus.RESERVED if held else ReservationStatus.SHORT,
            source=source,
            requested_by=user,
            created_at=now,
        )
        uow.session.add(res)
        out.append(res)
    return out


def request_parts(uow, principal, request: dict, now) -> list[Reservation]:
    """An outlet (or its center) asks its warehouse to hold parts for it."""
    outlet = location(uow.session, request["outlet_id"], "outlet_id")
    domain.check_request(principal, outlet)
    warehouse = location(uow.session, outlet.parent_id, "warehouse_id")
    return reserve(
        uow,
        outlet=outlet,
        warehouse=warehouse,
        lines=domain.merge_lines(request["lines"]),
        visit_id=request["visit_id"],
        ticket_id=request["ticket_id"],
        source="request",
        user=principal.user,
        now=now,
    )


def release_reservation(session, res: Reservation):
    if res.status == ReservationStatus.RESERVED:
        ledger.release(session, res.warehouse_id, res.part_no, res.quantity)
    if res.status in ReservationStatus.OPEN:
        res.status = ReservationStatus.RELEASED


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
    made = reserve(
        uow,
        outlet=outlet,
        warehouse=warehouse,
        lines=lines,
        visit_id=need.visit_id,
        ticket_id=need.ticket_id,
        source="visit",
        user="dispatch",
        now=now,
    )
    need.status = "reserved"
    return made


def move_visit_reservations(session, visit_id: str, outlet_id: str):
    """A re-planned visit went to another outlet: its open reservations follow it."""
    for res in session.scalars(
        select(Reservation).where(Reservation.visit_id == visit_id, Reservation.status.in_(ReservationStatus.OPEN))
    ):
        res.outlet_id = outlet_id


# ---------------------------------------------------------------- facts from intake and dispatch
def record_ticket(uow, catalogue: domain.Catalogue, payload: dict, now) -> list[Reservation]:
    """ticket.registered: keep what parts needs of the ticket; visits that waited for it reserve now."""
    uow.session.merge(
        TicketFact(
            ticket_id=payload["ticket_id"],
            tenant_id=payload["tenant_id"],
            number=payload["number"],
            product_line=payload.get("product_line"),
            model=payload.get("model"),
            serial_no=payload.get("serial_no"),
            fault=payload.get("fault"),
            warranty=payload.get("warranty"),
        )
    )
    uow.session.flush()
    made = []
    for need in uow.session.scalars(
        select(VisitNeed).where(VisitNeed.ticket_id == payload["ticket_id"], VisitNeed.status == "waiting_ticket")
    ):
        made += reserve_for_visit(uow, catalogue, need, now)
    return made


def visit_scheduled(uow, catalogue: domain.Catalogue, payload: dict, now) -> list[Reservation]:
    """visit.scheduled: reserve what the visit needs at its outlet's warehouse, once; a visit
    re-planned to another outlet takes its reservations along."""
    need = uow.session.get(VisitNeed, payload["visit_id"])
    if need is None:
        need = VisitNeed(
            visit_id=payload["visit_id"],
            tenant_id=payload["tenant_id"],
            ticket_id=payload["ticket_id"],
            outlet_id=payload.get("outlet_id"),
            status="waiting_ticket",
            scheduled_at=payload["at"],
        )
        uow.session.add(need)
        uow.session.flush()
        return reserve_for_visit(uow, catalogue, need, now)
    if domain.is_stale(as_utc(need.scheduled_at), payload["at"]):
        log.info("visit.scheduled for %s older than the last fact applied; ignored", need.visit_id)
        return []
    need.scheduled_at = payload["at"]
    if payload.get("outlet_id") and payload["outlet_id"] != need.outlet_id:
        need.outlet_id = payload["outlet_id"]
        move_visit_reservations(uow.session, need.visit_id, need.outlet_id)
    if need.status in ("waiting_ticket", "released"):
        return reserve_for_visit(uow, catalogue, need, now)
    return []


def visit_unassignable(session, payload: dict):
    """visit.unassignable: nobody will go, so what was reserved for the visit goes back."""
    need = session.get(VisitNeed, payload["visit_id"])
    if need is not None and need.status == "reserved":
        for res in session.scalars(select(Reservation).where(Reservation.visit_id == need.visit_id)):
            release_reservation(session, res)
        need.status = "released"


def visit_released(session, payload: dict) -> list[Reservation]:
    """visit.released: dispatch took a planned visit back from its outlet (suspended, revoking, a
    line or a certificate lost). What is still only reserved for it at the old outlet goes back
    to the warehouse, so the outlet's balance clears and the next `visit.scheduled` reserves
    afresh for wherever the visit goes; parts already issued to the outlet stay its stock.
    Returns the reservations released."""
    need = session.get(VisitNeed, payload["visit_id"])
    if need is None:
        # released before parts heard it was scheduled (the events travel on separate
        # queues): remember the release, so the late visit.scheduled does not reserve
        session.add(
            VisitNeed(
                visit_id=payload["visit_id"],
                tenant_id=payload["tenant_id"],
                ticket_id=payload["ticket_id"],
                outlet_id=None,
                status="released",
                scheduled_at=payload["at"],
            )
        )
        return []
    stale = domain.is_stale(as_utc(need.scheduled_at), payload["at"])
    if not domain.release_applies(need.status, need.outlet_id, payload.get("outlet_id"), stale):
        log.info(
            "visit.released for %s does not apply (need %s at %s); ignored", need.visit_id, need.status, need.outlet_id
        )
        return []
    stmt = select(Reservation).where(
        Reservation.visit_id == need.visit_id, Reservation.status.in_(ReservationStatus.OPEN)
    )
    if payload.get("outlet_id"):
        stmt = stmt.where(Reservation.outlet_id == payload["outlet_id"])
    released = list(session.scalars(stmt))
    for res in released:
        release_reservation(session, res)
    if need.status in ("reserved", "waiting_ticket"):
        need.status = "released"
    need.outlet_id, need.scheduled_at = None, payload["at"]
    return released


# ---------------------------------------------------------------- issue (备件发放)
def issue(uow, *, outlet: Location, warehouse: Location, lines, user, now, note=None) -> dict:
    """Move each line from the warehouse to the outlet: a reserved line from its reservation."""
    session = uow.session
    movement_no = domain.new_movement_no(MovementKind.ISSUE)
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
                raise NotFound(
                    f"reservation {line['reservation_id']} not found",
                    {"reservation_id": ["no such reservation for this outlet"]},
                )
            if res.status not in ReservationStatus.OPEN:
                raise Conflict(f"reservation {res.id} is {res.status}", {"reservation_id": [f"already {res.status}"]})
            if res.part_no != p.part_no or res.warehouse_id != warehouse.id:
                raise ValidationFailed(
                    "line does not match its reservation",
                    {"part_no": [f"reservation is for {res.part_no} at {res.warehouse_id}"]},
                )
            if qty != res.quantity:
                raise ValidationFailed("issue the reserved quantity", {"quantity": [f"reserved {res.quantity}"]})
            from_reserved = res.status == ReservationStatus.RESERVED
        ledger.transfer(
            session,
            source=warehouse,
            target=outlet,
            part_no=p.part_no,
            quantity=qty,
            kind=MovementKind.ISSUE,
            movement_no=movement_no,
            at=now,
            serials=serials,
            user=user,
            ref=res.id if res else None,
            reason=note,
            from_reserved=from_reserved,
        )
        for serial in serials:
            session.add(
                IssuedSerial(
                    tenant_id=outlet.tenant_id,
                    part_no=p.part_no,
                    serial=serial,
                    outlet_id=outlet.id,
                    warehouse_id=warehouse.id,
                    movement_no=movement_no,
                    issued_at=now,
                )
            )
        if res is not None:
            res.status, res.issued_at, res.movement_no = ReservationStatus.ISSUED, now, movement_no
        issued.append(
            {"part_no": p.part_no, "quantity": qty, "serials": serials, "reservation_id": res.id if res else None}
        )
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict("a serial was issued before", {"serials": ["already issued"]}) from None
    return {
        "movement_no": movement_no,
        "outlet_id": outlet.id,
        "warehouse_id": warehouse.id,
        "lines": issued,
        "issued_at": now,
    }


def issue_order(uow, principal, order: dict, now) -> dict:
    """An issue as the caller asked it: to the outlet from the warehouse named (default: the
    outlet's own), if the caller may issue between the two."""
    outlet = location(uow.session, order["outlet_id"], "outlet_id")
    warehouse = location(uow.session, order["warehouse_id"] or outlet.parent_id, "warehouse_id")
    domain.check_issue(principal, warehouse, outlet)
    return issue(
        uow, outlet=outlet, warehouse=warehouse, lines=order["lines"], user=principal.user, now=now, note=order["note"]
    )


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
    movement_no = domain.new_movement_no(MovementKind.CONSUMPTION)
    for n, line in enumerate(payload.get("parts_used") or [], start=1):
        p = session.get(Part, line["part_no"])
        qty = max(1, int(line.get("quantity") or 1))
        row = Consumption(
            tenant_id=payload["tenant_id"],
            visit_id=visit_id,
            line=n,
            ticket_id=payload.get("ticket_id"),
            outlet_id=outlet_id or "-",
            part_no=line["part_no"],
            quantity=qty,
            booked=0,
            new_serial=line.get("new_serial"),
            removed_serial=line.get("removed_serial"),
            consumed_at=at,
        )
        session.add(row)
        if p is None or outlet is None:
            row.note = "unknown part" if p is None else "visit without an outlet"
            continue
        available = ledger.balance(session, outlet.id, p.part_no)
        booked = min(qty, max(0, available[0] - available[1]))
        if booked:
            ledger.post(
                session,
                tenant_id=outlet.tenant_id,
                location_id=outlet.id,
                part_no=p.part_no,
                quantity=-booked,
                kind=MovementKind.CONSUMPTION,
                movement_no=movement_no,
                at=at,
                ref=visit_id,
                serials=[line["new_serial"]] if line.get("new_serial") else None,
            )
        row.booked = booked
        if booked < qty:
            row.note = f"{qty - booked} used without stock at {outlet.id}"
        if line.get("new_serial"):
            session.execute(
                update(IssuedSerial)
                .where(
                    IssuedSerial.outlet_id == outlet.id,
                    IssuedSerial.part_no == p.part_no,
                    IssuedSerial.serial == line["new_serial"],
                )
                .values(consumed_visit_id=visit_id)
            )
        if p.returnable:
            # the old part taken out of the machine now waits at the outlet to go back
            ledger.post(
                session,
                tenant_id=outlet.tenant_id,
                location_id=outlet.id,
                part_no=p.part_no,
                quantity=qty,
                kind=MovementKind.CONSUMPTION,
                condition=DEFECTIVE,
                movement_no=movement_no,
                at=at,
                ref=visit_id,
                serials=[line["removed_serial"]] if line.get("removed_serial") else None,
                reason="old part removed",
            )
            rma = Rma(
                rma_no=domain.new_rma_no(at, outlet.tenant_id),
                tenant_id=outlet.tenant_id,
                outlet_id=outlet.id,
                warehouse_id=outlet.parent_id or domain.warehouse_of(outlet.tenant_id),
                part_no=p.part_no,
                quantity=qty,
                removed_serial=line.get("removed_serial"),
                new_serial=line.get("new_serial"),
                visit_id=visit_id,
                ticket_id=payload.get("ticket_id"),
                unit_cost=p.unit_cost,
                status=RmaStatus.OPEN,
                created_at=at,
                due_at=domain.rma_due(at, due_days, calendar),
            )
            session.add(rma)
            row.rma_no = rma.rma_no
            rmas.append(rma)
    # what the visit reserved and was issued is now used; what it only reserved goes back
    used = {line["part_no"] for line in payload.get("parts_used") or []}
    for res in session.scalars(select(Reservation).where(Reservation.visit_id == visit_id)):
        if res.status == ReservationStatus.ISSUED and res.part_no in used:
            res.status = ReservationStatus.CONSUMED
        elif res.status in ReservationStatus.OPEN:
            release_reservation(session, res)
    need = session.get(VisitNeed, visit_id)
    if need is not None:
        need.status = "completed"
    return rmas


def overdue_rmas(session, now, limit=1000) -> list[Rma]:
    return list(
        session.scalars(
            select(Rma)
            .where(Rma.status == RmaStatus.OPEN, Rma.overdue_at.is_(None), Rma.due_at < now)
            .order_by(Rma.due_at)
            .limit(limit)
        )
    )


def flag_overdue_returns(uow, now) -> list[Rma]:
    """Each open return past its due date and not yet reported: marked and published once."""
    flagged = overdue_rmas(uow.session, now)
    for rma in flagged:
        rma.overdue_at = now
        uow.emit(
            "parts.return_overdue",
            {
                "tenant_id": rma.tenant_id,
                "rma_no": rma.rma_no,
                "outlet_id": rma.outlet_id,
                "part_no": rma.part_no,
                "visit_id": rma.visit_id,
                "ticket_id": rma.ticket_id,
                "removed_serial": rma.removed_serial,
                "due_at": as_utc(rma.due_at),
                "detected_at": now,
                "unit_cost": rma.unit_cost * rma.quantity,
            },
        )
    return flagged
