"""Receipts at a warehouse or returns desk (scanners over AMQP, or booked by hand): a stock receipt
or an old part coming back against its RMA, inspected and applied once per scan id; a receipt that
cannot be applied is rejected with its reason and kept for someone to resolve.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from services.parts import domain, ledger
from services.parts.domain import DEFECTIVE, MovementKind, RmaStatus
from services.parts.models import (
    Location,
    Part,
    RejectedReceipt,
    Rma,
    Scan,
)
from shared.db import as_utc
from shared.errors import NotFound, ValidationFailed


# ---------------------------------------------------------------- receipts (scanners, returns desk)
class Rejected(Exception):
    """Why a scan cannot be applied, and the field of the scan it is about (for a hand booking)."""

    def __init__(self, reason, field="_schema"):
        super().__init__(reason)
        self.reason, self.field = reason, field


def apply_receipt(uow, msg: dict, now, keep_rejected: bool = True) -> dict:
    """One scan: an RMA's old part at a warehouse or the factory, an inspection, or new stock.

    Returns {"outcome": "duplicate"|"accepted"|"rejected", ...}. A rejected scan is stored with
    its reason and payload (never lost); the same scan id again changes nothing. Without
    `keep_rejected` (a person at the desk, who can correct it) a rejection is a `ValidationFailed`
    naming the scan's field, and the caller's unit of work rolls back."""
    session = uow.session
    scan_id = msg["scan_id"]
    if session.get(Scan, scan_id) is not None:
        return {"outcome": "duplicate", "scan_id": scan_id}
    at = msg.get("received_at") or now
    loc = session.get(Location, msg["location_id"])
    try:
        if loc is None:
            raise Rejected(f"unknown location {msg['location_id']}", "location_id")
        if msg["kind"] == "stock":
            result = _stock_receipt(uow, loc, msg, at)
        else:
            result = _rma_receipt(uow, loc, msg, at)
    except Rejected as exc:
        if not keep_rejected:
            raise ValidationFailed(exc.reason, {exc.field: [exc.reason]}) from None
        tenant = loc.tenant_id if loc is not None else domain.HQ_TENANT
        session.add(
            RejectedReceipt(
                tenant_id=tenant,
                scan_id=scan_id,
                location_id=msg["location_id"],
                rma_no=msg.get("rma_no"),
                reason=exc.reason,
                payload=_jsonable(msg),
                received_at=at,
            )
        )
        session.add(
            Scan(
                tenant_id=tenant,
                scan_id=scan_id,
                kind=msg["kind"],
                location_id=msg["location_id"],
                rma_no=msg.get("rma_no"),
                outcome="rejected",
                detail=exc.reason,
                received_at=at,
            )
        )
        return {"outcome": "rejected", "scan_id": scan_id, "reason": exc.reason}
    session.add(
        Scan(
            tenant_id=loc.tenant_id,
            scan_id=scan_id,
            kind=msg["kind"],
            location_id=loc.id,
            rma_no=msg.get("rma_no"),
            outcome="accepted",
            detail=result.get("stage"),
            received_at=at,
        )
    )
    result.update(outcome="accepted", scan_id=scan_id)
    return result


def book_by_hand(uow, principal, msg: dict, now) -> dict:
    """A scan typed in at the receiving desk (手工入库/签收): the scanner's message, booked as the
    scanner's would be, by a keeper of the location (its warehouse, its center, HQ). Its scan id is
    made here unless given; the same scan id again changes nothing."""
    loc = uow.session.get(Location, msg["location_id"])
    if loc is None:
        raise ValidationFailed("unknown location", {"location_id": [f"unknown location {msg['location_id']}"]})
    domain.check_stock_keeper(principal, loc)
    scan_id = msg.get("scan_id") or f"HAND-{uuid.uuid4().hex[:16].upper()}"
    return apply_receipt(uow, dict(msg, scan_id=scan_id, scanned_by=principal.user), now, keep_rejected=False)


def check_visible_rma(session, msg: dict) -> None:
    """The return a person books must be one they may see (`session` acts as them)."""
    if msg.get("rma_no") and session.get(Rma, msg["rma_no"]) is None:
        raise ValidationFailed("unknown RMA", {"rma_no": [f"unknown RMA {msg['rma_no']}"]})


def _stock_receipt(uow, loc, msg, at):
    if loc.kind != domain.WAREHOUSE:
        raise Rejected(f"new stock is received at a warehouse, {loc.id} is a {loc.kind}", "location_id")
    p = uow.session.get(Part, msg["part_no"])
    if p is None:
        raise Rejected(f"unknown part {msg['part_no']}", "part_no")
    try:
        serials = domain.check_serials(msg["quantity"], msg.get("serials"))
    except ValidationFailed as exc:
        raise Rejected(exc.message, next(iter(exc.fields or {}), "serials")) from None
    ledger.post(
        uow.session,
        tenant_id=loc.tenant_id,
        location_id=loc.id,
        part_no=p.part_no,
        quantity=msg["quantity"],
        kind=MovementKind.RECEIPT,
        movement_no=domain.new_movement_no(MovementKind.RECEIPT),
        at=at,
        counterpart_id=domain.FACTORY,
        reason=msg.get("note") or "goods receipt",
        ref=msg["scan_id"],
        serials=serials,
        user=msg.get("scanned_by"),
    )
    return {"stage": "stock", "part_no": p.part_no, "quantity": msg["quantity"]}


def _rma_receipt(uow, loc, msg, at):
    session = uow.session
    rma = session.get(Rma, msg["rma_no"])
    if rma is None:
        raise Rejected(f"unknown RMA {msg['rma_no']}", "rma_no")
    if msg.get("part_no") and msg["part_no"] != rma.part_no:
        raise Rejected(f"RMA {rma.rma_no} is for {rma.part_no}, scanned part is {msg['part_no']}", "part_no")
    try:
        step = domain.receipt_step(rma.status, loc.kind, as_utc(rma.due_at), at, msg["kind"])
    except ValueError as exc:
        raise Rejected(f"RMA {rma.rma_no}: {exc}", "rma_no") from None
    qty = msg["quantity"]
    if step.stage == "warehouse":
        outlet = session.get(Location, rma.outlet_id)
        moved = min(qty, ledger.balance(session, outlet.id, rma.part_no, DEFECTIVE)[0])
        movement_no = domain.new_movement_no(MovementKind.RETURN)
        serials = [msg["serial"]] if msg.get("serial") else None
        if moved:
            ledger.transfer(
                session,
                source=outlet,
                target=loc,
                part_no=rma.part_no,
                quantity=moved,
                kind=MovementKind.RETURN,
                movement_no=movement_no,
                at=at,
                condition=DEFECTIVE,
                ref=rma.rma_no,
                serials=serials,
                user=msg.get("scanned_by"),
            )
        if qty > moved:  # more arrived than the outlet had booked out: taken in, and visible as such
            ledger.post(
                session,
                tenant_id=loc.tenant_id,
                location_id=loc.id,
                part_no=rma.part_no,
                quantity=qty - moved,
                kind=MovementKind.ADJUSTMENT,
                condition=DEFECTIVE,
                movement_no=movement_no,
                at=at,
                ref=rma.rma_no,
                reason=f"received more than booked on {rma.rma_no}",
            )
        rma.status, rma.warehouse_received_at, rma.warehouse_location_id = RmaStatus.AT_WAREHOUSE, at, loc.id
        rma.warehouse_serial, rma.warehouse_quantity, rma.late = msg.get("serial"), qty, step.late
        uow.emit(
            "parts.return_received",
            {
                "tenant_id": rma.tenant_id,
                "rma_no": rma.rma_no,
                "outlet_id": rma.outlet_id,
                "part_no": rma.part_no,
                "visit_id": rma.visit_id,
                "location_id": loc.id,
                "received_at": at,
                "late": step.late,
            },
        )
        return {"stage": "warehouse", "rma_no": rma.rma_no, "late": step.late}
    if step.stage == "factory":
        source = session.get(Location, rma.warehouse_location_id or rma.warehouse_id)
        have = ledger.balance(session, source.id, rma.part_no, DEFECTIVE)[0]
        moved = min(qty, have)
        if moved:
            ledger.transfer(
                session,
                source=source,
                target=loc,
                part_no=rma.part_no,
                quantity=moved,
                kind=MovementKind.RETURN,
                movement_no=domain.new_movement_no(MovementKind.RETURN),
                at=at,
                condition=DEFECTIVE,
                ref=rma.rma_no,
                serials=[msg["serial"]] if msg.get("serial") else None,
                user=msg.get("scanned_by"),
            )
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


def resolve_rejected(session, scan_id, user: str, resolution: str, now) -> RejectedReceipt:
    """Someone looked at a rejected scan and settled it (the scan itself stays as it was)."""
    row = session.get(RejectedReceipt, scan_id) if isinstance(scan_id, str) else None
    if row is None:
        raise NotFound(f"rejected receipt {scan_id} not found")
    row.resolved_at, row.resolution = now, f"{user}: {resolution}"
    return row
