"""Notify's rules: which fact gives which notice to whom, the texts, addresses and masked phones,
preferences, quiet hours and retries."""

from datetime import UTC, datetime, time, timedelta

import pytest

from services.notify import domain
from shared.clock import LOCAL_TZ

CONTACTS = domain.Contacts.parse(
    {
        "centers": {"C01": {"email": ["c01@example.com"], "phone": ["13800000001"]}},
        "outlets": {
            "C01-O01": {"email": "o1@example.com", "phone": ["13900000001"]},
            "C01-O02": {"email": ["o2@example.com"], "channels": ["inbox"]},
        },
        "hq": {"email": ["hq@example.com"], "quiet_hours": "off"},
    }
)

REGISTERED = {
    "tenant_id": "C01",
    "ticket_id": "t1",
    "number": "C01-261203-AAAA",
    "kind": "repair",
    "channel": "web",
    "received_at": datetime(2026, 12, 3, 2, 30, tzinfo=UTC),
    "product_line": "数控车床",
    "model": "CK6150",
    "fault": "主轴过热",
}


def kinds(rules):
    return [(r.kind, r.audience, r.channels, r.urgent) for r in rules]


def test_each_fact_gives_its_notices_to_the_right_people():
    assert kinds(domain.notices_for("ticket.registered", REGISTERED)) == [
        ("web_forwarded", "center", ("email", "inbox"), False)
    ]
    hotline = dict(REGISTERED, channel="hotline")
    assert kinds(domain.notices_for("ticket.registered", hotline)) == [
        ("ticket_registered", "center", ("inbox",), False)
    ]
    visit = {"tenant_id": "C01", "ticket_id": "t1", "visit_id": "v1", "outlet_id": "C01-O01"}
    assert [(r.kind, r.audience) for r in domain.notices_for("visit.scheduled", visit)] == [
        ("job_assigned", "outlet"),
        ("visit_scheduled", "customer"),
    ]
    assert [r.audience for r in domain.notices_for("visit.scheduled", dict(visit, outlet_id=None))] == ["customer"]
    breach = domain.notices_for("sla.breached", {"tenant_id": "C01", "assigned_outlet_id": "C01-O01"})
    assert [(r.audience, r.urgent) for r in breach] == [("center", True), ("outlet", True)]
    escalated = domain.notices_for("ticket.escalated", {"tenant_id": "C01"})
    assert [(r.audience, r.urgent) for r in escalated] == [("center", True), ("hq", True)]
    assert domain.notices_for("technician.expiring", {"outlet_id": None})[0].audience == "center"
    assert domain.notices_for("technician.expiring", {"outlet_id": "C01-O01"})[0].audience == "outlet"
    assert domain.notices_for("statement.issued", {"outlet_id": "C01-O01"})[0].kind == "statement_issued"
    assert domain.notices_for("visit.completed", visit) == []
    # every consumed fact has a rule and every rule's kind a template
    for _source, event in domain.CONSUMED:
        for rule in domain.notices_for(event, dict(REGISTERED, outlet_id="O", assigned_outlet_id="O")):
            assert rule.kind in domain.TEMPLATES


def test_texts_are_chinese_with_beijing_time():
    subject, body = domain.render("web_forwarded", REGISTERED)
    assert subject == "【网上报修转交】C01-261203-AAAA"
    assert "2026-12-03 10:30（北京时间）" in body  # 02:30 UTC
    assert "维修" in body and "主轴过热" in body and "1 小时内" in body
    _, body = domain.render("sla_breached", {"number": "N1", "sla": "onsite", "due_at": None})
    assert "上门期限 未定" in body and "发现于 —" in body  # a missing field never breaks the text


def test_plan_addresses_preferences_and_what_cannot_be_sent():
    rules = domain.notices_for("visit.scheduled", {"outlet_id": "C01-O01"})
    payload = {"tenant_id": "C01", "ticket_id": "t1", "outlet_id": "C01-O01", "customer_phone": "138****0000"}
    planned = domain.plan(rules, payload, CONTACTS)
    assert [(p.audience, p.channel, p.address, p.undeliverable) for p in planned] == [
        ("outlet", "email", "o1@example.com", None),
        ("outlet", "sms", "13900000001", None),
        ("outlet", "inbox", "", None),
        ("customer", "sms", "138****0000", "the phone number is masked (138****0000): no SMS to a masked number"),
    ]
    # the same fact for an outlet that takes the inbox only (its preference)
    planned = domain.plan(rules, dict(payload, outlet_id="C01-O02", customer_phone="13912345678"), CONTACTS)
    assert [(p.audience, p.channel, p.undeliverable) for p in planned] == [
        ("outlet", "inbox", None),
        ("customer", "sms", None),
    ]
    # a center with no contact configured: the channel is recorded as undeliverable, saying why
    planned = domain.plan(domain.notices_for("sla.breached", {}), {"tenant_id": "C02", "ticket_id": "t"}, CONTACTS)
    assert [(p.channel, p.undeliverable) for p in planned] == [
        ("email", "no e-mail address configured for center C02"),
        ("sms", "no phone configured for center C02"),
        ("inbox", None),
    ]
    # recipients differ per audience and address: the unique key of a notice
    assert len({p.recipient + p.channel for p in planned}) == 3


@pytest.mark.parametrize(
    ("phone", "problem"),
    [
        ("13800000000", None),
        ("+86 138-0000-0000", None),
        (None, "no phone number in the event"),
        ("", "no phone number in the event"),
        ("138****0000", "masked"),
        ("138xxxx0000", "masked"),
        ("call me", "not a phone number"),
    ],
)
def test_phone_problem(phone, problem):
    found = domain.phone_problem(phone)
    assert (found is None) if problem is None else (problem in found)


def test_contacts_refuse_wrong_configuration_naming_the_key():
    assert domain.Contacts.parse("") == domain.Contacts()
    assert domain.Contacts.parse('{"hq": {"email": "a@b"}}').hq.emails == ("a@b",)
    for raw, where in (
        ("{not json", "not JSON"),
        ({"people": {}}, "unknown keys ['people']"),
        ({"centers": {"C01": {"channels": ["fax"]}}}, "NOTIFY_CONTACTS.centers.C01.channels"),
        ({"outlets": {"O": {"quiet_hours": "late"}}}, "NOTIFY_CONTACTS.outlets.O.quiet_hours"),
        ({"centers": ["C01"]}, "NOTIFY_CONTACTS.centers"),
    ):
        with pytest.raises(ValueError, match=where.replace("[", r"\[").replace("]", r"\]")):
            domain.Contacts.parse(raw)


def at_local(hour, minute=0, day=3):
    return datetime(2026, 12, day, hour, minute, tzinfo=LOCAL_TZ).astimezone(UTC)


def test_quiet_hours_hold_non_urgent_notices_until_morning():
    quiet = domain.parse_quiet_hours("22:00-08:00")
    assert quiet == (time(22), time(8))
    morning = at_local(8, day=4)
    assert domain.not_before(at_local(23, 30), quiet, False, "email") == morning
    assert domain.not_before(at_local(2, day=4), quiet, False, "sms") == morning
    assert domain.not_before(at_local(7, 59, day=4), quiet, False, "sms") == morning
    for now in (at_local(8, day=4), at_local(12), at_local(21, 59)):
        assert domain.not_before(now, quiet, False, "email") == now
    # urgent notices and the inbox never wait; no quiet hours: nothing waits
    assert domain.not_before(at_local(23), quiet, True, "sms") == at_local(23)
    assert domain.not_before(at_local(23), quiet, False, "inbox") == at_local(23)
    assert domain.not_before(at_local(23), None, False, "email") == at_local(23)
    # a window within one day (lunch)
    lunch = domain.parse_quiet_hours("12:00-13:30")
    assert domain.not_before(at_local(12, 15), lunch, False, "email") == at_local(13, 30)
    assert domain.parse_quiet_hours("off") is None
    with pytest.raises(ValueError, match="NOTIFY_QUIET_HOURS"):
        domain.parse_quiet_hours("22:00")
    with pytest.raises(ValueError, match="same time"):
        domain.parse_quiet_hours("08:00-08:00")


def test_retries_back_off_and_stop_at_the_cap():
    now = datetime(2026, 12, 3, tzinfo=UTC)
    assert domain.retry_at(1, now, base=30) == now + timedelta(seconds=30)
    assert domain.retry_at(3, now, base=30) == now + timedelta(seconds=120)
    assert domain.retry_at(20, now, base=30, cap=3600) == now + timedelta(seconds=3600)
    assert domain.after_failure(1, 3) == domain.PENDING
    assert domain.after_failure(3, 3) == domain.FAILED


def test_event_key_and_inbox_audience():
    assert domain.event_key("x", "abc", {}) == "abc"
    one = domain.event_key("ticket.registered", None, REGISTERED)
    assert one == domain.event_key("ticket.registered", None, dict(REGISTERED))
    assert one != domain.event_key("ticket.registered", None, dict(REGISTERED, number="other"))
    assert len(one) <= 64
    assert [domain.inbox_audience(r) for r in ("center", "outlet", "hq", "customer")] == [
        "center",
        "outlet",
        "hq",
        None,
    ]


def test_a_replanned_visit_is_news_only_when_its_arrival_moves():
    assert domain.topic_of("visit.scheduled", {"visit_id": "v1"}) == "visit:v1"
    assert domain.topic_of("ticket.registered", {"visit_id": "v1"}) is None
    nine = datetime(2026, 12, 4, 1, tzinfo=UTC)
    # never told: the first notice
    assert domain.replan_kind("visit_scheduled", False, None, nine, 30) == "visit_scheduled"
    # a route reordered, the arrival 10 minutes off: nothing to tell
    assert domain.replan_kind("visit_scheduled", True, nine, nine + timedelta(minutes=10), 30) is None
    assert domain.replan_kind("job_assigned", True, nine, nine - timedelta(minutes=29), 30) is None
    # moved by half an hour or more, or the arrival became unknown: the change notice
    assert domain.replan_kind("visit_scheduled", True, nine, nine + timedelta(hours=2), 30) == "visit_changed"
    assert domain.replan_kind("job_assigned", True, nine, nine + timedelta(minutes=30), 30) == "job_changed"
    assert domain.replan_kind("job_assigned", True, nine, None, 30) == "job_changed"
    subject, body = domain.render("visit_changed", {"planned_arrival": nine + timedelta(hours=2)})
    assert subject == "【上门时间变更】" and "2026-12-04 11:00（北京时间）" in body


def test_an_escalation_reads_in_chinese_not_in_codes():
    subject, body = domain.render(
        "escalated", {"number": "C01-261203-X", "level": "management", "reason": "sla_breached:onsite"}
    )
    assert subject == "【升级通知】C01-261203-X（公司管理层）"
    assert body == "服务单 C01-261203-X 因上门超时已升级至公司管理层。请指定专人跟进到底。"
    _, body = domain.render("escalated", {"number": "N", "level": "center", "reason": "negative_callback"})
    assert "因回访不满意已升级至区域服务中心" in body and "negative_callback" not in body
    _, body = domain.render("escalated_manager", {"number": "N", "level": "服务部经理", "manager_name": "张三"})
    assert "已升级至您（服务部经理）" in body  # a configured level as written


def test_a_statement_notice_names_its_month_and_outlet_not_its_id():
    issued = {"month": "2026-12", "statement_id": "ST8f3a9c2e", "outlet_name": "武汉江岸网点", "total": "10.00"}
    subject, body = domain.render("statement_issued", issued)
    assert subject == "【结算单】武汉江岸网点 2026 年 12 月结算单已出"
    assert body == "贵网点（武汉江岸网点） 2026 年 12 月结算单已出具，合计 10.00 元，请登录门户核对。"
    assert "ST8f3a9c2e" not in subject + body
    subject, body = domain.render("statement_issued", dict(issued, outlet_name=None))  # an older event
    assert subject == "【结算单】2026 年 12 月结算单已出" and body.startswith("贵网点 2026 年 12 月结算单已出具")
    assert "ST8f3a9c2e" not in subject + body


JOB = {
    "tenant_id": "C01",
    "ticket_id": "0f3c9a1e7b2d4c5f8a6e1d2c3b4a5f6e",
    "ticket_number": "C01-261203-AAAA",
    "visit_id": "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b",
    "outlet_id": "C01-O01",
    "planned_arrival": datetime(2026, 12, 4, 1, tzinfo=UTC),
    "product_line": "数控车床",
}


@pytest.mark.parametrize("kind", ["job_assigned", "job_changed"])
def test_an_outlets_job_notice_names_the_ticket_by_its_number(kind):
    subject, body = domain.render(kind, JOB)
    assert subject.endswith("服务单 C01-261203-AAAA") and "服务单 C01-261203-AAAA" in body
    assert "2026-12-04 09:00（北京时间）" in body and "数控车床" in body
    assert JOB["ticket_id"] not in subject + body and JOB["visit_id"] not in subject + body
    # an event sent before visits carried the number: a short form of the id, never 32 hex characters
    subject, body = domain.render(kind, dict(JOB, ticket_number=None))
    assert subject.endswith("服务单 0f3c9a1e") and JOB["ticket_id"] not in subject + body
    assert domain.ticket_ref({"ticket_id": "t1"}) == "t1" and domain.ticket_ref({}) == "—"


def test_oversized_fields_never_break_a_notice():
    subject, _ = domain.render("escalated", {"number": "N1", "level": "高" * 500, "reason": "r"})
    assert len(subject) == domain.SUBJECT_MAX
    rules = domain.notices_for("visit.scheduled", {})
    (customer,) = domain.plan(rules, {"tenant_id": "C01", "ticket_id": "t", "customer_phone": "9" * 500}, CONTACTS)
    assert len(customer.address) == 64 and "not a phone number" in customer.undeliverable


def test_the_service_reads_its_settings_once_and_refuses_wrong_ones():
    from services.notify.service import Settings

    settings = Settings({"NOTIFY_CONTACTS": '{"hq": {"email": "hq@example.com"}}', "NOTIFY_QUIET_HOURS": "off"})
    assert settings.contacts.hq.emails == ("hq@example.com",) and settings.quiet_hours is None
    assert Settings({}).quiet_hours == (time(22), time(8))  # the default
    with pytest.raises(ValueError, match="NOTIFY_QUIET_HOURS"):
        Settings({"NOTIFY_QUIET_HOURS": "late"})


def test_sla_at_risk_and_callback_due_notices():
    at_risk = {
        "tenant_id": "C01",
        "ticket_id": "t1",
        "number": "C01-261203-AAAA",
        "sla": "onsite",
        "due_at": datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
        "detected_at": datetime(2026, 12, 3, 8, 0, tzinfo=UTC),
        "share": 0.8,
        "assigned_outlet_id": "C01-O01",
    }
    assert kinds(domain.notices_for("sla.at_risk", at_risk)) == [
        ("sla_at_risk", "center", ("email", "inbox"), False),
        ("sla_at_risk", "outlet", ("inbox",), False),
    ]
    subject, body = domain.render("sla_at_risk", at_risk)
    assert subject == "【时效预警】C01-261203-AAAA 上门即将超时"
    assert "2026-12-03 18:00（北京时间）" in body and "80%" in body
    due = {"tenant_id": "C01", "ticket_id": "t1", "number": None, "purpose": "tracking", "caller": "C01"}
    assert kinds(domain.notices_for("callback.due", due)) == [("callback_due", "center", ("inbox",), False)]
    assert domain.notices_for("callback.due", dict(due, caller="HQ"))[0].audience == "hq"
    subject, body = domain.render("callback_due", dict(due, due_at=datetime(2026, 12, 10, 1, 0, tzinfo=UTC)))
    assert subject == "【回访提醒】服务单 t1"  # no number in the fact: the ticket id
    assert "七天内用户追踪" in body and "2026-12-10 09:00（北京时间）" in body
