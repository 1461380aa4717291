"""Returned and exchanged machines (退换机, intake's returns.py) in the stock ledger.

A machine a customer returned or exchanged comes back into the center's regional warehouse (the
seed's 地区顾客服务部 handles 退换机; `domain.warehouse_of`) as a defective unit (only a quality
problem is taken back), serial recorded, kind `return`; an exchange's replacement leaves the
same warehouse's good stock to the customer, kind `issue`. A machine is stocked under its own
catalogue entry, ``M-<model>`` (kind ``machine``), added the first time one is seen so that the
stock lists show it; parts keeps no price for it (unit cost 0: its value is settlement's).

Each booking's movement number is derived from the case (``RM-``/``RX-`` and the case id), so
the same fact heard twice (a redelivery under a new message id, a replay) books nothing twice.

An exchange's replacement is asked (return.replacement_requested) and answered by parts
(`replacements`): the rules here say which waiting requests the good units on hand serve (first
asked, first served: `to_issue`) and which unit goes (`pick_serial`: the one the center named,
else the longest on hand of the serials received and not yet gone out, `serials_on_hand`). A
shortage is a business answer (parts.replacement_short), never a failed message. A waiting request
may be cancelled (`cancellable`), never one issued.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import select

from services.parts import domain, ledger
from services.parts.domain import DEFECTIVE, GOOD, MovementKind
from services.parts.models import Movement, Part
from shared import tenancy
from shared.errors import Forbidden, InvalidTransition

MACHINE_KIND = "machine"
CUSTOMER = "CUSTOMER"  # the counterpart of a machine coming from or going to the customer
WAITING, ISSUED, CANCELLED = "waiting", "issued", "cancelled"  # a replacement request's status

_R = TypeVar("_R")


# ---------------------------------------------------------------- the rules (plain Python)
def to_issue(waiting: Sequence[_R], available: int) -> list[_R]:
    """The requests the `available` good units serve, in the order given (the oldest first): as
    many as there are units; none when there are none (they keep waiting)."""
    return list(waiting[: max(0, available)])


def serials_on_hand(legs: Iterable[tuple[int, Sequence[str] | None]]) -> list[str]:
    """The serials still at a location from its legs in booking order ((signed quantity, serials)):
    in with a positive leg, gone with a negative one; the longest on hand first."""
    held: list[str] = []
    for quantity, serials in legs:
        for serial in serials or ():
            if quantity > 0 and serial not in held:
                held.append(serial)
            elif quantity < 0 and serial in held:
                held.remove(serial)
    return held


def pick_serial(wanted: str | None, on_hand: Sequence[str], taken: Iterable[str] = ()) -> str | None:
    """The unit a replacement sends: the one the center named, else the longest on hand not already
    taken by another request served in the same booking; None when no serial is known."""
    if wanted:
        return wanted
    gone = set(taken)
    return next((s for s in on_hand if s not in gone), None)


def check_canceller(role: str) -> None:
    """The center (its own warehouse's requests: the scoped session) or HQ cancels a replacement."""
    if role not in (tenancy.CENTER, tenancy.HQ):
        raise Forbidden(f"role {role} cannot cancel a replacement")


def cancellable(status: str) -> bool:
    """May a replacement request be cancelled (the center's customer took a refund or withdrew)?
    A waiting one is (True); one cancelled before is left as it is (False: the same cancel heard
    again); one issued is not: the unit has gone to the customer (Conflict naming the status)."""
    if status == ISSUED:
        raise InvalidTransition(
            "the replacement was issued already: it cannot be cancelled",
            {"step": [f"the replacement is {ISSUED}; only one awaiting stock is cancelled"]},
        )
    return status == WAITING


def machine_part_no(model: str) -> str:
    return f"M-{model}"[:32]


def movement_no(prefix: str, case_id: str) -> str:
    return f"{prefix}-{case_id}"[:32]


# ---------------------------------------------------------------- bookings
def machine(session, payload) -> Part:
    part_no = machine_part_no(payload["model"])
    part = session.get(Part, part_no)
    if part is None:
        part = Part(
            part_no=part_no,
            name=f"整机 {payload['model']}",
            product_line=payload.get("product_line") or "",
            kind=MACHINE_KIND,
            fits=[payload["model"]],
            returnable=True,
            unit_cost=Decimal("0.00"),
        )
        session.add(part)
        session.flush()
    return part


def booked(session, number: str) -> bool:
    return session.scalar(select(Movement.id).where(Movement.movement_no == number).limit(1)) is not None


def machine_returned(session, payload) -> Movement | None:
    """The machine back in the center's warehouse (退机入库); None when booked before."""
    number = movement_no("RM", payload["return_case_id"])
    if booked(session, number):
        return None
    part = machine(session, payload)
    return ledger.post(
        session,
        tenant_id=payload["tenant_id"],
        location_id=domain.warehouse_of(payload["tenant_id"]),
        part_no=part.part_no,
        quantity=1,
        kind=MovementKind.RETURN,
        movement_no=number,
        at=payload["at"],
        condition=DEFECTIVE,
        counterpart_id=CUSTOMER,
        reason=f"{'退机' if payload['kind'] == 'return' else '换机'}入库 {payload['return_case_id']}",
        ref=payload["ticket_id"],
        serials=[payload["serial_no"]],
        user=payload.get("by"),
    )


def good_serials(session, location_id: str, part_no: str) -> list[str]:
    """The serials of the good units at a location (`serials_on_hand` over its movements)."""
    legs = session.execute(
        select(Movement.quantity, Movement.serials)
        .where(Movement.location_id == location_id, Movement.part_no == part_no, Movement.condition == GOOD)
        .order_by(Movement.occurred_at, Movement.id)
    ).all()
    return serials_on_hand((q, s) for q, s in legs)


def book_replacement(
    session, *, tenant_id: str, location_id: str, part_no: str, case_id: str, ticket_id: str, serial, at, user
) -> Movement:
    """An exchange's replacement out of the center's warehouse's good stock to the customer
    (kind issue, ``RX-<case>``); InsufficientStock when there is no good unit (the caller asks first)."""
    return ledger.post(
        session,
        tenant_id=tenant_id,
        location_id=location_id,
        part_no=part_no,
        quantity=-1,
        kind=MovementKind.ISSUE,
        movement_no=movement_no("RX", case_id),
        at=at,
        condition=GOOD,
        counterpart_id=CUSTOMER,
        reason=f"换机发出 {case_id}",
        ref=ticket_id,
        serials=[serial] if serial else None,
        user=user,
    )
