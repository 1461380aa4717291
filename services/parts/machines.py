"""Returned and exchanged machines (退换机, intake's returns.py) in the stock ledger.

A machine a customer returned or exchanged comes back into the center's regional warehouse (the
seed's 地区顾客服务部 handles 退换机; `domain.warehouse_of`) as a defective unit (only a quality
problem is taken back), serial recorded, kind `return`; an exchange's replacement leaves the
same warehouse's good stock to the customer, kind `issue`. A machine is stocked under its own
catalogue entry, ``M-<model>`` (kind ``machine``), added the first time one is seen so that the
stock lists show it; parts keeps no price for it (unit cost 0: its value is settlement's).

Each booking's movement number is derived from the case (``RM-``/``RX-`` and the case id), so
the same fact heard twice (a redelivery under a new message id, a replay) books nothing twice.
A replacement the warehouse has no good unit of is refused (InsufficientStock): the message is
dead-lettered, to be replayed once the unit is received.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from services.parts import domain, ledger
from services.parts.domain import DEFECTIVE, GOOD, MovementKind
from services.parts.models import Movement, Part

MACHINE_KIND = "machine"
CUSTOMER = "CUSTOMER"  # the counterpart of a machine coming from or going to the customer


def machine_part_no(model: str) -> str:
    return f"M-{model}"[:32]


def movement_no(prefix: str, case_id: str) -> str:
    return f"{prefix}-{case_id}"[:32]


def _machine(session, payload) -> Part:
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


def _booked(session, number: str) -> bool:
    return session.scalar(select(Movement.id).where(Movement.movement_no == number).limit(1)) is not None


def machine_returned(session, payload) -> Movement | None:
    """The machine back in the center's warehouse (退机入库); None when booked before."""
    number = movement_no("RM", payload["return_case_id"])
    if _booked(session, number):
        return None
    part = _machine(session, payload)
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


def replacement_issued(session, payload) -> Movement | None:
    """An exchange's replacement out of the center's warehouse to the customer; None when booked before."""
    number = movement_no("RX", payload["return_case_id"])
    if _booked(session, number):
        return None
    part = _machine(session, payload)
    serial = payload.get("replacement_serial")
    return ledger.post(
        session,
        tenant_id=payload["tenant_id"],
        location_id=domain.warehouse_of(payload["tenant_id"]),
        part_no=part.part_no,
        quantity=-1,
        kind=MovementKind.ISSUE,
        movement_no=number,
        at=payload["at"],
        condition=GOOD,
        counterpart_id=CUSTOMER,
        reason=f"换机发出 {payload['return_case_id']}",
        ref=payload["ticket_id"],
        serials=[serial] if serial else None,
        user=payload.get("by"),
    )
