"""An exchange's replacement machine, asked by intake and answered by parts (退换机; rules in
machines.py): a two-step exchange between the services, so that the return case only says
"replaced" once the stock says so.

- `requested` (return.replacement_requested): the request is recorded once per case; with a good
  unit available in the center's warehouse it is booked out at once (``RX-<case>``) and
  ``parts.replacement_issued`` says so with the unit; without one it waits and
  ``parts.replacement_short`` says so. Neither is an error: nothing is dead-lettered for a
  shortage.
- `stock_arrived` (a receipt, a transfer in or a count correction of that machine at that
  warehouse, in the same transaction): the waiting requests the units now available serve, the
  oldest first, are booked out and each emits ``parts.replacement_issued`` (``waited``).

- `cancel` (intake's RPC, the center cancelling a replacement awaiting stock): the waiting request
  is cancelled (who, when, why) and no receipt issues it from then on; one issued is refused (409).

The decision and the booking that changes the stock serialise on the balance row
(`ledger.lock_available`; a receipt's booking updates, so locks, the same row first), so a request
and a receipt of the same machine at the same time neither both miss nor both take the unit, and a
cancel and a receipt do one after the other: cancelled first, the receipt no longer sees it waiting;
issued first, the cancel sees it issued and is refused.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from services.parts import domain, ledger, machines
from services.parts.models import ReplacementRequest
from shared.errors import NotFound

log = logging.getLogger(__name__)


def requested(uow, payload, now) -> ReplacementRequest | None:
    """An exchange's replacement asked: issued at once or waiting (each answered by an event).
    None when the case was asked before, or its replacement booked before this table (a replay)."""
    session = uow.session
    case_id = payload["return_case_id"]
    if session.get(ReplacementRequest, case_id) is not None or machines.booked(
        session, machines.movement_no("RX", case_id)
    ):
        log.info("replacement for return case %s asked before: nothing more", case_id)
        return None
    part = machines.machine(session, payload)
    location_id = domain.warehouse_of(payload["tenant_id"])
    available = ledger.lock_available(session, payload["tenant_id"], location_id, part.part_no)
    request = ReplacementRequest(
        return_case_id=case_id,
        tenant_id=payload["tenant_id"],
        ticket_id=payload["ticket_id"],
        location_id=location_id,
        part_no=part.part_no,
        wanted_serial=payload.get("replacement_serial"),
        status=machines.WAITING,
        requested_by=payload.get("by"),
        requested_at=payload["at"],
    )
    session.add(request)
    if machines.to_issue([request], available):
        _issue([request], uow, user=request.requested_by, now=now, waited=False)
    else:
        request.short_at = now
        uow.emit("parts.replacement_short", _event(request, now))
    return request


def stock_arrived(uow, location_id: str, part_no: str, now, user: str | None) -> list[ReplacementRequest]:
    """Stock of `part_no` came into `location_id` (booked in this unit of work): the waiting
    replacements the available good units serve are issued, the oldest first."""
    session = uow.session
    waiting = session.scalars(
        select(ReplacementRequest)
        .where(
            ReplacementRequest.location_id == location_id,
            ReplacementRequest.part_no == part_no,
            ReplacementRequest.status == machines.WAITING,
        )
        .order_by(ReplacementRequest.requested_at, ReplacementRequest.return_case_id)
    ).all()
    if not waiting:
        return []
    available = ledger.lock_available(session, waiting[0].tenant_id, location_id, part_no)
    served = machines.to_issue(waiting, available)
    _issue(served, uow, user=user, now=now, waited=True)
    return served


def cancel(uow, principal, case_id: str, reason: str, now) -> ReplacementRequest:
    """Cancel the waiting replacement of `case_id` (the customer took a refund or withdrew):
    decided on the balance row a receipt locks first, so a unit arriving now is either issued
    before (then this is refused: InvalidTransition) or never. A cancel heard again changes nothing."""
    machines.check_canceller(principal.role)
    session = uow.session
    request = session.get(ReplacementRequest, case_id)
    if request is None:
        raise NotFound("no replacement was asked for this case", {"case_id": ["parts holds no replacement request"]})
    ledger.lock_available(session, request.tenant_id, request.location_id, request.part_no)
    session.refresh(request)  # as it is now that the row is ours (a receipt may have issued it meanwhile)
    if machines.cancellable(request.status):
        request.status, request.cancelled_at, request.cancelled_by = machines.CANCELLED, now, principal.user
        request.cancel_reason = reason
    return request


def _issue(requests, uow, *, user, now, waited: bool) -> None:
    """Book each request's unit out of its warehouse and say so (parts.replacement_issued)."""
    if not requests:
        return
    session = uow.session
    on_hand = machines.good_serials(session, requests[0].location_id, requests[0].part_no)
    taken: list[str] = []
    for request in requests:
        serial = machines.pick_serial(request.wanted_serial, on_hand, taken)
        move = machines.book_replacement(
            session,
            tenant_id=request.tenant_id,
            location_id=request.location_id,
            part_no=request.part_no,
            case_id=request.return_case_id,
            ticket_id=request.ticket_id,
            serial=serial,
            at=now,
            user=user,
        )
        if serial:
            taken.append(serial)
        request.status, request.issued_at, request.issued_by = machines.ISSUED, now, user
        request.movement_no, request.serial = move.movement_no, serial
        uow.emit("parts.replacement_issued", dict(_event(request, now), waited=waited))


def _event(request: ReplacementRequest, now) -> dict:
    return {
        "tenant_id": request.tenant_id,
        "return_case_id": request.return_case_id,
        "ticket_id": request.ticket_id,
        "location_id": request.location_id,
        "part_no": request.part_no,
        "movement_no": request.movement_no,
        "serial": request.serial,
        "waited": False,
        "by": request.issued_by or request.requested_by,
        "at": now,
    }
