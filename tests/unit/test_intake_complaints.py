"""Complaint handling (`complaints`, issue 17.4): the responsibility decided in the case and the
grey zone waiting for HQ's ruling (seed 002), the first-contact owner's hand-over (首问负责制),
the escalation of a major issue to named managers who must acknowledge (seeds 001, 004), the
countermeasure against recurrence."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.intake import complaints, outlook
from services.intake.domain import Case, Status
from shared.errors import InvalidTransition, ValidationFailed
from shared.tenancy import Principal

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
CENTER = Principal("agent1", "center", tenant="C01")
HQ = Principal("hq1", "hq")
CHAINS = complaints.EscalationChains.parse(
    {
        "ack_minutes": 30,
        "tenants": {
            "C01": [
                {"level": "vp", "title": "主管副总", "name": "王副总", "user": "c01-vp"},
                {"level": "gm", "title": "总经理", "name": "李总", "user": "c01-gm"},
            ]
        },
    }
)


def case(**over):
    base = dict(
        id="t1",
        number="C01-260310-AAAA0000",
        tenant_id="C01",
        kind="complaint",
        status=Status.ACCEPTED,
        case_state=Case.INTERNAL_CHECK,
        owner_user="agent1",
        responsibility=None,
        grey_zone_ruled_at=None,
        escalation=None,
        escalation_level=None,
        escalation_manager=None,
        escalation_ack_due=None,
        escalation_acked_at=None,
        assigned_outlet_id=None,
    )
    return SimpleNamespace(**{**base, **over})


def cmd(action, **over):
    return {
        "action": action,
        "note": None,
        "responsibility": None,
        "owner_user": None,
        "countermeasure": None,
        "follow_up_on": None,
        "major_issue": None,
        **over,
    }


def apply(t, out):
    for k, v in out.changes.items():
        setattr(t, k, v)


def offered(t, principal):
    return {s.action for s in outlook.allowed_steps(t, principal.role, principal.user)}


# ---------------------------------------------------------------- responsibility (seed 002)
def test_the_responsibility_is_kept_with_who_decided_and_when():
    t = case()
    out = complaints.step(t, cmd("decide_responsibility", responsibility="other_department"), CENTER, NOW)
    assert out.changes == {
        "responsibility": "other_department",
        "responsibility_by": "agent1",
        "responsibility_at": NOW,
    }
    assert out.events == []
    assert out.audit.action == "decide_responsibility" and out.audit.data["responsibility"] == "other_department"
    assert out.audit.from_state == out.audit.to_state == Case.INTERNAL_CHECK  # the case does not move


def test_a_grey_zone_goes_to_hq_and_blocks_the_handling_until_hq_rules_it():
    t = case()
    out = complaints.step(t, cmd("decide_responsibility", responsibility="grey_zone"), CENTER, NOW)
    [(event, body)] = out.events
    assert event == "ticket.escalated" and (body["reason"], body["level"]) == ("grey_zone", "hq")
    apply(t, out)

    # the negotiation on (seed 002: 5、处置和防止再发生对策, 6、投诉处理报告) waits; the fact-finding goes on
    for action in ("negotiate", "close_case", "record_countermeasure", "resolve", "close"):
        with pytest.raises(InvalidTransition):
            complaints.check_unblocked(t, action)
    for action in ("plan_dispatch", "verify_on_site", "withdraw", "hand_over"):
        complaints.check_unblocked(t, action)
    t.case_state = Case.ONSITE_VERIFICATION
    assert "negotiate" not in offered(t, CENTER) and "withdraw" in offered(t, CENTER)
    assert "rule_grey_zone" not in offered(t, CENTER) and "rule_grey_zone" in offered(t, HQ)

    # the center can neither rule it nor decide it again
    with pytest.raises(InvalidTransition):
        complaints.step(t, cmd("rule_grey_zone", responsibility="own", note="总部裁定"), CENTER, NOW)
    with pytest.raises(InvalidTransition):
        complaints.step(t, cmd("decide_responsibility", responsibility="own"), CENTER, NOW)

    # HQ's ruling needs its grounds and settles it as own or another department's
    with pytest.raises(ValidationFailed) as err:
        complaints.step(t, cmd("rule_grey_zone", responsibility="own"), HQ, NOW)
    assert "note" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        complaints.step(t, cmd("rule_grey_zone", responsibility="grey_zone", note="x"), HQ, NOW)
    assert "responsibility" in err.value.fields
    ruled = complaints.step(t, cmd("rule_grey_zone", responsibility="own", note="行政裁定：本单位"), HQ, NOW)
    assert ruled.changes["grey_zone_ruled_by"] == "hq1" and ruled.changes["responsibility_by"] == "hq1"
    apply(t, ruled)
    assert "negotiate" in offered(t, CENTER)
    complaints.check_unblocked(t, "close_case")
    # confirmed with a later step, HQ's ruling keeps its name; it stands against the center
    assert complaints.responsibility_decided(t, "own", CENTER, NOW).changes == {}
    with pytest.raises(InvalidTransition):
        complaints.responsibility_decided(t, "other_department", CENTER, NOW)


def test_a_responsibility_step_on_a_closed_case_or_a_repair_is_refused():
    with pytest.raises(InvalidTransition):
        complaints.step(case(case_state=Case.CLOSED), cmd("decide_responsibility", responsibility="own"), CENTER, NOW)
    with pytest.raises(InvalidTransition):
        complaints.step(case(case_state=None, kind="repair"), cmd("hand_over", owner_user="b", note="x"), CENTER, NOW)
    with pytest.raises(ValidationFailed) as err:
        complaints.step(case(), cmd("decide_responsibility"), CENTER, NOW)
    assert "responsibility" in err.value.fields


# ---------------------------------------------------------------- hand-over (首问负责制)
def test_the_first_contact_owner_hands_over_only_with_a_reason_to_another_named_owner():
    t = case()
    with pytest.raises(ValidationFailed) as err:
        complaints.step(t, cmd("hand_over"), CENTER, NOW)
    assert set(err.value.fields) == {"owner_user", "note"}
    with pytest.raises(ValidationFailed) as err:
        complaints.step(t, cmd("hand_over", owner_user="agent1", note="休假"), CENTER, NOW)
    assert "owner_user" in err.value.fields
    out = complaints.step(t, cmd("hand_over", owner_user="agent2", note="休假，移交质量组"), CENTER, NOW)
    assert out.changes == {"owner_user": "agent2"}
    assert out.audit.note == "休假，移交质量组"
    assert out.audit.data == {"from_owner": "agent1", "to_owner": "agent2"}


# ---------------------------------------------------------------- escalation to named managers
def test_a_major_issue_goes_to_the_first_manager_and_on_to_the_next_when_not_acknowledged():
    t = case(escalation="safety")
    out = complaints.first_escalation(t, CHAINS, NOW)
    [(event, body)] = out.events
    assert event == "ticket.escalated" and body["level"] == "vp" and body["manager"] == "c01-vp"
    assert body["manager_name"] == "主管副总 王副总" and body["ack_due"] == NOW + timedelta(minutes=30)
    assert out.audit.action == "escalate" and out.audit.data["manager"] == "c01-vp"
    apply(t, out)

    assert complaints.overdue_escalation(t, CHAINS, NOW + timedelta(minutes=29)) is None
    later = NOW + timedelta(minutes=31)
    again = complaints.overdue_escalation(t, CHAINS, later)
    [(_, body)] = again.events
    assert body["level"] == "gm" and body["manager"] == "c01-gm" and body["reason"] == "not_acknowledged:c01-vp"
    assert again.audit.action == "re_escalate" and again.changes["escalation_level"] == 1
    apply(t, again)

    # past the last level the watch ends, said in the audit trail
    end = complaints.overdue_escalation(t, CHAINS, later + timedelta(minutes=31))
    assert end.events == [] and end.changes == {"escalation_ack_due": None}
    assert end.audit.action == "escalation_unacknowledged"


def test_only_the_manager_escalated_to_acknowledges_and_then_the_watch_stops():
    t = case(escalation="batch_defect")
    apply(t, complaints.first_escalation(t, CHAINS, NOW))
    other = Principal("agent1", "center", tenant="C01")
    vp = Principal("c01-vp", "center", tenant="C01")
    assert "acknowledge_escalation" not in offered(t, other) and "acknowledge_escalation" in offered(t, vp)
    with pytest.raises(InvalidTransition):
        complaints.step(t, cmd("acknowledge_escalation"), other, NOW)
    out = complaints.step(t, cmd("acknowledge_escalation", note="已阅，专人跟踪"), vp, NOW)
    assert out.changes == {"escalation_acked_by": "c01-vp", "escalation_acked_at": NOW, "escalation_ack_due": None}
    apply(t, out)
    assert complaints.overdue_escalation(t, CHAINS, NOW + timedelta(days=1)) is None
    with pytest.raises(InvalidTransition):
        complaints.step(t, cmd("acknowledge_escalation"), vp, NOW)


def test_a_major_issue_found_on_the_way_is_escalated_as_at_registration():
    t = case(case_state=Case.ONSITE_VERIFICATION, priority=2)
    with pytest.raises(ValidationFailed) as err:
        complaints.step(t, cmd("escalate_major"), CENTER, NOW, CHAINS)
    assert set(err.value.fields) == {"major_issue", "note"}
    out = complaints.step(
        t, cmd("escalate_major", major_issue="batch_defect", note="同批次3台漏油"), CENTER, NOW, CHAINS
    )
    assert out.changes["escalation"] == "batch_defect" and out.changes["priority"] == 2
    assert out.changes["escalation_manager"] == "c01-vp" and out.audit.data["manager"] == "c01-vp"
    [(_, body)] = out.events
    assert (body["level"], body["reason"]) == ("vp", "batch_defect")
    apply(t, out)
    with pytest.raises(InvalidTransition):  # once
        complaints.step(t, cmd("escalate_major", major_issue="safety", note="x"), CENTER, NOW, CHAINS)
    # nobody named for the tenant: the unnamed escalation, as at registration
    other = complaints.step(
        case(tenant_id="C02", priority=3), cmd("escalate_major", major_issue="safety", note="漏电"), CENTER, NOW, CHAINS
    )
    assert other.changes == {"escalation": "safety", "priority": 1}
    assert [(e, b["level"]) for e, b in other.events] == [("ticket.escalated", "management")]


def test_no_escalation_to_managers_for_an_ordinary_ticket_or_a_tenant_with_nobody_named():
    assert complaints.first_escalation(case(), CHAINS, NOW) is None
    assert complaints.first_escalation(case(escalation="safety", tenant_id="C02"), CHAINS, NOW) is None
    assert complaints.EscalationChains.parse("").of("C01") == ()


@pytest.mark.parametrize(
    "raw",
    ["{", [], {"tenants": {"C01": [{"level": "vp"}]}}, {"ack_minutes": 0}, {"whom": 1}, {"tenants": {"C01": {}}}],
)
def test_a_wrong_escalation_configuration_is_refused_by_name(raw):
    with pytest.raises(ValueError, match="COMPLAINT_ESCALATION"):
        complaints.EscalationChains.parse(raw)


# ---------------------------------------------------------------- countermeasure (防止再发生对策)
def test_the_countermeasure_and_its_follow_up_date_are_recorded():
    t = case(case_state=Case.NEGOTIATION)
    with pytest.raises(ValidationFailed) as err:
        complaints.step(t, cmd("record_countermeasure", countermeasure="更换批次轴承"), CENTER, NOW)
    assert "follow_up_on" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        complaints.step(t, cmd("record_countermeasure", countermeasure="x", follow_up_on=date(2026, 3, 1)), CENTER, NOW)
    assert "follow_up_on" in err.value.fields
    out = complaints.step(
        t, cmd("record_countermeasure", countermeasure="更换批次轴承", follow_up_on=date(2026, 6, 10)), CENTER, NOW
    )
    assert out.changes == {"countermeasure": "更换批次轴承", "follow_up_on": date(2026, 6, 10)}
    assert out.audit.data == {"countermeasure": "更换批次轴承", "follow_up_on": "2026-06-10"}


# ---------------------------------------------------------------- the report (投诉处理报告)
def test_the_report_keeps_the_case_as_it_was_and_prints_it_in_chinese():
    from services.intake import complaint_report
    from shared.fonts import cjk_font
    from tests.pdf_tools import pdf_fonts, pdf_text

    t = case(
        case_state=Case.RESULT_NOTICE,
        customer_name="武汉精工机械",
        phone="13800000000",
        address="湖北省武汉市洪山区珞喻路1号",
        product_line="数控车床",
        model="CK6150",
        serial_no="SN123",
        fault="主轴异响",
        received_at=NOW,
        responsibility="own",
        responsibility_by="agent1",
        grey_zone_ruled_by="hq1",
        escalation_manager="c01-vp",
        escalation_acked_by="c01-vp",
        countermeasure="更换批次轴承，出厂前复检",
        follow_up_on=date(2026, 6, 10),
    )
    trail = [
        SimpleNamespace(action="register", from_state=None, at=NOW, user="agent1", note=None),  # the registration
        SimpleNamespace(action="register", from_state="accepted", at=NOW, user="agent1", note="立案"),
        SimpleNamespace(action="rule_grey_zone", from_state="x", at=NOW, user="hq1", note="行政裁定：本单位"),
        SimpleNamespace(action="visit_completed", from_state="x", at=NOW, user="svc", note=None),  # not a case step
    ]
    report = complaint_report.snapshot(t, trail, NOW, "agent1")
    assert [s["step"] for s in report["steps"]] == ["立案", "总部裁定责任"]
    assert report["made_at"] == "2026-03-10 10:00" and report["follow_up_on"] == "2026-06-10"
    facts = dict(complaint_report.facts(report))
    assert facts["责任范围"] == "本单位责任（agent1 确定，总部 hq1 裁定）"
    assert facts["重大问题上报"] == "c01-vp（c01-vp 已确认）"

    data = complaint_report.pdf(report, cjk_font())
    text, _ = pdf_text(data)
    for words in ("投诉处理报告", "更换批次轴承", "行政裁定：本单位", "C01-260310-AAAA0000", "2026-06-10"):
        assert words in text, words
    assert all(f["emb"] == "yes" for f in pdf_fonts(data))
