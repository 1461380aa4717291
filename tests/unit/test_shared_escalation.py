"""COMPLAINT_ESCALATION read in one place (shared.escalation): the tenants' chains, the default,
ack_minutes, each manager's level, title, name, user, e-mail and phone; a wrong shape refused
naming the key; and intake (who is escalated to) and notify (who is written to) reading the same
managers from one setting."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.intake import complaints
from services.intake.domain import Status
from services.notify import domain as notify
from services.notify import people
from shared.escalation import DEFAULT_ACK_MINUTES, EscalationChains, Manager

SETTING = {
    "ack_minutes": 30,
    "tenants": {
        "C01": [
            {
                "level": "vp",
                "title": "主管副总",
                "name": "王副总",
                "user": "c01-vp",
                "email": " vp@c01.example.com ",
                "phone": ["13800009001", " "],
            },
            {"level": "gm", "title": "总经理", "name": "李总", "user": "c01-gm", "email": ["gm@c01.example.com"]},
        ]
    },
    "default": [{"level": "vp", "name": "默认副总", "user": "any-vp", "phone": "13800009999"}],
}
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def test_the_chains_default_and_acknowledgement_minutes_are_read_from_a_mapping_or_json_text():
    parsed = EscalationChains.parse(SETTING)
    assert parsed == EscalationChains.parse(json.dumps(SETTING, ensure_ascii=False))
    assert parsed.ack_minutes == 30
    assert parsed.of("C01") == (
        Manager("vp", "主管副总", "王副总", "c01-vp", ("vp@c01.example.com",), ("13800009001",)),
        Manager("gm", "总经理", "李总", "c01-gm", ("gm@c01.example.com",), ()),
    )
    # a tenant not named takes the default chain; a manager without a title is named by level
    assert parsed.of("C02") == (Manager("vp", "", "默认副总", "any-vp", (), ("13800009999",)),)
    assert [m.label for m in parsed.of("C01") + parsed.of("C02")] == ["主管副总 王副总", "总经理 李总", "vp 默认副总"]
    assert list(parsed.by_user()) == ["any-vp", "c01-vp", "c01-gm"]


def test_an_empty_setting_names_nobody_and_the_minutes_default():
    for raw in (None, "", {}):
        parsed = EscalationChains.parse(raw)
        assert (parsed.of("C01"), parsed.by_user(), parsed.ack_minutes) == ((), {}, DEFAULT_ACK_MINUTES)


def test_a_user_in_a_tenants_chain_and_the_default_is_the_tenants_entry():
    raw = dict(SETTING, default=[{"level": "vp", "name": "旧", "user": "c01-vp", "email": "old@example.com"}])
    assert EscalationChains.parse(raw).by_user()["c01-vp"].emails == ("vp@c01.example.com",)


def _manager(**over):
    return dict({"level": "vp", "name": "王副总", "user": "c01-vp"}, **over)


@pytest.mark.parametrize(
    "raw, message",
    [
        ("{oops", "COMPLAINT_ESCALATION is not JSON: "),
        ([], "COMPLAINT_ESCALATION must be a mapping of ack_minutes, tenants, default"),
        ({"tenant": {}}, "COMPLAINT_ESCALATION must be a mapping of ack_minutes, tenants, default"),
        ({"ack_minutes": 0}, "COMPLAINT_ESCALATION.ack_minutes must be a whole number of minutes, at least 1"),
        ({"ack_minutes": True}, "COMPLAINT_ESCALATION.ack_minutes must be a whole number"),
        ({"ack_minutes": "30"}, "COMPLAINT_ESCALATION.ack_minutes must be a whole number"),
        ({"tenants": ["C01"]}, "COMPLAINT_ESCALATION.tenants must map a tenant id to its managers"),
        ({"tenants": {"C01": {"user": "x"}}}, "COMPLAINT_ESCALATION.tenants.C01 must be a list of managers"),
        ({"default": "c01-vp"}, "COMPLAINT_ESCALATION.default must be a list of managers"),
        (
            {"tenants": {"C01": [_manager(), "c01-gm"]}},
            "COMPLAINT_ESCALATION.tenants.C01[1] needs level, name and user",
        ),
        ({"default": [_manager(name="")]}, "COMPLAINT_ESCALATION.default[0] needs level, name and user"),
        ({"default": [_manager(level=2)]}, "COMPLAINT_ESCALATION.default[0] needs level, name and user"),
        (
            {"default": [_manager(email=5)]},
            "COMPLAINT_ESCALATION.default[0].email must be a string or a list of strings",
        ),
        (
            {"tenants": {"C01": [_manager(phone=["1", 2])]}},
            "COMPLAINT_ESCALATION.tenants.C01[0].phone must be a string",
        ),
        (
            {"default": [_manager(email=["a@b.c", "vp"])]},
            "COMPLAINT_ESCALATION.default[0].email: not an e-mail address",
        ),
        (
            {"default": [_manager(email="王 <vp@c01.cn>")]},
            "COMPLAINT_ESCALATION.default[0].email: not an e-mail address",
        ),
    ],
)
def test_a_wrong_shape_is_refused_naming_the_key(raw, message):
    with pytest.raises(ValueError) as err:
        EscalationChains.parse(raw)
    assert str(err.value).startswith(message)
    # intake and notify refuse it with the same words: one parser
    with pytest.raises(ValueError) as by_notify:
        people.managers(raw)
    assert str(by_notify.value) == str(err.value)


def test_intake_escalates_to_the_managers_notify_writes_to_from_one_setting():
    """The manager each escalation of intake names (first, then the next level when the first did
    not acknowledge) is the person notify plans the notice for, at the address configured beside
    them; notify knows every manager intake may name, and no one else."""
    raw = json.dumps(SETTING, ensure_ascii=False)
    chains, contacts = complaints.EscalationChains.parse(raw), people.managers(raw)
    assert set(contacts) == {m.user for chain in (*chains.chains.values(), chains.default) for m in chain}
    ticket = SimpleNamespace(
        id="t1",
        number="C01-261203-SAFE",
        tenant_id="C01",
        status=Status.ACCEPTED,
        escalation="safety",
        escalation_level=None,
        escalation_manager=None,
        escalation_ack_due=None,
        escalation_acked_at=None,
    )
    first = complaints.first_escalation(ticket, chains, NOW)
    ticket = SimpleNamespace(**{**vars(ticket), **first.changes})
    again = complaints.overdue_escalation(ticket, chains, NOW + timedelta(minutes=30))
    everyone = replace(notify.Contacts(), people=contacts)
    mailed = []
    for outcome in (first, again):
        [(event, body)] = outcome.events
        planned = notify.plan(notify.notices_for(event, body), body, everyone)
        mailed += [(p.audience_id, p.address) for p in planned if p.audience == "user" and p.channel == "email"]
    assert mailed == [
        ("c01-vp", "主管副总 王副总 <vp@c01.example.com>"),
        ("c01-gm", "总经理 李总 <gm@c01.example.com>"),
    ]
