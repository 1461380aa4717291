"""A replacement awaiting stock cancelled while a unit of the machine is received, on PostgreSQL
(services/parts/replacements.py `cancel`): both decide on the same balance row, so whichever
transaction comes first the other waits and then sees it. Cancelled first: the receipt issues
nothing and the unit stays on the shelf. Received first: the unit went to the customer and the
cancel is refused (409 naming the state). The second transaction runs in its own process (a real
second session that blocks), the first is held open here until it does."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.parts import replacements
from services.parts.models import ReplacementRequest
from shared import tenancy
from tests.service.test_parts_replacement_postgres import (
    CASE,
    _prepare,
    _settled,
    _uow,
    _wait_until_blocked,
    fact,
    receive,
)

ROOT = Path(__file__).resolve().parents[2]
AT = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
CENTER = tenancy.Principal("wuhan-agent", "center", tenant="C01")

# the other side, run in a fresh interpreter: `cancel` or `receipt`; prints what it did
CHILD = """
import sys
from datetime import UTC, datetime
from services.parts import replacements
from services.parts.models import Base
from shared import tenancy
from shared.db import Store
from shared.errors import InvalidTransition
from tests.service.test_parts_replacement_postgres import CASE, receive

url, side = sys.argv[1], sys.argv[2]
store = Store("parts", url, Base.metadata, "services.parts.migrations")
center = tenancy.Principal("wuhan-agent", "center", tenant="C01")
try:
    if side == "cancel":
        with store.uow(center) as uow:
            try:
                print(replacements.cancel(uow, center, CASE, "客户改为退款", datetime.now(UTC)).status)
                uow.commit()
            except InvalidTransition as exc:
                print("refused", exc.fields["step"][0])
    else:
        with store.uow(tenancy.service_principal("parts-test").acting_for(None)) as uow:
            print("served:" + ",".join(r.return_case_id for r in receive(uow, "CK6150RACE02")))
            uow.commit()
finally:
    store.dispose()
"""


def _waiting(pg_url):
    """The machine known to parts with none on the shelf, and the exchange's request waiting."""
    store = _prepare(pg_url)
    with _uow(store) as uow:
        assert replacements.requested(uow, fact(), AT).status == "waiting"
        uow.commit()
    return store


def _child(pg_url, side):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, pg_url, side], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _cancelled(store):
    with _uow(store) as uow:
        r = uow.session.get(ReplacementRequest, CASE)
        return (r.cancelled_by, r.cancel_reason, r.movement_no)


@pytest.mark.postgres
def test_a_receipt_while_a_cancel_is_deciding_waits_and_then_issues_nothing(pg_url):
    store = _waiting(pg_url)
    try:
        with store.uow(CENTER) as uow:
            assert replacements.cancel(uow, CENTER, CASE, "客户改为退款", AT).status == "cancelled"  # not committed
            child = _child(pg_url, "receipt")
            blocked = _wait_until_blocked(pg_url)
            uow.commit()
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert blocked, "the receipt did not wait for the cancel's balance row"
        assert out.strip() == "served:", (out, err)  # nobody waiting any more
        assert _settled(store) == ("cancelled", None, (1, 0))  # the unit stays on the shelf
        assert _cancelled(store) == ("wuhan-agent", "客户改为退款", None)
        # the same cancel again (a retry): nothing changes, no error
        with store.uow(CENTER) as uow:
            assert replacements.cancel(uow, CENTER, CASE, "再次提交", AT).cancel_reason == "客户改为退款"
            uow.commit()
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_cancel_while_a_receipt_is_issuing_waits_and_is_refused(pg_url):
    store = _waiting(pg_url)
    try:
        with _uow(store) as uow:
            assert [r.return_case_id for r in receive(uow, "CK6150RACE02")] == [CASE]  # issued, not committed
            child = _child(pg_url, "cancel")
            blocked = _wait_until_blocked(pg_url)
            uow.commit()
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        assert blocked, "the cancel did not wait for the receipt's balance row"
        assert out.startswith("refused") and "issued" in out, (out, err)
        assert _settled(store) == ("issued", "CK6150RACE02", (0, 0))
        assert _cancelled(store) == (None, None, f"RX-{CASE}")
    finally:
        store.dispose()
