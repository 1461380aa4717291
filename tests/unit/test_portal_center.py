"""The center console's pure pieces: a queue row's running deadlines and worst state, an audit
entry's names, the dispatch board's timeline (drive from the leg's road km by the travel model,
service, a shared hour scale), what changed between two re-plans, the outlets' reconciliation rows;
and that no two portal mixins
define a helper of the same name (the gateway inherits them all: one would silently hide the
other)."""

from __future__ import annotations

import inspect
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from services.gateway.portal import pages_center_dispatch as board
from services.gateway.portal.pages_center_records import outlet_reconciliations
from services.gateway.portal.pages_center_tickets import audit_view, queue_row
from shared.geo import TravelModel

NOW = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def deadline(sla, hours, state):
    return {"sla": sla, "due_at": (NOW + timedelta(hours=hours)).isoformat(), "state": state}


def test_a_queue_row_keeps_the_running_deadlines_earliest_first_and_its_worst_state():
    ticket = {
        "deadlines": [
            deadline("phone_reply", 40, "open"),
            deadline("forward", -20, "met"),
            deadline("onsite", 1, "at_risk"),
            deadline("accept", -1, "breached"),
            deadline("complaint_close", 300, "void"),
        ]
    }
    row = queue_row(ticket)
    assert [d["sla"] for d in row["running"]] == ["accept", "onsite", "phone_reply"]
    assert row["worst"] == "breached"
    assert queue_row({"deadlines": [deadline("onsite", 1, "at_risk")]})["worst"] == "at_risk"
    assert queue_row({"deadlines": [deadline("onsite", 9, "open")]})["worst"] is None


def test_an_audit_entry_names_a_case_step_by_case_state_and_the_registration_by_status():
    registered = audit_view({"action": "register", "from_state": None, "to_state": "registered"})
    assert (registered["name"], registered["to"]) == ("登记", "已登记")
    case = audit_view({"action": "register", "from_state": "accepted", "to_state": "registered"})
    assert (case["name"], case["to"]) == ("立案", "已立案")
    reply = audit_view({"action": "reply_phone", "from_state": "accepted", "to_state": "accepted"})
    assert (reply["name"], reply["to"]) == ("电话回复客户", None)


def visit(vid, arrival_hour, km, minutes=90):
    arrival = datetime(2026, 3, 10, arrival_hour, 0, tzinfo=UTC) - timedelta(hours=8)
    return {
        "id": vid,
        "ticket_id": f"t{vid}",
        "ticket_number": f"C01-260310-{vid}",
        "technician_id": "T1",
        "planned_arrival": arrival.isoformat(),
        "planned_km": km,
        "service_minutes": minutes,
        "route_order": 1,
        "lat": 30.5,
        "lon": 114.3,
        "city": "武汉市",
        "late_risk": False,
    }


def test_the_board_draws_drive_then_service_on_one_hour_scale():
    travel = TravelModel()
    rows = board.technician_days(
        [visit("b", 13, 10), visit("a", 9, 40)],
        {"T1": {"name": "李军", "outlet_id": "C01-O05", "home_lat": 30.2, "home_lon": 114.9}},
        {"ta": {"customer_name": "武汉精工", "address": "洪山区珞喻路1号"}},
        travel,
    )
    [row] = rows
    first, second = row["stops"]
    assert (first["id"], second["id"]) == ("a", "b")  # by arrival
    assert first["drive_minutes"] == round(travel.hours_for_road_km(40) * 60)  # 15 + 20/30 h + 20/75 h
    assert first["drive_minutes"] == 71 and first["customer"] == "武汉精工"
    assert row["drive_minutes"] == first["drive_minutes"] + second["drive_minutes"]
    span = board.timeline_span(rows)
    assert span["hours"][0]["label"] == "07" and span["hours"][-1]["label"] == "18"  # 07:49 set-off; 08–18 at least
    bar = first["bar"]
    assert bar["drive_x"] < bar["x"] and abs(bar["drive_x"] + bar["drive_w"] - bar["x"]) < 0.2
    assert bar["w"] == round(board.WIDTH * 90 / (11 * 60), 1)  # 90 minutes of an 11-hour scale
    assert second["bar"]["x"] > bar["x"] + bar["w"]


def test_what_changed_since_the_last_plan():
    runs = [
        {"scheduled": 10, "dropped": 1, "late": 0, "planned_km": 120.5},
        {"scheduled": 9, "dropped": 2, "late": 0, "planned_km": 100.0},
    ]
    assert board.plan_changes(runs) == [("已排入", 1), ("无法派工", -1), ("总里程", 20.5)]
    assert board.plan_changes(runs[:1]) is None


def test_the_outlets_reconciliation_puts_discrepancies_first_and_names_the_parts():
    def report(location, kind, discrepancies):
        return {
            "location_id": location,
            "location_kind": kind,
            "figures": None,
            "discrepancies": discrepancies,
            "discrepancy_count": len(discrepancies),
        }

    missing = {"kind": "consumed_not_returned", "part_no": "P-1", "quantity": 1, "ref": "RMA-1"}
    odd = {"kind": "serial_mismatch", "part_no": "P-9", "quantity": 1, "ref": "v1"}
    rows = outlet_reconciliations(
        [
            report("C01-O01", "outlet", []),
            report("WH-C01", "warehouse", [missing]),  # the warehouse's: not an outlet's result
            report("C01-O03", "outlet", [missing]),
            report("C01-O02", "outlet", [missing, odd]),
        ],
        {"P-1": "主轴轴承"},
    )
    assert [r["location_id"] for r in rows] == ["C01-O02", "C01-O03", "C01-O01"]
    assert [d["part_name"] for d in rows[0]["discrepancies"]] == ["主轴轴承", "P-9"]  # unknown part: its number
    assert rows[2]["figures"] == {} and rows[2]["discrepancies"] == []


def test_live_parts_refresh_as_configured():
    from services.gateway.portal.web import Settings

    assert Settings.from_config({}).refresh_seconds == 30
    assert Settings.from_config({"PORTAL_REFRESH_SECONDS": "5"}).refresh_seconds == 5
    assert Settings.from_config({"PORTAL_REFRESH_SECONDS": 0}).refresh_seconds == 1  # never a busy loop


def test_no_two_portal_mixins_define_a_helper_of_the_same_name():
    from services.gateway.service import GatewayService

    owners = defaultdict(list)
    for cls in GatewayService.__mro__[1:]:
        if not cls.__module__.startswith("services.gateway.portal."):
            continue
        for name, member in vars(cls).items():
            if inspect.isfunction(member) and not name.startswith("__"):
                owners[name].append(cls.__name__)
    assert {name: who for name, who in owners.items() if len(who) > 1} == {}
