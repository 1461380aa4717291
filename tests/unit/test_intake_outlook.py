"""What intake tells a caller before they act (`outlook`): the workflow steps allowed from a
ticket's state are exactly those `domain.transition` accepts, where each deadline stands, and the
registration preview (placement, tier, ambiguity, warranty, deadlines) with the real tenant
directory and offline geocoder."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.intake import complaints, domain, outlook
from services.intake.domain import Case, Status
from services.intake.outlook import DeadlineState
from shared.errors import InvalidTransition, ValidationFailed
from shared.geo import ChinaGeocoder
from shared.sla import SlaClock, SlaPolicy
from shared.tenancy import Principal
from shared.tenants import TenantDirectory

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
CENTER = Principal("agent1", "center", tenant="C01")
HQ = Principal("hq1", "hq")


@pytest.fixture(scope="module")
def directory():
    return TenantDirectory.load()


@pytest.fixture(scope="module")
def geocoder():
    return ChinaGeocoder()


@pytest.fixture
def policies(directory):
    return SimpleNamespace(directory=directory, clock=SlaClock(), sla_policy=lambda tenant: SlaPolicy())


def ticket(status=Status.REGISTERED, case_state=None):
    return SimpleNamespace(
        id="t1",
        number="C01-260310-AAAA0000",
        tenant_id="C01",
        kind="complaint" if case_state else "repair",
        status=status,
        case_state=case_state,
        assigned_outlet_id=None,
        owner_user="agent1",
        responsibility=None,
        escalation=None,
        grey_zone_ruled_at=None,
        escalation_manager=None,
        escalation_acked_at=None,
    )


def transition_accepts(t, action, role, directory):
    cmd = {
        "action": action,
        "note": None,
        "outlet_id": "C01-O01",
        "tenant_id": "C02",
        "address": None,
        "attachments": [],
        "expected_version": None,
        "cause": None,
        "responsibility": None,
    }
    try:
        domain.transition(t, cmd, role, NOW, directory)
    except InvalidTransition:
        return False
    return True


STATES = [(s, None) for s in (*domain.OPEN_STATUSES, Status.CLOSED, Status.CANCELLED)] + [
    (Status.ACCEPTED, c) for c in vars(Case).values() if isinstance(c, str) and not c.startswith("_")
]


@pytest.mark.parametrize("role", ["center", "hq", "outlet"])
@pytest.mark.parametrize(("status", "case_state"), STATES)
def test_the_steps_offered_are_exactly_the_ones_the_workflow_accepts(status, case_state, role, directory):
    t = ticket(status, case_state)
    offered = {s.action for s in outlook.allowed_steps(t, role)} - set(complaints.STEPS)  # test_intake_complaints
    every = set(domain.TICKET_ACTIONS) | set(domain.CASE_STEPS)
    accepted = {a for a in every if transition_accepts(t, a, role, directory)}
    assert offered == accepted


def test_a_new_complaint_walks_its_eleven_steps_one_offer_at_a_time():
    t = ticket(Status.REGISTERED, Case.ACCEPTED)
    path = [
        "register",
        "internal_check",
        "plan_dispatch",
        "verify_on_site",
        "negotiate",
        "order_rectification",
        "pay_compensation",
        "notify_result",
        "report",
        "sign_agreement",
        "close_case",
    ]
    for action in path:
        steps = {s.action: s for s in outlook.allowed_steps(t, "center") if s.kind == "case"}
        assert action in steps, (t.case_state, sorted(steps))
        t.case_state = steps[action].to_state
    assert t.case_state == Case.CLOSED
    assert [s for s in outlook.allowed_steps(t, "center") if s.kind == "case"] == []


def test_the_steps_say_what_they_need_and_which_the_visits_take_themselves():
    steps = {s.action: s for s in outlook.allowed_steps(ticket(Status.ACCEPTED), "center")}
    assert steps["assign_outlet"].needs == ("outlet_id",)
    assert steps["start_visit"].by_facts and steps["schedule"].by_facts
    assert not steps["accept" if "accept" in steps else "cancel"].by_facts
    assert steps["cancel"].to_state == Status.CANCELLED
    assert "route" not in steps  # HQ's step
    triage = {s.action: s for s in outlook.allowed_steps(ticket(Status.TRIAGE), "hq")}
    assert set(triage) == {"route", "cancel"} and triage["route"].needs == ("tenant_id",)
    assert outlook.allowed_steps(ticket(Status.CLOSED), "outlet") == []


def deadline(due, met=None, breached=None):
    return SimpleNamespace(sla="onsite", due_at=due, met_at=met, breached_at=breached)


def test_where_a_deadline_stands():
    received = NOW - timedelta(hours=20)
    due = NOW + timedelta(hours=4)  # of 24 h: the last quarter is 6 h
    state = outlook.deadline_state
    assert state(deadline(due), received, True, NOW) == DeadlineState.AT_RISK
    assert state(deadline(due), received, True, NOW - timedelta(hours=3)) == DeadlineState.OPEN
    assert state(deadline(due), received, True, due + timedelta(seconds=1)) == DeadlineState.BREACHED
    assert state(deadline(due, breached=due), received, False, due + timedelta(days=1)) == DeadlineState.BREACHED
    assert state(deadline(due), received, False, due + timedelta(days=1)) == DeadlineState.VOID
    assert state(deadline(due, met=NOW), received, True, NOW) == DeadlineState.MET
    late = due + timedelta(minutes=5)
    assert state(deadline(due, met=late, breached=due), received, True, late) == DeadlineState.MET_LATE
    # a short commitment is at risk in its last two hours at least
    short = deadline(NOW + timedelta(minutes=100))
    assert state(short, NOW - timedelta(minutes=20), True, NOW) == DeadlineState.AT_RISK


def test_the_preview_places_a_wuhan_address_for_its_center(geocoder, policies):
    request = {"address": "湖北省武汉市洪山区珞喻路1号", "kind": "repair", "product_line": "数控车床"}
    out = outlook.preview(request, geocoder.parse(request["address"]), CENTER, NOW, policies)
    place = out["placement"]
    assert (place["province"], place["city"], place["district"]) == ("湖北省", "武汉市", "洪山区")
    assert (place["tenant_id"], place["tier"], place["ambiguous"]) == ("C01", "local", False)
    assert out["warranty"]["status"] == "unknown" and out["warranty"]["warranty_years"] == 1
    assert set(out["deadlines"]) >= {"accept", "onsite"} and out["errors"] == {}
    assert out["deadlines"]["onsite"] == NOW + timedelta(hours=24)


def test_the_preview_flags_an_ambiguous_district_with_its_candidates(geocoder, policies):
    request = {"address": "市中区经十路164号"}
    out = outlook.preview(request, geocoder.parse(request["address"]), HQ, NOW, policies)
    place = out["placement"]
    assert place["ambiguous"] and len(place["candidates"]) > 1
    assert place["tenant_id"] == domain.TRIAGE_TENANT and place["tier"] is None
    assert {c["district"] for c in place["candidates"]} == {"市中区"}


def test_the_preview_says_an_address_is_another_centers_and_a_future_purchase(geocoder, policies):
    request = {"address": "山东省济南市历下区经十路1号", "purchase_date": date(2026, 4, 1), "kind": "repair"}
    out = outlook.preview(request, geocoder.parse(request["address"]), CENTER, NOW, policies)
    assert "address" in out["errors"] and "purchase_date" in out["errors"]
    assert out["placement"]["province"] == "山东省" and out["placement"]["tenant_id"] is None
    assert out["warranty"] is None and out["deadlines"] == {}
    with pytest.raises(ValidationFailed):  # registering it is refused the same way
        domain.place(geocoder.parse(request["address"]), policies.directory, CENTER)


def test_the_preview_decides_the_warranty_as_registration_does(geocoder, policies):
    out = outlook.preview(
        {"product_line": "螺杆空压机", "purchase_date": date(2023, 3, 1)}, None, CENTER, NOW, policies
    )
    assert out["placement"] is None
    w = out["warranty"]
    assert (w["status"], w["remedy"], w["warranty_years"]) == ("warranty", "repair", 5)
    assert w["expires_on"] == date(2028, 3, 1)
    recent = outlook.preview({"purchase_date": date(2026, 3, 1)}, None, CENTER, NOW, policies)["warranty"]
    assert (recent["status"], recent["remedy"]) == ("warranty", "return")
