"""An exchange's replacement request and a receipt of the machine at the same time, on PostgreSQL
(services/parts/replacements.py): whichever transaction comes first, the other waits on the
balance row and then sees it, so the request ends issued with the received unit, never waiting
beside a unit on hand. The second transaction runs in its own process (a real second session that
blocks), the first is held open here until it does."""

import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg2
import pytest

from services.parts import ledger, replacements
from services.parts.models import ReplacementRequest
from shared import tenancy
from tests.parts_fixtures import store_for

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
CASE = "rc_race0001"

# the other side, run in a fresh interpreter: `request` or `receipt`; prints what it did
CHILD = """
import sys
from datetime import UTC, datetime
from services.parts import ledger, replacements
from services.parts.models import Base
from shared import tenancy
from shared.db import Store
from tests.service.test_parts_replacement_postgres import fact, receive

url, side = sys.argv[1], sys.argv[2]
store = Store("parts", url, Base.metadata, "services.parts.migrations")
with store.uow(tenancy.service_principal("parts-test").acting_for(None)) as uow:
    if side == "request":
        print(replacements.requested(uow, fact(), datetime.now(UTC)).status)
    else:
        print(",".join(r.return_case_id for r in receive(uow, "CK6150RACE02")))
    uow.commit()
store.dispose()
"""


def fact():
    return {
        "tenant_id": "C01",
        "return_case_id": CASE,
        "ticket_id": "t-race",
        "kind": "exchange",
        "product_line": "数控车床",
        "model": "CK6150",
        "serial_no": "CK6150RT0099",
        "replacement_serial": None,
        "by": "wuhan-agent",
        "at": AT,
    }


def receive(uow, serial):
    """A unit of the machine received at WH-C01 and what it sets off (as parts' receive_stock does)."""
    ledger.post(
        uow.session,
        tenant_id="C01",
        location_id="WH-C01",
        part_no="M-CK6150",
        quantity=1,
        kind="receipt",
        movement_no=f"REC-{serial}",
        at=AT,
        serials=[serial],
    )
    return replacements.stock_arrived(uow, "WH-C01", "M-CK6150", AT, "wuhan-keeper")


def _uow(store):
    return store.uow(tenancy.service_principal("parts-test").acting_for(None))


def _wait_until_blocked(pg_url, timeout=60.0):
    """Until another session of the database waits on a lock (False if none did in time: the child
    process starts a Python with SQLAlchemy first, which took over 10 s at a load average of 12)."""
    dsn = pg_url.replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cur.fetchone()[0]:
                    return True
            conn.rollback()
            time.sleep(0.1)
        return False
    finally:
        conn.close()


def _prepare(pg_url):
    """The machine known to parts, its balance row there (a unit was received and sent before)."""
    store = store_for(pg_url)
    with _uow(store) as uow:
        receive(uow, "CK6150OLD01")
        ledger.post(
            uow.session,
            tenant_id="C01",
            location_id="WH-C01",
            part_no="M-CK6150",
            quantity=-1,
            kind="issue",
            movement_no="OUT-old",
            at=AT,
            serials=["CK6150OLD01"],
        )
        uow.commit()
    return store


def _child(pg_url, side):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, pg_url, side],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _settled(store):
    with _uow(store) as uow:
        request = uow.session.get(ReplacementRequest, CASE)
        good = ledger.balance(uow.session, "WH-C01", "M-CK6150")
        return (request.status, request.serial, good)


@pytest.mark.postgres
def test_a_request_while_a_receipt_is_booking_waits_for_it_and_takes_the_unit(pg_url):
    store = _prepare(pg_url)
    try:
        with _uow(store) as uow:
            assert receive(uow, "CK6150RACE02") == []  # nobody waiting yet; not committed
            child = _child(pg_url, "request")
            blocked = _wait_until_blocked(pg_url)
            uow.commit()
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert blocked, "the request did not wait for the receipt's balance row"
        assert out.strip() == "issued", (out, err)
        assert _settled(store) == ("issued", "CK6150RACE02", (0, 0))
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_receipt_while_a_request_is_deciding_waits_for_it_and_issues_the_unit(pg_url):
    store = _prepare(pg_url)
    try:
        with _uow(store) as uow:
            assert replacements.requested(uow, fact(), AT).status == "waiting"  # not committed
            child = _child(pg_url, "receipt")
            blocked = _wait_until_blocked(pg_url)
            uow.commit()
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert blocked, "the receipt did not wait for the request's balance row"
        assert out.strip() == CASE, (out, err)
        assert _settled(store) == ("issued", "CK6150RACE02", (0, 0))
    finally:
        store.dispose()
