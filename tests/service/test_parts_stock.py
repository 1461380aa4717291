"""Negative stock is impossible: CHECK constraints on the balance row and guarded updates, on SQLite
and PostgreSQL; the last unit reserved (or issued) by concurrent workers — separate OS processes on
PostgreSQL — goes to exactly one of them."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from services.parts import ledger
from services.parts import operations as ops
from services.parts.ledger import InsufficientStock
from services.parts.models import Location, Movement, Reservation, StockBalance
from shared.db import utcnow
from tests.parts_fixtures import SPINDLE, parts_store, service_uow, store_for  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


def give(store, location, part, qty):
    with service_uow(store) as uow:
        loc = uow.session.get(Location, location)
        ledger.post(
            uow.session,
            tenant_id=loc.tenant_id,
            location_id=loc.id,
            part_no=part,
            quantity=qty,
            kind="adjustment",
            movement_no=f"T-{time.time_ns()}",
            at=utcnow(),
            reason="test stock",
        )
        uow.commit()


def check_constraints(store):
    give(store, "WH-C01", SPINDLE, 1)
    for sql in (
        "UPDATE stock_balances SET on_hand = -1",
        "UPDATE stock_balances SET reserved = on_hand + 1",
        "UPDATE stock_balances SET reserved = -1",
    ):
        with store.engine.connect() as conn:
            with pytest.raises(IntegrityError):
                conn.execute(text(sql + f" WHERE location_id = 'WH-C01' AND part_no = '{SPINDLE}'"))
            conn.rollback()
    # the guarded path refuses too, and the refused unit of work leaves nothing behind
    with service_uow(store) as uow:
        wh, outlet = uow.session.get(Location, "WH-C01"), uow.session.get(Location, "C01-O01")
        with pytest.raises(InsufficientStock) as info:
            ops.issue(
                uow, outlet=outlet, warehouse=wh, lines=[{"part_no": SPINDLE, "quantity": 2}], user="t", now=utcnow()
            )
        assert info.value.fields == {"quantity": ["1 available at WH-C01"]}
    with store.session(service_uow(store).principal) as s:
        bal = s.get(StockBalance, ("WH-C01", SPINDLE, "good"))
        assert (bal.on_hand, bal.reserved) == (1, 0)
        assert s.scalar(select(func.count()).select_from(Movement).where(Movement.kind == "issue")) == 0
        assert s.scalar(select(func.count()).select_from(StockBalance).where(StockBalance.on_hand < 0)) == 0


def test_negative_stock_impossible_sqlite(parts_store):
    check_constraints(parts_store)


@pytest.mark.postgres
def test_negative_stock_impossible_postgres(pg_url):
    store = store_for(pg_url)
    try:
        check_constraints(store)
    finally:
        store.dispose()


WORKER = r"""
import sys, time
from services.parts import operations as ops
from services.parts.ledger import InsufficientStock
from services.parts.models import Base, Location
from shared import tenancy
from shared.db import Store, utcnow

url, start, name, part, mode = sys.argv[1:]
store = Store("parts", url, Base.metadata)
with store.uow(tenancy.service_principal(name)) as uow:
    outlet, wh = uow.session.get(Location, "C01-O01"), uow.session.get(Location, "WH-C01")
    uow.session.commit()
    time.sleep(max(0.0, float(start) - time.time()))
    try:
        if mode == "reserve":
            made = ops.reserve(uow, outlet=outlet, warehouse=wh, lines=[(part, 1)], visit_id=name, source="visit",
                               now=utcnow())
            result = made[0].status
        else:
            ops.issue(uow, outlet=outlet, warehouse=wh, lines=[{"part_no": part, "quantity": 1}], user=name,
                      now=utcnow())
            result = "issued"
        uow.commit()
    except InsufficientStock:
        result = "refused"
print(result)
"""


def race(url, mode, workers=8):
    start = time.time() + 3.0
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONWARNINGS="ignore")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(start), f"V{i}", SPINDLE, mode],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(workers)
    ]
    outcomes = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        outcomes.append(out.strip().splitlines()[-1])
    return sorted(outcomes)


@pytest.mark.postgres
def test_last_unit_reserved_exactly_once_by_concurrent_processes(pg_url):
    store = store_for(pg_url)
    try:
        give(store, "WH-C01", SPINDLE, 1)
        outcomes = race(pg_url, "reserve")
        assert outcomes == ["reserved"] + ["short"] * 7
        with store.session(service_uow(store).principal) as s:
            bal = s.get(StockBalance, ("WH-C01", SPINDLE, "good"))
            assert (bal.on_hand, bal.reserved) == (1, 1)
            held = s.scalars(select(Reservation).where(Reservation.status == "reserved")).all()
            assert len(held) == 1
        # the last unit issued by concurrent processes: while it is reserved nobody gets it directly...
        assert race(pg_url, "issue") == ["refused"] * 8
        with service_uow(store) as uow:
            wh = uow.session.get(Location, "WH-C01")
            ledger.release(uow.session, wh.id, SPINDLE, 1)
            uow.commit()
        # ...released, exactly one of eight gets it; never below zero
        assert race(pg_url, "issue") == ["issued"] + ["refused"] * 7
        with store.session(service_uow(store).principal) as s:
            assert s.get(StockBalance, ("WH-C01", SPINDLE, "good")).on_hand == 0
            assert s.get(StockBalance, ("C01-O01", SPINDLE, "good")).on_hand == 1
    finally:
        store.dispose()
