"""Returned and exchanged machines in parts' stock ledger (services/parts/machines.py, the rules;
services/parts/replacements.py, the exchange with intake), on a real SQLite store: the machine back
in the center's warehouse is booked once, as a defective unit with its serial; an exchange's
replacement is booked out of good stock at once (parts.replacement_issued with the unit) or, with
none, waits (parts.replacement_short, nothing raised) and is issued when a unit is received, the
oldest request first."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.parts import ledger, machines, replacements
from services.parts.models import Movement, Part, ReplacementRequest
from shared import tenancy
from shared.outbox import outbox_table
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


def test_the_units_on_hand_serve_the_oldest_requests_with_the_longest_held_serial():
    assert machines.to_issue(["a", "b", "c"], 2) == ["a", "b"]
    assert machines.to_issue(["a"], 0) == [] and machines.to_issue(["a"], -1) == []
    assert machines.to_issue([], 3) == []
    legs = [(1, ["S1"]), (2, ["S2", "S3"]), (-1, ["S1"]), (1, None), (-1, None), (1, ["S4"])]
    assert machines.serials_on_hand(legs) == ["S2", "S3", "S4"]
    assert machines.pick_serial(None, ["S2", "S3"]) == "S2"
    assert machines.pick_serial(None, ["S2", "S3"], taken=["S2"]) == "S3"
    assert machines.pick_serial("NAMED", ["S2"]) == "NAMED"  # the center named the unit
    assert machines.pick_serial(None, [], taken=[]) is None  # stock without serials


def _receive(store, serial, quantity=1, part_no="M-CK6150", at=AT):
    """A receipt of the machine at the center's warehouse, and what it sets off (as the rpc does)."""
    with _uow(store) as uow:
        ledger.post(
            uow.session,
            tenant_id="C01",
            location_id="WH-C01",
            part_no=part_no,
            quantity=quantity,
            kind="receipt",
            movement_no=f"REC-{serial}",
            at=at,
            serials=[serial] if serial else None,
        )
        served = replacements.stock_arrived(uow, "WH-C01", part_no, at, "wuhan-keeper")
        uow.commit()
        return [r.return_case_id for r in served], list(uow.emitted)


def _outbox(store, event_type):
    with store.uow(tenancy.service_principal("parts-test")) as uow:
        rows = uow.session.execute(
            select(outbox_table.c.payload).where(outbox_table.c.event_type == event_type).order_by(outbox_table.c.seq)
        ).all()
    return [json.loads(r.payload) for r in rows]


def test_a_replacement_short_of_stock_waits_and_is_issued_when_a_unit_is_received(parts_store):  # noqa: F811
    fact = _fact(kind="exchange", case="rc_0002")
    with _uow(parts_store) as uow:  # no good unit: a business answer, nothing raised, nothing booked
        machines.machine_returned(uow.session, fact)
        assert replacements.requested(uow, fact, AT).status == "waiting"
        assert [t for t, _ in uow.emitted] == ["parts.replacement_short"]
        uow.commit()
    with _uow(parts_store) as uow:  # asked again (a replay under a new message id): nothing more
        assert replacements.requested(uow, fact, AT) is None and uow.emitted == []
        uow.commit()
    (short,) = _outbox(parts_store, "parts.replacement_short")
    assert (short["return_case_id"], short["location_id"], short["part_no"], short["movement_no"]) == (
        "rc_0002",
        "WH-C01",
        "M-CK6150",
        None,
    )
    assert _receive(parts_store, "OTHER-PART", part_no="VMC-SRV-01")[0] == []  # another part: nothing
    served, emitted = _receive(parts_store, "CK6150NEW0009")
    assert served == ["rc_0002"] and [t for t, _ in emitted] == ["parts.replacement_issued"]
    assert _receive(parts_store, None)[0] == []  # the next unit: nobody waiting any more
    with _uow(parts_store) as uow:
        assert ledger.balance(uow.session, "WH-C01", "M-CK6150", "good") == (1, 0)  # 2 in, 1 out
        assert ledger.balance(uow.session, "WH-C01", "M-CK6150", "defective") == (1, 0)
        out = uow.session.query(Movement).filter(Movement.movement_no == "RX-rc_0002").one()
        assert (out.kind, out.quantity, out.serials, out.user) == ("issue", -1, ["CK6150NEW0009"], "wuhan-keeper")
        request = uow.session.get(ReplacementRequest, "rc_0002")
        assert (request.status, request.serial, request.movement_no) == ("issued", "CK6150NEW0009", "RX-rc_0002")
    (issued,) = _outbox(parts_store, "parts.replacement_issued")
    assert (issued["serial"], issued["movement_no"], issued["waited"], issued["by"]) == (
        "CK6150NEW0009",
        "RX-rc_0002",
        True,
        "wuhan-keeper",
    )


def test_a_replacement_in_stock_is_issued_at_once_and_units_go_to_the_oldest_request(parts_store):  # noqa: F811
    _receive(parts_store, "CK6150NEW0001")
    first = _fact(kind="exchange", case="rc_0003")
    with _uow(parts_store) as uow:
        assert replacements.requested(uow, first, AT).status == "issued"
        assert [t for t, _ in uow.emitted] == ["parts.replacement_issued"]
        uow.commit()
    (issued,) = _outbox(parts_store, "parts.replacement_issued")
    assert (issued["return_case_id"], issued["serial"], issued["waited"], issued["by"]) == (
        "rc_0003",
        "CK6150NEW0001",  # the unit on hand
        False,
        "wuhan-agent",
    )
    # two waiting, then two units in one receipt: each its own unit, the older first; a third waits on
    for n, case in enumerate(("rc_0005", "rc_0004", "rc_0006")):
        with _uow(parts_store) as uow:
            later = _fact(kind="exchange", case=case, at=AT + timedelta(minutes=[2, 1, 3][n]))
            assert replacements.requested(uow, later, AT).status == "waiting"
            uow.commit()
    with _uow(parts_store) as uow:
        ledger.post(
            uow.session,
            tenant_id="C01",
            location_id="WH-C01",
            part_no="M-CK6150",
            quantity=2,
            kind="receipt",
            movement_no="REC-two",
            at=AT,
            serials=["CK6150NEW0002", "CK6150NEW0003"],
        )
        served = replacements.stock_arrived(uow, "WH-C01", "M-CK6150", AT, "wuhan-keeper")
        assert [r.return_case_id for r in served] == ["rc_0004", "rc_0005"]
        assert [r.serial for r in served] == ["CK6150NEW0002", "CK6150NEW0003"]
        uow.commit()
    with _uow(parts_store) as uow:
        assert uow.session.get(ReplacementRequest, "rc_0006").status == "waiting"
        assert ledger.balance(uow.session, "WH-C01", "M-CK6150", "good") == (0, 0)
