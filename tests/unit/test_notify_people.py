"""Notices to named managers (people.py): COMPLAINT_ESCALATION's managers, read as intake reads
them, with their e-mail and phone; an escalation naming one goes to that person by name."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.notify import domain, people

ESCALATION = {
    "ack_minutes": 30,
    "tenants": {
        "C01": [
            {
                "level": "vp",
                "title": "主管副总",
                "name": "王副总",
                "user": "c01-vp",
                "email": "vp@c01.example.com",
                "phone": ["13800009001"],
            },
            {"level": "gm", "title": "总经理", "name": "李总", "user": "c01-gm", "email": ["gm@c01.example.com"]},
        ]
    },
    "default": [{"level": "vp", "name": "默认副总", "user": "any-vp"}],
}
CONTACTS = replace(
    domain.Contacts.parse({"centers": {"C01": {"email": ["c01@example.com"]}}, "hq": {"email": "hq@example.com"}}),
    people=people.managers(ESCALATION),
)
ESCALATED = {
    "tenant_id": "C01",
    "ticket_id": "t1",
    "number": "C01-261203-SAFE",
    "reason": "safety",
    "level": "vp",
    "manager": "c01-vp",
    "manager_name": "主管副总 王副总",
    "ack_due": datetime(2026, 12, 3, 3, 0, tzinfo=UTC),
}


def test_the_named_manager_gets_the_escalation_by_name_first():
    rules = domain.notices_for("ticket.escalated", ESCALATED)
    assert [(r.kind, r.audience, r.urgent) for r in rules] == [
        ("escalated_manager", "user", True),
        ("escalated", "center", True),
        ("escalated", "hq", True),
    ]
    planned = domain.plan(rules, ESCALATED, CONTACTS)
    mine = [(p.channel, p.address, p.undeliverable) for p in planned if p.audience == "user"]
    assert mine == [
        ("email", "主管副总 王副总 <vp@c01.example.com>", None),
        ("sms", "13800009001", None),
        ("inbox", "", None),
    ]
    assert {p.audience_id for p in planned if p.audience == "user"} == {"c01-vp"}
    subject, body = domain.render("escalated_manager", ESCALATED)
    assert subject == "【重大问题升级】C01-261203-SAFE 请主管副总 王副总确认"
    assert "危及人身安全" in body and "2026-12-03 11:00（北京时间）" in body and "确认升级" in body


def test_re_escalation_goes_to_the_next_manager_saying_why():
    again = dict(ESCALATED, reason="not_acknowledged:c01-vp", level="gm", manager="c01-gm", manager_name="总经理 李总")
    planned = domain.plan(domain.notices_for("ticket.escalated", again), again, CONTACTS)
    user = [(p.audience_id, p.channel, p.address, p.undeliverable) for p in planned if p.audience == "user"]
    assert user == [
        ("c01-gm", "email", "总经理 李总 <gm@c01.example.com>", None),
        ("c01-gm", "sms", "", "no phone configured for user c01-gm"),
        ("c01-gm", "inbox", "", None),
    ]
    assert "上一级（c01-vp）未按时确认" in domain.render("escalated_manager", again)[1]
    # an unnamed escalation (no managers configured) stays with the center and HQ
    unnamed = {k: v for k, v in ESCALATED.items() if k not in ("manager", "manager_name", "ack_due")}
    assert [r.audience for r in domain.notices_for("ticket.escalated", unnamed)] == ["center", "hq"]


def test_managers_configuration_is_checked_naming_the_key():
    assert people.managers("") == {}
    assert people.managers(ESCALATION)["any-vp"].emails == ()
    assert people.managers(ESCALATION)["c01-gm"].name == "总经理 李总"
    for raw, where in (
        ("{oops", "not JSON"),
        ({"tenants": {"C01": {"user": "x"}}}, "COMPLAINT_ESCALATION.tenants.C01 must be a list"),
        ({"tenants": {"C01": [{"name": "无名"}]}}, r"COMPLAINT_ESCALATION.tenants.C01\[0\] needs"),
        # a manager as intake needs one (level, name, user: one parser), with a wrong e-mail
        (
            {"default": [{"level": "vp", "name": "n", "user": "u", "email": 5}]},
            r"COMPLAINT_ESCALATION.default\[0\].email",
        ),
        ({"default": [{"level": "vp", "name": "n", "user": "u", "email": "not-an-address"}]}, "not an e-mail address"),
        ({"default": [{"user": "u", "email": "u@example.com"}]}, r"COMPLAINT_ESCALATION.default\[0\] needs level"),
    ):
        with pytest.raises(ValueError, match=where):
            people.managers(raw)
