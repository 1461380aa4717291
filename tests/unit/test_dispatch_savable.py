"""Save the savable first: an overdue backlog never takes the slot of a visit that can still be
on time (issue 19, point 1). Real OR-Tools solves."""

from datetime import UTC, datetime, time, timedelta

import pytest

from services.dispatch import domain, planning
from services.dispatch.insertion import greedy_start
from services.dispatch.routing import solve
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar

pytestmark = pytest.mark.slow  # real OR-Tools solves of a few seconds

NOW = datetime(2025, 11, 12, 1, 0, tzinfo=UTC)  # Wednesday 09:00 in Shanghai


def backlog_and_one_new(overdue=30):
    """Two technicians with 4 visits a day each, 2 working days: room for 16 of the 30 imported
    historical requests (all overdue, of every priority, the urgent ones first) and one new
    ordinary ticket that can still be reached today."""
    techs = [
        domain.TechView(
            id=f"T{k}",
            tenant_id="C01",
            outlet_id=None,
            skills=("数控车床",),
            certificates={"数控车床": "2030-01-01"},
            lat=30.6 + 0.05 * k,
            lon=114.3,
            capacity=4,
            shift_start=time(8, 30),
            shift_end=time(18, 0),
        )
        for k in range(2)
    ]
    visits = [
        domain.VisitView(
            id=f"OLD{i}",
            product_line="数控车床",
            kind="repair",
            priority=1 + i % 3,
            lat=30.5 + 0.02 * (i % 7),
            lon=114.2 + 0.03 * (i % 5),
            due=NOW - timedelta(days=200 + i),
            window_start=None,
            service_minutes=90,
        )
        for i in range(overdue)
    ]
    new = domain.VisitView(
        id="NEW",
        product_line="数控车床",
        kind="repair",
        priority=3,
        lat=30.55,
        lon=114.35,
        due=NOW + timedelta(hours=7),
        window_start=None,
        service_minutes=90,
    )
    inp = planning.build_problem(visits + [new], techs, {}, set(), NOW, ChinaCalendar.default(), TravelModel(), 2)
    return inp, len(inp.problem.visits) - 1


def test_a_visit_that_can_be_on_time_outprices_the_whole_overdue_backlog():
    inp, new = backlog_and_one_new()
    visits = inp.problem.visits
    overdue = [v for i, v in enumerate(visits) if i != new]
    # the backlog is late anyway: open-ended windows, a lateness cost, a priority-weighted drop
    assert all(v.windows[0][1] == float("inf") and not v.deadline_hard for v in overdue)
    assert max(v.drop_penalty for v in overdue) == domain.DROP_PENALTY_KM * domain.PRIORITY_WEIGHT[1]
    # losing the new visit costs more than dropping every overdue one
    assert visits[new].drop_penalty > sum(v.drop_penalty for v in overdue)
    # the warm start places it before the backlog fills the days
    routes = greedy_start(inp.problem)
    assert any(new in r for r in routes)


def test_overdue_backlog_does_not_displace_a_new_visit_that_can_be_on_time():
    inp, new = backlog_and_one_new()
    plan = solve(inp.problem, 2.0, workers=1)
    assert new not in plan.dropped
    assignments, _ = planning.read_plan(inp, plan)
    mine = [a for a in assignments if a.visit_id == "NEW"]
    assert len(mine) == 1
    assert mine[0].late_minutes == 0
    assert mine[0].arrival <= NOW + timedelta(hours=7)
    # the days are full: the backlog took every other slot, served as soon as it could be
    assert len(assignments) == 16
    assert len(plan.dropped) == 30 + 1 - 16
