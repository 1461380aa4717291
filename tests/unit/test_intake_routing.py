"""HQ's routing rules (services/intake/routing.py): the candidate centers of a triage ticket, a
center that does not serve the customer's province refused unless the corrected address places the
customer there, when a registered ticket may still be re-routed, what the audit entry keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.intake import domain, outlook, routing
from shared.errors import InvalidTransition, ValidationFailed
from shared.geo.geocoder import ChinaGeocoder
from shared.tenants import TenantDirectory

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
AMBIGUOUS = "青山区和平大道293号"  # a 青山区 in Wuhan (湖北, C01) and one in Baotou (内蒙古, C06)


@pytest.fixture(scope="module")
def directory():
    return TenantDirectory.load()


@pytest.fixture(scope="module")
def geo():
    return ChinaGeocoder().parse


def ticket(**over):
    base = dict(id="t1", number="HQ-260310-AAAA0000", tenant_id="HQ", status="triage", case_state=None)
    handling = dict(  # complaint handling's columns (complaints.py), as a new ticket has them
        owner_user="agent1",
        responsibility=None,
        grey_zone_ruled_at=None,
        escalation=None,
        escalation_manager=None,
        escalation_acked_at=None,
    )
    return SimpleNamespace(**{"assigned_outlet_id": None, **handling, **base, **over})


def test_the_candidates_are_the_centers_of_every_province_the_address_may_be_in(directory, geo):
    assert routing.candidate_centers(directory, geo(AMBIGUOUS)) == ["C06", "C01"]
    assert routing.candidate_centers(directory, geo("湖北省武汉市青山区和平大道293号")) == ["C01"]
    assert routing.candidate_centers(directory, geo("某某路1号")) == []  # no province: correct the address
    assert routing.candidate_provinces(geo(AMBIGUOUS)) == ["内蒙古自治区", "湖北省"]


def test_a_center_serving_none_of_the_provinces_is_refused_naming_the_center(directory, geo):
    with pytest.raises(ValidationFailed) as exc:
        routing.check_target(directory, ticket(), "C04", geo(AMBIGUOUS), corrected=False)
    assert set(exc.value.fields) == {"tenant_id"} and "C04" in exc.value.fields["tenant_id"][0]
    routing.check_target(directory, ticket(), "C01", geo(AMBIGUOUS), corrected=False)  # a candidate


def test_a_corrected_address_in_the_centers_territory_lets_it_take_the_ticket(directory, geo):
    routing.check_target(directory, ticket(), "C04", geo("广东省广州市天河区天河路1号"), corrected=True)
    with pytest.raises(ValidationFailed) as exc:  # corrected, but into another center's territory
        routing.check_target(directory, ticket(), "C04", geo("湖北省武汉市青山区和平大道293号"), corrected=True)
    assert set(exc.value.fields) == {"tenant_id", "address"} and "湖北省" in exc.value.fields["address"][0]


@pytest.mark.parametrize("target, field", [(None, "tenant_id"), ("C99", "tenant_id"), ("C01", "tenant_id")])
def test_no_unknown_or_unchanged_target(directory, geo, target, field):
    with pytest.raises(ValidationFailed) as exc:
        routing.check_target(directory, ticket(tenant_id="C01", status="registered"), target, geo(AMBIGUOUS), False)
    assert field in exc.value.fields


def test_an_ambiguous_address_is_placed_in_the_candidate_of_the_chosen_center(directory, geo):
    assert routing.chosen_candidate(directory, geo(AMBIGUOUS), "C01") == "湖北省武汉市青山区"
    assert routing.chosen_candidate(directory, geo(AMBIGUOUS), "C06").startswith("内蒙古自治区包头市")
    assert routing.chosen_candidate(directory, geo("湖北省武汉市青山区"), "C01") is None  # placed already


def test_re_routing_is_allowed_while_the_center_has_not_started(directory):
    routing.check_reroutable(ticket())
    routing.check_reroutable(ticket(status="registered", tenant_id="C01"))
    routing.check_reroutable(ticket(status="registered", kind="complaint", case_state="accepted"))
    for over in (
        {"status": "accepted"},
        {"status": "scheduled"},
        {"status": "registered", "assigned_outlet_id": "C01-O01"},
        {"status": "registered", "case_state": "registered"},
    ):
        with pytest.raises(InvalidTransition) as exc:
            routing.check_reroutable(ticket(tenant_id="C01", **over))
        assert "action" in exc.value.fields
    # the status table offers route to HQ from triage and registered
    assert domain.check_ticket_action("route", "registered", "hq") == "registered"
    with pytest.raises(InvalidTransition):
        domain.check_ticket_action("route", "accepted", "hq")


def test_the_record_names_the_target_where_it_came_from_and_the_corrected_address():
    cmd = {"tenant_id": "C01", "address": "湖北省武汉市青山区和平大道293号", "attachments": []}
    assert routing.route_record(ticket(), cmd, to_number="C01-1") == {
        "attachments": [],
        "tenant_id": "C01",
        "from_tenant_id": "HQ",
        "address": "湖北省武汉市青山区和平大道293号",
        "to_number": "C01-1",
    }


def test_a_rerouted_ticket_is_new_in_the_new_center_and_keeps_the_rest(directory, geo):
    place = domain.place(geo("山东省济南市历下区泉城路1号"), directory, SimpleNamespace(role="hq"), "C02")
    old = {
        "id": "t1",
        "number": "C01-260310-AAAA0000",
        "version": 3,
        "tenant_id": "C01",
        "status": "registered",
        "customer_name": "张三",
        "received_at": NOW,
        "assigned_outlet_id": None,
        "province": "湖北省",
        "triage_reason": None,
    }
    new = routing.rerouted_ticket(old, place, "C02-260310-BBBB0000", NOW)
    assert new["id"] != "t1" and new["number"] == "C02-260310-BBBB0000" and "version" not in new
    assert (new["tenant_id"], new["status"], new["province"], new["tier"]) == ("C02", "registered", "山东省", "local")
    assert (new["customer_name"], new["received_at"]) == ("张三", NOW)
    assert routing.met_on_routing(set(), NOW) == [("forward", NOW)]
    assert routing.met_on_routing({"forward"}, NOW) == []


def test_hq_is_offered_route_exactly_where_it_is_allowed():
    def offered(**over):
        return "route" in {s.action for s in outlook.allowed_steps(ticket(tenant_id="C01", **over), "hq")}

    assert offered(status="triage") and offered(status="registered")
    assert not offered(status="registered", assigned_outlet_id="C01-O01")
    assert not offered(status="registered", kind="complaint", case_state="registered")
    assert not offered(status="accepted")
