"""Returned and exchanged machines in parts' stock ledger (services/parts/machines.py), on a real
SQLite store: the machine back in the center's warehouse is booked once, as a defective unit with
its serial; the replacement leaves good stock, and is refused when there is none."""

from datetime import UTC, datetime

import pytest

from services.parts import ledger, machines
from services.parts.contracts import InsufficientStock
from services.parts.models import Movement, Part
from shared import tenancy
from tests.parts_fixtures import parts_store  # noqa: F401  (a fixture)

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _fact(kind="return", case="rc_0001", **kw):
    return {
        "tenant_id": "C01",
        "return_case_id": case,
        "ticket_id": "t-1",
        "kind": kind,
        "product_line": "数控车床",
        "model": "CK6150",
        "serial_no": "CK6150RT0001",
        "replacement_serial": None,
        "by": "wuhan-agent",
        "at": AT,
        **kw,
    }


def _uow(store):
    return store.uow(tenancy.service_principal("parts-test").acting_for("C01"))


def test_a_returned_machine_is_booked_once_into_the_centers_warehouse(parts_store):  # noqa: F811
    for _ in range(2):
        with _uow(parts_store) as uow:
            machines.machine_returned(uow.session, _fact())
            uow.commit()
    with _uow(parts_store) as uow:
        assert ledger.balance(uow.session, "WH-C01", "M-CK6150", "defective") == (1, 0)
        assert ledger.balance(uow.session, "WH-C01", "M-CK6150", "good") == (0, 0)
        (move,) = uow.session.query(Movement).filter(Movement.part_no == "M-CK6150").all()
        assert (move.kind, move.quantity, move.serials, move.counterpart_id, move.ref) == (
            "return",
            1,
            ["CK6150RT0001"],
            "CUSTOMER",
            "t-1",
        )
        part = uow.session.get(Part, "M-CK6150")
        assert (part.kind, part.product_line, part.fits) == ("machine", "数控车床", ["CK6150"])


def test_a_replacement_leaves_good_stock_once_and_is_refused_without_it(parts_store):  # noqa: F811
    fact = _fact(kind="exchange", case="rc_0002", replacement_serial="CK6150NEW0009")
    with _uow(parts_store) as uow, pytest.raises(InsufficientStock):
        machines.replacement_issued(uow.session, fact)
    with _uow(parts_store) as uow:
        machines.machine_returned(uow.session, fact)
        ledger.post(
            uow.session,
            tenant_id="C01",
            location_id="WH-C01",
            part_no="M-CK6150",
            quantity=1,
            kind="receipt",
            movement_no="REC-test",
            at=AT,
        )
        uow.commit()
    for _ in range(2):
        with _uow(parts_store) as uow:
            machines.replacement_issued(uow.session, fact)
            uow.commit()
    with _uow(parts_store) as uow:
        assert ledger.balance(uow.session, "WH-C01", "M-CK6150", "good") == (0, 0)
        assert ledger.balance(uow.session, "WH-C01", "M-CK6150", "defective") == (1, 0)
        out = uow.session.query(Movement).filter(Movement.movement_no == "RX-rc_0002").one()
        assert (out.kind, out.quantity, out.serials) == ("issue", -1, ["CK6150NEW0009"])
