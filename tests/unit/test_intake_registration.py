"""The registration decision as plain functions: `domain.admit` (who may register, whose request
it is) and `domain.register` (placement, status, warranty, priority, deadlines, what it emits),
with the real tenant directory and offline geocoder and a fixed clock."""

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from services.intake import domain
from services.intake.domain import Case, Status
from shared.errors import Forbidden, ValidationFailed
from shared.geo import ChinaGeocoder
from shared.sla import SlaClock, SlaPolicy
from shared.tenancy import Principal
from shared.tenants import TenantDirectory

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
HQ = Principal("hq1", "hq")
CENTER = Principal("agent1", "center", tenant="C01")
CUSTOMER = Principal("cust1", "customer", customer="cu_portal_1")
WUHAN = "湖北省武汉市洪山区珞喻路1号"
AMBIGUOUS = "市中区经十路164号"  # a district name several cities have


@pytest.fixture(scope="module")
def geocoder():
    return ChinaGeocoder()


@pytest.fixture
def policies():
    asked = []

    def sla_policy(tenant_id):
        asked.append(tenant_id)
        return SlaPolicy()

    return SimpleNamespace(directory=TenantDirectory.load(), clock=SlaClock(), sla_policy=sla_policy, asked=asked)


def cmd(**over):
    base = {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": "武汉某公司",
        "phone": "138****0000",
        "address": WUHAN,
        "product_line": "数控车床",
        "purchase_date": None,
        "fault": "无法启动",
    }
    return {**base, **over}


def decide(geocoder, policies, principal=CENTER, **over):
    request = domain.admit(cmd(**over), principal, NOW)
    return request, domain.register(request, geocoder.parse(request["address"]), principal, NOW, policies)


# ---------------------------------------------------------------- admit
@pytest.mark.parametrize(
    "role",
    [
        Principal("o", "outlet", tenant="C01", outlet="C01-O01"),
        Principal("w", "warehouse", tenant="C01", warehouse="W01"),
    ],
)
def test_outlets_and_warehouses_cannot_register(role):
    with pytest.raises(Forbidden):
        domain.admit(cmd(), role, NOW)


def test_staff_request_is_the_callers_customer_by_name_and_phone_and_received_now():
    request = domain.admit(cmd(), CENTER, NOW)
    assert request["customer_id"] == domain.customer_key("武汉某公司", "138****0000")
    assert request["customer_id"] != domain.customer_key("武汉某公司", "138****0001")
    assert request["received_at"] == NOW and request["channel"] == "hotline"


def test_staff_may_back_date_the_request_and_the_command_is_left_as_it_was():
    given = cmd(received_at=datetime(2026, 3, 9, 9, 0, tzinfo=TZ))
    request = domain.admit(given, CENTER, NOW)
    assert request["received_at"] == datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    assert request["received_at"].tzinfo == UTC
    assert given["received_at"].tzinfo == TZ and "customer_id" not in given


def test_customer_registers_their_own_request_through_the_portal():
    request = domain.admit(cmd(channel="web"), CUSTOMER, NOW)
    assert (request["customer_id"], request["channel"]) == ("cu_portal_1", "portal")


def test_customer_cannot_choose_the_center():
    with pytest.raises(ValidationFailed) as exc:
        domain.admit(cmd(tenant_id="C02"), CUSTOMER, NOW)
    assert "tenant_id" in exc.value.fields


def test_customer_cannot_back_date():
    with pytest.raises(ValidationFailed) as exc:
        domain.admit(cmd(received_at=NOW - timedelta(days=1)), CUSTOMER, NOW)
    assert "received_at" in exc.value.fields


# ---------------------------------------------------------------- register
def test_a_request_in_a_centers_territory_is_registered_there_forwarded_and_announced(geocoder, policies):
    request, reg = decide(geocoder, policies, channel="web")  # web: the 1-hour forwarding rule
    t = reg.ticket
    assert (t["tenant_id"], t["tier"], t["status"], t["case_state"]) == ("C01", "local", Status.REGISTERED, None)
    assert t["number"].startswith("C01-260310-") and len(t["id"]) == 32
    assert (t["customer_id"], t["owner_user"], t["received_at"], t["registered_at"]) == (
        request["customer_id"],
        "agent1",
        NOW,
        NOW,
    )
    assert reg.met == [("forward", NOW)] and reg.announce is True and reg.events == []
    assert {"accept", "onsite", "forward"} <= set(reg.deadlines)
    assert reg.audit == domain.Audit("register", None, Status.REGISTERED, None, {"warranty": t["warranty_reason"]})
    assert policies.asked == ["C01"]


def test_an_address_whose_territory_cannot_be_told_waits_for_hq_in_triage(geocoder, policies):
    _, reg = decide(geocoder, policies, principal=HQ, address=AMBIGUOUS)
    t = reg.ticket
    assert (t["tenant_id"], t["status"], t["tier"]) == (domain.TRIAGE_TENANT, Status.TRIAGE, None)
    assert "onsite" not in reg.deadlines and "accept" in reg.deadlines
    assert reg.met == [] and reg.announce is False
    assert reg.audit.to_state == Status.TRIAGE and reg.audit.note == t["triage_reason"] == "ambiguous district name"
    assert policies.asked == [None]  # HQ's triage is no center: the default policy


def test_a_center_takes_an_ambiguous_address_itself(geocoder, policies):
    _, reg = decide(geocoder, policies, address=AMBIGUOUS)
    assert (reg.ticket["tenant_id"], reg.ticket["status"]) == ("C01", Status.REGISTERED) and reg.announce


def test_a_complaint_opens_a_case_with_priority_two(geocoder, policies):
    _, reg = decide(geocoder, policies, kind="complaint")
    assert (reg.ticket["case_state"], reg.ticket["priority"], reg.ticket["escalation"]) == (Case.ACCEPTED, 2, None)
    assert reg.events == []


def test_a_safety_fault_is_priority_one_and_escalated_to_management(geocoder, policies):
    _, reg = decide(geocoder, policies, fault="电机冒烟")
    t = reg.ticket
    assert (t["priority"], t["escalation"]) == (1, "safety")
    assert reg.events == [
        (
            "ticket.escalated",
            {
                "tenant_id": "C01",
                "ticket_id": t["id"],
                "number": t["number"],
                "reason": "safety",
                "level": "management",
            },
        )
    ]


@pytest.mark.parametrize(
    "bought,status,remedy",
    [
        (date(2026, 3, 1), "warranty", "return"),  # 9 days
        (date(2026, 2, 20), "warranty", "exchange"),  # 18 days
        (date(2025, 6, 1), "warranty", "repair"),
        (date(2024, 6, 1), "self_paid", "repair"),  # the 1-year warranty is over
        (None, "unknown", None),
    ],
)
def test_warranty_is_decided_on_the_local_day_the_request_was_received(geocoder, policies, bought, status, remedy):
    _, reg = decide(geocoder, policies, purchase_date=bought)
    assert (reg.ticket["warranty"], reg.ticket["warranty_remedy"]) == (status, remedy)


def test_a_purchase_after_the_request_is_refused(geocoder, policies):
    with pytest.raises(ValidationFailed) as exc:
        decide(geocoder, policies, purchase_date=date(2026, 3, 11))
    assert "purchase_date" in exc.value.fields


def test_a_wished_day_means_by_its_closing_time_a_wished_time_is_kept_in_utc(geocoder, policies):
    _, by_day = decide(geocoder, policies, wished_visit_at=date(2026, 3, 12))
    assert by_day.ticket["wished_visit_at"] == SlaClock().closing(date(2026, 3, 12))
    at = datetime(2026, 3, 12, 15, 0, tzinfo=TZ)
    _, by_time = decide(geocoder, policies, wished_visit_at=at)
    assert by_time.ticket["wished_visit_at"] == at and by_time.ticket["wished_visit_at"].tzinfo == UTC


def test_a_center_cannot_register_outside_its_territory(geocoder, policies):
    with pytest.raises(ValidationFailed) as exc:
        decide(geocoder, policies, address="山东省济南市历下区经十路1号")
    assert "address" in exc.value.fields
