"""The stock ledger: every change of stock is a `Movement` leg plus a guarded update of its
`StockBalance` row, in the caller's transaction.

Negative stock is impossible twice over: every decrement is an UPDATE whose WHERE clause
requires enough (available) stock — the row count tells whether it applied — and the balance
row carries CHECK constraints (on_hand >= 0, 0 <= reserved <= on_hand) that the database
enforces whatever the code does. On PostgreSQL two transactions that race for the last unit
serialise on the row lock; the loser re-evaluates the WHERE clause against the winner's
committed row and updates nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from services.parts.contracts import InsufficientStock  # the gateway's to tell apart: in the contract
from services.parts.domain import GOOD
from services.parts.models import Movement, StockBalance

_balances = StockBalance.__table__


def _key(location_id, part_no, condition):
    return (
        (_balances.c.location_id == location_id)
        & (_balances.c.part_no == part_no)
        & (_balances.c.condition == condition)
    )


def ensure_balance(session, tenant_id: str, location_id: str, part_no: str, condition: str = GOOD):
    """The balance row exists afterwards (created at zero if missing; safe under concurrency)."""
    values = dict(
        tenant_id=tenant_id, location_id=location_id, part_no=part_no, condition=condition, on_hand=0, reserved=0
    )
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = pg_insert(_balances).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_insert(_balances).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover
        if session.execute(select(_balances.c.on_hand).where(_key(location_id, part_no, condition))).first():
            return
        stmt = _balances.insert().values(**values)
    session.execute(stmt)


def balance(session, location_id, part_no, condition=GOOD) -> tuple[int, int]:
    row = session.execute(
        select(_balances.c.on_hand, _balances.c.reserved).where(_key(location_id, part_no, condition))
    ).first()
    return (row.on_hand, row.reserved) if row else (0, 0)


def lock_available(session, tenant_id: str, location_id: str, part_no: str, condition: str = GOOD) -> int:
    """The units available (on hand, not reserved), with the balance row locked to the end of the
    transaction (FOR UPDATE; SQLite serialises writers anyway): a decision taken on it and a
    booking that changes it (which updates, so locks, the same row) happen one after the other."""
    ensure_balance(session, tenant_id, location_id, part_no, condition)
    row = session.execute(
        select(_balances.c.on_hand, _balances.c.reserved).where(_key(location_id, part_no, condition)).with_for_update()
    ).one()
    return int(row.on_hand - row.reserved)


def _apply(session, location_id, part_no, condition, delta: int, from_reserved: bool):
    where = _key(location_id, part_no, condition)
    values = {"on_hand": _balances.c.on_hand + delta}
    if delta < 0:
        need = -delta
        if from_reserved:
            where = where & (_balances.c.reserved >= need) & (_balances.c.on_hand >= need)
            values["reserved"] = _balances.c.reserved - need
        else:
            where = where & (_balances.c.on_hand - _balances.c.reserved >= need)
    result = session.execute(update(_balances).where(where).values(**values))
    if result.rowcount != 1:
        on_hand, reserved = balance(session, location_id, part_no, condition)
        raise InsufficientStock(
            f"not enough {part_no} ({condition}) at {location_id}: {on_hand - reserved} available, {-delta} needed",
            {"quantity": [f"{max(0, on_hand - reserved)} available at {location_id}"]},
        )


def post(
    session,
    *,
    tenant_id: str,
    location_id: str,
    part_no: str,
    quantity: int,
    kind: str,
    movement_no: str,
    at: datetime,
    condition: str = GOOD,
    counterpart_id: str | None = None,
    reason: str | None = None,
    ref: str | None = None,
    serials=None,
    user: str | None = None,
    from_reserved: bool = False,
) -> Movement:
    """Book one leg: the balance moves by `quantity` (guarded) and the movement is recorded."""
    if quantity == 0:
        raise ValueError("a movement of zero units")
    ensure_balance(session, tenant_id, location_id, part_no, condition)
    _apply(session, location_id, part_no, condition, quantity, from_reserved)
    leg = Movement(
        tenant_id=tenant_id,
        movement_no=movement_no,
        kind=kind,
        location_id=location_id,
        counterpart_id=counterpart_id,
        part_no=part_no,
        condition=condition,
        quantity=quantity,
        reason=reason,
        ref=ref,
        serials=list(serials) if serials else None,
        occurred_at=at,
        user=user,
    )
    session.add(leg)
    return leg


def transfer(
    session,
    *,
    source,
    target,
    part_no: str,
    quantity: int,
    kind: str,
    movement_no: str,
    at: datetime,
    condition: str = GOOD,
    reason=None,
    ref=None,
    serials=None,
    user=None,
    from_reserved=False,
):
    """Two legs of one movement: out of `source`, into `target` (locations with .id and .tenant_id)."""
    post(
        session,
        tenant_id=source.tenant_id,
        location_id=source.id,
        part_no=part_no,
        quantity=-quantity,
        kind=kind,
        movement_no=movement_no,
        at=at,
        condition=condition,
        counterpart_id=target.id,
        reason=reason,
        ref=ref,
        serials=serials,
        user=user,
        from_reserved=from_reserved,
    )
    post(
        session,
        tenant_id=target.tenant_id,
        location_id=target.id,
        part_no=part_no,
        quantity=quantity,
        kind=kind,
        movement_no=movement_no,
        at=at,
        condition=condition,
        counterpart_id=source.id,
        reason=reason,
        ref=ref,
        serials=serials,
        user=user,
    )


def reserve(session, tenant_id: str, location_id: str, part_no: str, quantity: int) -> bool:
    """Hold `quantity` units of the available stock; False (nothing held) when not enough."""
    ensure_balance(session, tenant_id, location_id, part_no, GOOD)
    result = session.execute(
        update(_balances)
        .where(_key(location_id, part_no, GOOD) & (_balances.c.on_hand - _balances.c.reserved >= quantity))
        .values(reserved=_balances.c.reserved + quantity)
    )
    return result.rowcount == 1


def release(session, location_id: str, part_no: str, quantity: int):
    session.execute(
        update(_balances)
        .where(_key(location_id, part_no, GOOD) & (_balances.c.reserved >= quantity))
        .values(reserved=_balances.c.reserved - quantity)
    )


def recomputed_balances(session, location_ids=None):
    """Balances recomputed from the movements alone: {(location, part, condition): quantity}."""
    stmt = select(Movement.location_id, Movement.part_no, Movement.condition, func.sum(Movement.quantity)).group_by(
        Movement.location_id, Movement.part_no, Movement.condition
    )
    if location_ids is not None:
        stmt = stmt.where(Movement.location_id.in_(list(location_ids)))
    return {(loc, part, cond): int(q) for loc, part, cond, q in session.execute(stmt)}
