"""What a complaint is about decides whether someone goes on site (issue 17): only a complaint about
the machine or the work on it gets an on-site deadline and a dispatch visit; one about fees,
attitude, lateness or information does not. Plain functions, a fixed clock."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.intake import domain
from services.intake.schemas import PreviewQuery, RegisterTicket
from services.qa.complaint_rules import CAUSES
from shared import events
from shared.geo import ChinaGeocoder
from shared.sla import SlaClock, SlaPolicy
from shared.tenancy import Principal
from shared.tenants import TenantDirectory
from shared.validation import load

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai
CENTER = Principal("agent1", "center", tenant="C01")
REQUEST = {
    "kind": "complaint",
    "channel": "hotline",
    "customer_name": "武汉某公司",
    "phone": "13800000000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "fault": "收费过高",
}


@pytest.fixture(scope="module")
def policies():
    return SimpleNamespace(directory=TenantDirectory.load(), clock=SlaClock(), sla_policy=lambda tenant: SlaPolicy())


def register(policies, **over):
    request = domain.admit(load(RegisterTicket(), {**REQUEST, **over}), CENTER, NOW)
    return domain.register(request, ChinaGeocoder().parse(request["address"]), CENTER, NOW, policies)


@pytest.mark.parametrize("category", ["fees", "attitude", "late_service", "information", "other"])
def test_a_complaint_that_needs_no_visit_has_no_onsite_deadline(policies, category):
    reg = register(policies, complaint_category=category)
    assert reg.ticket["complaint_category"] == category
    assert "onsite" not in reg.deadlines
    # the complaint's own commitments stand
    assert {"accept", "phone_reply", "complaint_plan", "complaint_close"} <= set(reg.deadlines)


@pytest.mark.parametrize("category", ["product_quality", "installation", "repair_quality", "parts", None])
def test_a_complaint_about_the_machine_or_the_work_has_one(policies, category):
    reg = register(policies, complaint_category=category)
    assert "onsite" in reg.deadlines and reg.ticket["complaint_category"] == category


def registered_body(reg):
    """The ticket.registered body of a registration, as published and as dispatch loads it."""
    deadlines = [SimpleNamespace(sla=sla, due_at=due) for sla, due in reg.deadlines.items()]
    body = domain.registered_event(SimpleNamespace(**reg.ticket, deadlines=deadlines))
    return events.load("ticket.registered", events.dump("ticket.registered", body))


def test_ticket_registered_tells_dispatch_whether_a_visit_is_needed(policies):
    fee = registered_body(register(policies, complaint_category="fees"))
    assert (fee["needs_visit"], fee["complaint_category"], fee["onsite_due"]) == (False, "fees", None)
    product = registered_body(register(policies, complaint_category="product_quality"))
    assert product["needs_visit"] is True and product["onsite_due"] is not None
    assert domain.needs_visit("repair", None) is True and domain.needs_visit("consultation", None) is False
    # an older publisher's event without the field: a visit, as before
    older = events.dump(
        "ticket.registered", domain.registered_event(SimpleNamespace(**register(policies).ticket, deadlines=[]))
    )
    older.pop("needs_visit")
    assert events.load("ticket.registered", older)["needs_visit"] is True


def test_the_category_is_for_complaints_only_and_one_of_the_list():
    with pytest.raises(Exception) as exc:
        load(RegisterTicket(), {**REQUEST, "kind": "repair", "complaint_category": "fees"})
    assert "complaint_category" in exc.value.fields
    with pytest.raises(Exception) as exc:
        load(RegisterTicket(), {**REQUEST, "complaint_category": "noise"})
    assert "complaint_category" in exc.value.fields


def test_the_preview_shows_no_onsite_deadline_for_a_fee_complaint(policies):
    from services.intake import outlook

    query = load(PreviewQuery(), {"address": REQUEST["address"], "kind": "complaint", "complaint_category": "fees"})
    out = outlook.preview(query, ChinaGeocoder().parse(query["address"]), CENTER, NOW, policies)
    assert "onsite" not in out["deadlines"] and "accept" in out["deadlines"]


def test_qa_analyses_complaints_by_the_same_categories():
    assert set(CAUSES) == set(events.COMPLAINT_CATEGORIES)
