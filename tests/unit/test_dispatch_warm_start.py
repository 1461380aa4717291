"""The greedy warm start is a feasible plan, and a solve seeded with it is never worse."""

from datetime import UTC, datetime, time, timedelta

import pytest

from services.dispatch import domain, planning
from services.dispatch.insertion import greedy_start
from services.dispatch.routing import solve
from services.dispatch.routing_problem import evaluate_routes
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar

pytestmark = pytest.mark.slow  # real OR-Tools solves of several seconds each

NOW = datetime(2025, 11, 12, 1, 0, tzinfo=UTC)  # Wednesday 09:00 in Shanghai


def build():
    techs = [
        domain.TechView(
            id=f"T{k}",
            tenant_id="C01",
            outlet_id=None,
            skills=("数控车床",),
            certificates={"数控车床": "2030-01-01"},
            lat=30.6 + 0.1 * k,
            lon=114.3,
            capacity=4,
            shift_start=time(8, 30),
            shift_end=time(18, 0),
        )
        for k in range(3)
    ]
    visits = [
        domain.VisitView(
            id=f"V{i}",
            product_line="数控车床",
            kind="repair",
            priority=3,
            lat=30.4 + 0.03 * i,
            lon=114.0 + 0.04 * (i % 5),
            due=NOW + timedelta(hours=8 + 6 * i),
            window_start=None,
            service_minutes=60,
        )
        for i in range(12)
    ]
    return planning.build_problem(visits, techs, {}, set(), NOW, ChinaCalendar.default(), TravelModel(), 3)


def test_greedy_start_is_feasible_and_on_time():
    inp = build()
    routes = greedy_start(inp.problem)
    assert len(routes) == len(inp.problem.vehicles)
    plan = evaluate_routes(inp.problem, routes)
    dues = planning.due_minutes(inp)  # the SLA on-site due times (the soft service target may pass)
    for route in plan.routes:
        veh = inp.problem.vehicles[route.vehicle]
        assert len(route.stops) <= veh.capacity
        assert route.end_time <= veh.shift[1] + 1e-6
        for stop in route.stops:
            assert dues[stop.visit] is None or stop.arrival <= dues[stop.visit] + 1e-6
            start, end = inp.problem.visits[stop.visit].windows[0]
            assert start - 1e-6 <= stop.arrival <= end + 1e-6
    assert len(plan.dropped) == 0


def test_seeded_solve_is_not_worse_than_its_seed():
    inp = build()
    routes = greedy_start(inp.problem)
    seed = evaluate_routes(inp.problem, routes)
    plan = solve(inp.problem, 2.0, workers=1, initial_routes=routes)
    assert len(plan.dropped) <= len(seed.dropped)
    assert plan.distance <= seed.distance + 1e-6


def test_drop_reason_tells_out_of_reach_from_full():
    inp = build()
    far = domain.VisitView(
        id="FAR",
        product_line="数控车床",
        kind="repair",
        priority=3,
        lat=43.8,
        lon=87.6,
        due=NOW + timedelta(days=3),
        window_start=None,
        service_minutes=60,
    )
    idx = planning.add_visit(inp, far, {}, set(), TravelModel())
    assert planning.drop_reason(inp.problem, idx).startswith("out of reach")
    assert planning.drop_reason(inp.problem, 0) == "no technician-day free within the horizon"
