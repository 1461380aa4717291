"""The dispatcher's word counts (issue 19, point 2): the center's outlet, a pin and a confirmed
appointment are constraints of the routing problem, and where one cannot be kept the planner says
why. Pure planning, plus one real OR-Tools solve."""

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from services.dispatch import domain, planning
from services.dispatch.routing import solve
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar

NOW = datetime(2025, 11, 12, 1, 0, tzinfo=UTC)  # Wednesday 09:00 in Shanghai
LINE = "数控车床"
OUTLETS = {"C01-O01": "effective", "C01-O02": "effective"}


def tech(tid, outlet, lat=30.6, skills=(LINE,)):
    return domain.TechView(
        id=tid,
        tenant_id="C01",
        outlet_id=outlet,
        skills=skills,
        certificates={LINE: "2030-01-01"},
        lat=lat,
        lon=114.3,
        capacity=4,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
    )


def visit(vid="V", **kw):
    base = dict(
        id=vid,
        product_line=LINE,
        kind="repair",
        priority=3,
        lat=30.55,
        lon=114.35,
        due=NOW + timedelta(days=2),
        window_start=None,
        service_minutes=90,
    )
    base.update(kw)
    return domain.VisitView(**base)


# the O01 technician lives next door, the O02 one 40 km away: unconstrained, O01 would take it
TECHS = [tech("O1-T1", "C01-O01", lat=30.56), tech("O2-T1", "C01-O02", lat=30.9)]


def build(visits, techs=TECHS, outlets=OUTLETS):
    return planning.build_problem(visits, techs, outlets, set(), NOW, ChinaCalendar.default(), TravelModel(), 2)


def test_only_the_assigned_outlets_technicians_may_take_the_visit():
    v = visit(required_outlet_id="C01-O02")
    assert domain.eligible(TECHS[0], v, NOW.date(), OUTLETS, set()) == domain.ASSIGNED_ELSEWHERE
    assert domain.eligible(TECHS[1], v, NOW.date(), OUTLETS, set()) is None
    inp = build([v])
    allowed = inp.problem.visits[0].allowed_vehicles
    assert allowed and {inp.vehicles[k].technician.id for k in allowed} == {"O2-T1"}
    assert inp.unmet == {}


def test_an_outlet_that_cannot_take_it_is_reported_with_the_reason():
    # O02's only technician has no skill for the line: the center's choice cannot be kept
    techs = [TECHS[0], tech("O2-T1", "C01-O02", skills=("注塑机",))]
    inp = build([visit(required_outlet_id="C01-O02")], techs)
    assert not inp.problem.visits
    why = inp.unmet["V"]
    assert why.startswith("outlet C01-O02 assigned by the center cannot take it")
    assert f"no skill for {LINE}" in why and domain.ASSIGNED_ELSEWHERE not in why
    assert inp.excluded["V"] == why
    assert planning.unmet_constraints(inp, [], dict(inp.excluded)) == {"V": why}
    # an outlet with no technician at all in the horizon
    inp = build([visit(required_outlet_id="C01-O02")], [TECHS[0]])
    assert inp.unmet["V"].endswith("no technician of it in the horizon")


def test_a_pin_the_technician_cannot_keep_is_reported():
    techs = [TECHS[0], tech("O2-T1", "C01-O02", skills=("注塑机",))]
    inp = build([visit(pinned_technician_id="O2-T1")], techs)
    assert inp.unmet["V"].startswith("pinned technician O2-T1 cannot take it: no skill for")


def test_a_confirmed_appointment_is_the_visits_window():
    at = NOW + timedelta(hours=5)
    v = visit(appointment=domain.appointment_window(at))
    inp = build([v])
    lo, hi = inp.problem.visits[0].windows[0]
    assert (lo, hi) == (4 * 60.0, 6 * 60.0)
    assert domain.keeps_appointment(at, at + timedelta(minutes=59))
    assert not domain.keeps_appointment(at, at + timedelta(minutes=61))
    assert domain.keeps_appointment(None, None) and not domain.keeps_appointment(at, None)
    # placed outside its window (the solver dropped it, it was placed late): reported
    outside = planning.Assignment("V", "O1-T1", "C01-O01", NOW.date(), at + timedelta(hours=3), 1, 1.0, 0.0)
    inside = replace(outside, arrival=at)
    assert planning.unmet_constraints(inp, [inside], {}) == {}
    why = planning.unmet_constraints(inp, [outside], {})["V"]
    assert why.startswith("confirmed appointment at 11-12 14:00 cannot be kept")


@pytest.mark.slow
def test_solved_plan_keeps_the_outlet_and_the_appointment():
    """Real OR-Tools: the visit assigned to O02 goes to O02's technician though O01's is nearer;
    the confirmed one arrives within its window though the nearer technician could come earlier."""
    at = NOW + timedelta(hours=6)
    visits = [
        visit("A", required_outlet_id="C01-O02"),
        visit("B", lat=30.57, appointment=domain.appointment_window(at)),
    ]
    inp = build(visits)
    plan = solve(inp.problem, 1.0, workers=1)
    assignments, dropped = planning.read_plan(inp, plan)
    got = {a.visit_id: a for a in assignments}
    assert not dropped
    assert got["A"].technician_id == "O2-T1"
    assert at - timedelta(hours=1) <= got["B"].arrival <= at + timedelta(hours=1)
    assert planning.unmet_constraints(inp, assignments, dropped) == {}
