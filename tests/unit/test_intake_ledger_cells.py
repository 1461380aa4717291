"""The service ledger's cells that are more than a column (services.intake.ledger_cells, seed 001's
服务信息台帐): 服务方式 as recorded or by phone, 回访记录 from the latest callback, and the row and
CSV in the seed's column order (issue 17: 回访记录 read a column that did not exist, 服务方式 was
the intake channel)."""

import csv
import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.intake import ledger_cells as ledger
from services.intake import queries
from services.intake.domain import Status

AT = datetime(2026, 3, 10, 6, 30, tzinfo=UTC)  # 14:30 in Shanghai


def ticket(**over):
    base = dict(
        number="C01-260310-AAAA0000",
        tenant_id="C01",
        customer_name="武汉某公司",
        address="湖北省武汉市洪山区珞喻路1号",
        phone="13800000000",
        model="CK6150",
        serial_no="SN1",
        purchase_date=None,
        fault="主轴异响",
        kind="repair",
        received_at=AT,
        onsite_at=None,
        closed_at=None,
        channel="web",
        status=Status.ACCEPTED,
        warranty="warranty",
        owner_user="agent1",
        assigned_outlet_id=None,
        service_mode=None,
        work_done=None,
        technician_name=None,
        callback_at=None,
        callback_satisfaction=None,
        callback_negative=None,
        callback_comment=None,
    )
    return SimpleNamespace(**{**base, **over})


@pytest.mark.parametrize(
    "over,mode",
    [
        ({}, None),  # open: not served yet
        ({"status": Status.RESOLVED, "onsite_at": AT, "service_mode": "onsite"}, "onsite"),
        ({"status": Status.CLOSED}, "phone"),  # closed with nobody on site
        ({"status": Status.CLOSED, "service_mode": "factory"}, "factory"),  # as staff said
        ({"status": Status.CANCELLED}, None),
    ],
)
def test_the_way_of_service_is_never_the_intake_channel(over, mode):
    assert ledger.service_mode(ticket(**over)) == mode


def test_the_callback_record_is_the_latest_callbacks_answers():
    assert ledger.callback_record(ticket()) is None
    record = ledger.callback_record(
        ticket(callback_at=AT, callback_satisfaction=2, callback_negative=True, callback_comment="仍有异响")
    )
    assert record == "2026-03-10 14:30 · 满意度 2/5 · 不满意 · 仍有异响"
    # SQLite gives naive UTC
    naive = ticket(callback_at=AT.replace(tzinfo=None), callback_satisfaction=5, callback_negative=False)
    assert ledger.callback_record(naive) == "2026-03-10 14:30 · 满意度 5/5 · 满意"


@pytest.mark.parametrize(
    "cmd,changes",
    [
        ({"action": "resolve", "service_mode": "remote"}, {"service_mode": "remote"}),
        ({"action": "close", "service_mode": None}, {}),
        ({"action": "accept"}, {}),
    ],
)
def test_staff_say_how_a_ticket_was_served_when_they_resolve_or_close_it(cmd, changes):
    assert ledger.mode_given(cmd) == changes


def test_the_row_and_csv_carry_service_content_staff_mode_and_callback():
    t = ticket(
        status=Status.RESOLVED,
        onsite_at=AT,
        service_mode="onsite",
        work_done="更换主轴轴承",
        technician_name="张师傅",
        callback_at=AT,
        callback_satisfaction=5,
        callback_negative=False,
    )
    row = queries.ledger_row(t)
    assert (row["service_mode"], row["work_done"], row["technician_name"], row["channel"]) == (
        "onsite",
        "更换主轴轴承",
        "张师傅",
        "web",
    )
    assert row["callback"] == "2026-03-10 14:30 · 满意度 5/5 · 满意"
    header, values = list(csv.reader(io.StringIO(queries.ledger_csv([row]))))
    cells = dict(zip(header, values, strict=True))
    assert (cells["服务方式"], cells["服务内容"], cells["服务人员"], cells["受理渠道"]) == (
        "onsite",
        "更换主轴轴承",
        "张师傅",
        "web",
    )
    assert cells["回访记录"].startswith("2026-03-10 14:30")
    # the seed's order: ... 服务时间, 服务方式, 服务内容, 服务人员, 回访记录
    assert header.index("服务方式") + 3 == header.index("回访记录")


def test_the_way_of_service_is_said_only_at_resolve_or_close():
    from services.intake.schemas import Transition
    from shared.errors import ValidationFailed
    from shared.validation import load

    assert load(Transition(), {"action": "resolve", "service_mode": "phone"})["service_mode"] == "phone"
    for payload in ({"action": "accept", "service_mode": "phone"}, {"action": "close", "service_mode": "pigeon"}):
        with pytest.raises(ValidationFailed) as exc:
            load(Transition(), payload)
        assert "service_mode" in exc.value.fields
