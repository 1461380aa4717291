"""The outlet lifecycle's step functions (services/certification/lifecycle.py) on plain records:
what each action changes, which events it emits, and which steps it refuses (state, role, duty,
missing input). No broker, no database."""

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.certification import lifecycle
from services.certification.lifecycle import LifecyclePolicy, OutletRecord, StepCommand
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.tenancy import Principal

NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 30 November 2026 in China
TODAY = date(2026, 11, 30)
OUTLET_PRINCIPAL = Principal("o8", "outlet", tenant="C01", outlet="C01-O08")
CENTER = Principal("agent", "center", tenant="C01")
CENTER_TECH = Principal("tech-lead", "center", tenant="C01", duty="technical_lead")
HQ = Principal("hq", "hq")
HQ_TECH = Principal("hq-tech", "hq", duty="technical_lead")
HEAD = Principal("head", "hq", duty="service_head")
SERVICE = Principal("certification", "service", tenant="C01")
INSPECTION = {"inspected_on": date(2026, 11, 20), "inspector": "张工", "findings": "场地合格"}
FORM = {"reason_code": "poor_quality", "details": "回访满意率连续三月低于80%"}


def outlet(status, **fields):
    base = dict(
        id="C01-O08",
        tenant_id="C01",
        status=status,
        name="武汉新特约站",
        kind="franchised",
        grade="B",
        lat=30.5,
        lon=114.3,
    )
    return OutletRecord(**{**base, **fields})


DEFAULT_POLICY = LifecyclePolicy()


def step(record, action, principal, policy=DEFAULT_POLICY, **command):
    return lifecycle.take_step(
        record, StepCommand(action=action, clearing_request_id="req-new", **command), principal, NOW, policy
    )


def names(outcome):
    return [e.name for e in outcome.events]


# ------------------------------------------------------------------ application reviews
def test_center_review_records_the_inspection_and_passes_or_rejects():
    done = step(
        outlet("applied"),
        "center_review",
        CENTER,
        decision="pass",
        inspection=INSPECTION,
        attachments=("photo://site/1.jpg",),
    )
    assert done.outlet.status == "center_reviewed" and done.changes["status"] == "center_reviewed"
    assert done.changes["inspection"]["inspected_on"] == "2026-11-20"  # stored as JSON
    assert done.changes["updated_at"] == NOW
    [record] = done.steps
    assert (record.action, record.choice, record.from_state, record.to_state) == (
        "center_review",
        "pass",
        "applied",
        "center_reviewed",
    )
    assert record.attachments == ["photo://site/1.jpg"] and record.data["inspection"]["inspector"] == "张工"
    assert done.events == ()  # dispatch hears of the outlet only from the approval on
    rejected = step(
        outlet("applied"), "center_review", CENTER, decision="reject", reason="场地不足", inspection=INSPECTION
    )
    assert rejected.outlet.status == "rejected" and rejected.steps[0].reason == "场地不足"


def test_center_review_without_inspection_is_refused_naming_the_field():
    with pytest.raises(ValidationFailed) as err:
        step(outlet("applied"), "center_review", CENTER, decision="pass")
    assert "inspection" in err.value.fields
    # the state is checked first: an outlet that is no application is 409, inspection or not
    with pytest.raises(InvalidTransition):
        step(outlet("effective"), "center_review", CENTER, decision="pass")


def test_technical_review_needs_the_technical_lead_duty():
    record = outlet("center_reviewed")
    for principal in (CENTER, HQ, HEAD):
        with pytest.raises(Forbidden) as err:
            step(record, "technical_review", principal, decision="pass")
        assert "technical_lead" in err.value.message
    for lead in (CENTER_TECH, HQ_TECH):
        assert step(record, "technical_review", lead, decision="pass").outlet.status == "technical_reviewed"
    assert step(record, "technical_review", CENTER_TECH, decision="reject", reason="x").outlet.status == "rejected"
    with pytest.raises(InvalidTransition):  # not before the center's review
        step(outlet("applied"), "technical_review", CENTER_TECH, decision="pass")


def test_head_approval_needs_the_service_head_and_tells_dispatch_of_the_lines():
    record = outlet("technical_reviewed", ineligible_lines=(("数控车床", 0), ("注塑机", 1)))
    for principal in (HQ, HQ_TECH, CENTER, CENTER_TECH):
        with pytest.raises(Forbidden):
            step(record, "head_approval", principal, decision="pass")
    done = step(record, "head_approval", HEAD, decision="pass", reason="布点规划内")
    assert done.outlet.status == "approved"
    assert names(done) == ["outlet.approved", "outlet.line_eligibility", "outlet.line_eligibility"]
    approved = done.events[0].payload
    assert approved == {
        "tenant_id": "C01",
        "outlet_id": "C01-O08",
        "status": "approved",
        "at": NOW,
        "kind": "franchised",
        "grade": "B",
        "lat": 30.5,
        "lon": 114.3,
        "reason": "布点规划内",
    }
    lines = [e.payload for e in done.events[1:]]
    assert [(p["product_line"], p["eligible"], p["reason"]) for p in lines] == [
        ("数控车床", False, "0 certified"),
        ("注塑机", False, "1 certified"),
    ]
    assert all(p["status"] == "approved" for p in lines)
    rejected = step(record, "head_approval", HEAD, decision="reject", reason="区域已饱和")
    assert rejected.outlet.status == "rejected" and rejected.events == ()


def test_a_decision_is_required_where_the_table_asks_for_one():
    with pytest.raises(ValidationFailed) as err:
        step(outlet("technical_reviewed"), "head_approval", HEAD)
    assert "decision" in err.value.fields


# ------------------------------------------------------------------ agreement and probation
def test_issue_agreement_starts_probation_with_the_policy_or_the_agreement_limit():
    record = outlet("approved")
    done = step(
        record,
        "issue_agreement",
        CENTER,
        LifecyclePolicy(probation_months=3, probation_job_limit=4),
        agreement={"terms": "特约服务协议"},
    )
    assert done.outlet.status == "probation"
    assert done.changes["job_limit"] == 4
    assert done.changes["probation_until"] == date(2027, 2, 28)  # 30 Nov + 3 months, end of February
    agreement = done.changes["agreement"]
    assert agreement["number"] == "XY-C01-O08-2026" and agreement["valid_from"] == "2026-11-30"
    assert agreement["valid_to"] == "2029-11-30" and "job_limit" not in agreement
    assert names(done) == ["outlet.probation"]
    assert done.events[0].payload["job_limit"] == 4 and done.events[0].payload["status"] == "probation"
    assert done.steps[0].data["probation_until"] == "2027-02-28"
    own = step(
        record,
        "issue_agreement",
        HQ,
        LifecyclePolicy(probation_months=6),
        agreement={"job_limit": 2, "number": "XY-9", "valid_from": date(2026, 6, 1)},
    )
    assert own.changes["job_limit"] == 2 and own.changes["agreement"]["number"] == "XY-9"
    assert own.changes["probation_until"] == date(2026, 12, 1)


@pytest.mark.parametrize(
    "agreement, field",
    [
        (None, "agreement"),
        ({"valid_from": date(2025, 11, 1)}, "agreement"),  # over a year back
        ({"valid_from": date(2027, 3, 15)}, "agreement"),  # over 3 months ahead
        ({"valid_from": date(2026, 12, 1), "valid_to": date(2026, 11, 30)}, "agreement"),  # ends before it starts
    ],
)
def test_issue_agreement_refuses_a_missing_or_out_of_range_agreement(agreement, field):
    with pytest.raises(ValidationFailed) as err:
        step(outlet("approved"), "issue_agreement", CENTER, agreement=agreement)
    assert field in err.value.fields


def test_issue_agreement_only_after_approval_and_not_by_an_outlet():
    with pytest.raises(InvalidTransition):
        step(outlet("technical_reviewed"), "issue_agreement", CENTER, agreement={"terms": "x"})
    with pytest.raises(Forbidden):
        step(outlet("approved"), "issue_agreement", OUTLET_PRINCIPAL, agreement={"terms": "x"})


def test_probation_cannot_pass_before_it_is_over():
    record = outlet("probation", probation_until=date(2026, 12, 15))
    with pytest.raises(InvalidTransition) as err:
        step(record, "assess_probation", CENTER, result="passed")
    assert "result" in err.value.fields
    done = step(
        replace(record, probation_until=TODAY),
        "assess_probation",
        CENTER,
        result="passed",
        assessment={"score": Decimal("91.5")},
        reason="合格",
    )
    assert done.outlet.status == "effective" and names(done) == ["outlet.effective"]
    assert done.events[0].payload["reason"] == "合格"
    assert done.assessment == lifecycle.AssessmentRecord("probation", "passed", Decimal("91.5"), "合格")
    assert done.steps[0].data["assessment"] == {"score": "91.5", "result": "passed"}


def test_extended_probation_counts_from_its_end_or_from_today():
    ahead = step(
        outlet("probation", probation_until=date(2026, 12, 15)),
        "assess_probation",
        CENTER,
        result="extended",
        assessment={"extend_months": 2, "findings": "回访率不足"},
    )
    assert ahead.outlet.status == "probation" and ahead.changes["probation_until"] == date(2027, 2, 15)
    assert ahead.events == () and ahead.assessment.findings == "回访率不足"
    lapsed = step(outlet("probation", probation_until=date(2026, 10, 1)), "assess_probation", CENTER, result="extended")
    assert lapsed.changes["probation_until"] == date(2026, 12, 30)  # one month from today


def test_refused_probation_revokes_and_asks_for_clearing():
    done = step(
        outlet("probation", probation_until=date(2026, 11, 1)),
        "assess_probation",
        CENTER,
        result="refused",
        assessment={"findings": "投诉多"},
    )
    assert done.outlet.status == "revoking"
    assert done.changes["revocation"] == {
        "reason_code": "probation_refused",
        "details": "投诉多",
        "filed_by": "agent",
        "filed_at": NOW.isoformat(),
    }
    assert names(done) == ["outlet.revoking", "account.clearing_requested"]
    assert done.events[0].payload["reason"] == "probation_refused" and done.events[0].payload["status"] == "revoking"
    assert done.events[1].payload == {"tenant_id": "C01", "outlet_id": "C01-O08", "request_id": "req-new", "at": NOW}
    assert done.changes["clearing_request_id"] == "req-new" and done.changes["clearing_status"] == "pending"


def test_only_the_center_assesses_probation():
    for principal in (HQ, HEAD, OUTLET_PRINCIPAL):
        with pytest.raises(Forbidden):
            step(outlet("probation"), "assess_probation", principal, result="extended")
    with pytest.raises(ValidationFailed) as err:
        step(outlet("probation"), "assess_probation", CENTER)
    assert "result" in err.value.fields


# ------------------------------------------------------------------ suspension
@pytest.mark.parametrize("state", ["probation", "effective"])
def test_suspension_remembers_the_state_and_reinstatement_returns_to_it(state):
    suspended = step(outlet(state, job_limit=3), "suspend", CENTER, reason="整改")
    assert suspended.outlet.status == "suspended" and suspended.changes["resume_status"] == state
    assert names(suspended) == ["outlet.suspended"]
    assert suspended.events[0].payload["status"] == "suspended" and suspended.events[0].payload["reason"] == "整改"
    back = step(suspended.outlet, "reinstate", HQ, reason="整改完成")
    assert back.outlet.status == state and back.changes["resume_status"] is None
    assert names(back) == ["outlet.reinstated"]
    # probation keeps its job limit; an effective outlet has none
    assert back.events[0].payload["job_limit"] == (3 if state == "probation" else None)


def test_suspension_and_reinstatement_are_refused_out_of_place():
    for state in ("applied", "approved", "suspended", "revoking", "revoked"):
        with pytest.raises(InvalidTransition):
            step(outlet(state), "suspend", CENTER, reason="x")
    with pytest.raises(InvalidTransition):
        step(outlet("effective"), "reinstate", CENTER, reason="x")
    with pytest.raises(InvalidTransition):  # nothing remembered to return to
        step(outlet("suspended"), "reinstate", CENTER, reason="x")
    with pytest.raises(Forbidden):
        step(outlet("effective"), "suspend", OUTLET_PRINCIPAL, reason="x")


# ------------------------------------------------------------------ revocation
def test_the_revocation_form_is_filed_and_the_outlet_works_as_before():
    done = step(outlet("probation"), "request_revocation", CENTER, revocation=FORM)
    assert done.outlet.status == "revocation_requested" and done.changes["resume_status"] == "probation"
    assert done.changes["revocation"] == dict(FORM, filed_by="agent", filed_role="center", filed_at=NOW.isoformat())
    assert done.events == () and done.steps[0].data["revocation"]["reason_code"] == "poor_quality"
    from services.certification.domain import event_status

    assert event_status(done.outlet) == "probation"  # other services see it working as before


def test_an_outlet_may_only_ask_in_writing_to_end_its_own_agreement():
    with pytest.raises(ValidationFailed):
        step(outlet("effective"), "request_revocation", OUTLET_PRINCIPAL, revocation=FORM)
    with pytest.raises(ValidationFailed):
        step(outlet("effective"), "request_revocation", OUTLET_PRINCIPAL, revocation={"reason_code": "outlet_request"})
    done = step(
        outlet("effective"),
        "request_revocation",
        OUTLET_PRINCIPAL,
        revocation={"reason_code": "outlet_request", "written_request_ref": "函-2026-11"},
    )
    assert done.changes["revocation"]["filed_role"] == "outlet"
    with pytest.raises(ValidationFailed):  # the form is required
        step(outlet("effective"), "request_revocation", CENTER)
    with pytest.raises(InvalidTransition):
        step(outlet("applied"), "request_revocation", CENTER, revocation=FORM)


def test_the_revocation_reviews_in_order_with_their_duties_then_revoking():
    filed = step(outlet("effective"), "request_revocation", CENTER, revocation=FORM).outlet
    with pytest.raises(Forbidden):
        step(filed, "revocation_center_review", HQ, decision="pass")
    centered = step(filed, "revocation_center_review", CENTER, decision="pass").outlet
    assert centered.status == "revocation_center_reviewed"
    with pytest.raises(Forbidden):  # a center user without the duty
        step(centered, "revocation_technical_review", CENTER, decision="pass")
    with pytest.raises(InvalidTransition):  # the head cannot skip the technical review
        step(centered, "revocation_approval", HEAD, decision="pass")
    reviewed = step(centered, "revocation_technical_review", HQ_TECH, decision="pass").outlet
    assert reviewed.status == "revocation_technical_reviewed"
    for principal in (HQ, HQ_TECH, CENTER_TECH):
        with pytest.raises(Forbidden):
            step(reviewed, "revocation_approval", principal, decision="pass")
    done = step(reviewed, "revocation_approval", HEAD, decision="pass")
    assert done.outlet.status == "revoking" and names(done) == ["outlet.revoking", "account.clearing_requested"]
    assert done.events[0].payload["reason"] == "poor_quality"
    assert done.outlet.clearing_request_id == "req-new" and done.outlet.clearing_status == "pending"


@pytest.mark.parametrize(
    "action, state, principal",
    [
        ("revocation_center_review", "revocation_requested", CENTER),
        ("revocation_technical_review", "revocation_center_reviewed", CENTER_TECH),
        ("revocation_approval", "revocation_technical_reviewed", HEAD),
    ],
)
def test_a_rejected_revocation_returns_the_outlet_to_where_it_was(action, state, principal):
    record = outlet(state, resume_status="suspended", revocation=dict(FORM, filed_by="agent"))
    done = step(record, action, principal, decision="reject", reason="证据不足")
    assert done.outlet.status == "suspended" and done.changes["resume_status"] is None
    revocation = done.changes["revocation"]
    assert revocation["reason_code"] == "poor_quality"  # the form is kept, with the rejection
    assert revocation["rejected_by"] == principal.user and revocation["rejected_at_step"] == action
    assert revocation["rejection_reason"] == "证据不足" and revocation["rejected_at"] == NOW.isoformat()
    assert done.events == ()


def test_clearing_is_asked_again_only_while_revoking():
    record = outlet("revoking", clearing_request_id="req-1", clearing_status="open_items")
    done = step(record, "request_clearing", HQ)
    assert done.outlet.status == "revoking" and names(done) == ["account.clearing_requested"]
    assert done.changes["clearing_request_id"] == "req-new" and done.changes["clearing_status"] == "pending"
    with pytest.raises(InvalidTransition):
        step(outlet("effective"), "request_clearing", HQ)
    with pytest.raises(Forbidden):
        step(record, "request_clearing", OUTLET_PRINCIPAL)


def test_unknown_actions_and_settlement_facts_are_refused_to_users():
    with pytest.raises(ValidationFailed) as err:
        step(outlet("applied"), "approve_everything", HEAD)
    assert "action" in err.value.fields
    for fact in ("accounts_cleared", "accounts_open"):
        with pytest.raises(Forbidden):
            step(outlet("revoking"), fact, HQ)


def test_every_user_action_has_its_own_rule():
    from services.certification.domain import USER_ACTIONS

    assert set(lifecycle.STEP_RULES) == set(USER_ACTIONS)


def test_the_command_reads_its_choice_and_ignores_the_version():
    command = StepCommand.of(
        {"action": "assess_probation", "result": "extended", "decision": None, "expected_version": 3, "attachments": []}
    )
    assert command.choice == "extended"
    assert StepCommand.of({"action": "suspend", "reason": "x"}).choice is None
    assert StepCommand(action="suspend").clearing_request_id != StepCommand(action="suspend").clearing_request_id


# ------------------------------------------------------------------ settlement's answers
def test_only_the_pending_clearing_is_answered():
    record = outlet("revoking", clearing_request_id="req-1")
    assert lifecycle.answers_pending_clearing(record, "req-1")
    assert not lifecycle.answers_pending_clearing(record, "req-0")
    assert not lifecycle.answers_pending_clearing(replace(record, status="revoked"), "req-1")
    assert not lifecycle.answers_pending_clearing(None, "req-1")


def test_cleared_accounts_end_the_cooperation_with_a_notice():
    record = outlet(
        "revoking",
        clearing_request_id="req-1",
        clearing_status="pending",
        resume_status="effective",
        agreement={"number": "XY-C01-O08-2026"},
        revocation={"reason_code": "breach"},
    )
    done = lifecycle.accounts_cleared(record, "req-1", SERVICE, NOW)
    assert done.outlet.status == "revoked"
    assert done.changes == {
        "status": "revoked",
        "clearing_status": "cleared",
        "open_items": [],
        "resume_status": None,
        "updated_at": NOW,
    }
    assert names(done) == ["outlet.revoked"] and done.events[0].payload["reason"] == "breach"
    assert done.events[0].payload["status"] == "revoked"
    assert done.notice.kind == "revoked"
    assert "XY-C01-O08-2026" in done.notice.text and "武汉新特约站" in done.notice.text
    assert done.steps[0].data == {"request_id": "req-1", "notified": True}
    with pytest.raises(Forbidden):  # a fact the service applies, not a user
        lifecycle.accounts_cleared(record, "req-1", HQ, NOW)


RESERVATION = {"kind": "reservation", "ref": "R1", "amount": "0"}
CLAIM = {"kind": "claim", "ref": "F1", "amount": "120.00"}


def test_open_items_go_on_the_file():
    record = outlet("revoking", clearing_request_id="req-1", clearing_status="pending")
    done = lifecycle.accounts_open(record, "req-1", [CLAIM, RESERVATION], True, SERVICE, NOW)
    assert done.outlet.status == "revoking" and done.outlet.clearing_status == "open_items"
    assert done.outlet.open_items == [CLAIM, RESERVATION] and done.events == ()
    assert [s.action for s in done.steps] == ["accounts_open"]
    assert done.steps[0].data == {"request_id": "req-1", "open_items": [CLAIM, RESERVATION]}


def test_a_first_answer_of_only_reservations_is_asked_again_at_once():
    record = outlet("revoking", clearing_request_id="req-1", clearing_status="pending")
    done = lifecycle.accounts_open(record, "req-1", [RESERVATION], True, SERVICE, NOW, next_request_id="req-2")
    assert [s.action for s in done.steps] == ["accounts_open", "clearing_rerequested"]
    assert done.steps[1].data == {"previous_request_id": "req-1", "request_id": "req-2"}
    assert done.changes["clearing_request_id"] == "req-2" and done.changes["clearing_status"] == "pending"
    assert done.changes["open_items"] == [RESERVATION]
    assert names(done) == ["account.clearing_requested"] and done.events[0].payload["request_id"] == "req-2"
    later = lifecycle.accounts_open(record, "req-1", [RESERVATION], False, SERVICE, NOW, next_request_id="req-2")
    assert [s.action for s in later.steps] == ["accounts_open"] and later.outlet.clearing_request_id == "req-1"


def test_a_released_visit_asks_again_only_after_an_answer_of_reservations():
    waiting = outlet("revoking", clearing_request_id="req-1", clearing_status="open_items", open_items=[RESERVATION])
    assert lifecycle.clearing_worth_asking_again(waiting)
    assert not lifecycle.clearing_worth_asking_again(replace(waiting, open_items=[RESERVATION, CLAIM]))
    assert not lifecycle.clearing_worth_asking_again(replace(waiting, clearing_status="pending"))
    assert not lifecycle.clearing_worth_asking_again(replace(waiting, status="revoked"))
    asked = lifecycle.rerequest_clearing(waiting, NOW, "req-3")
    assert asked.outlet.clearing_request_id == "req-3" and asked.outlet.status == "revoking"
    assert asked.steps[0].reason == lifecycle.CLEARING_REREQUEST_REASON
