"""The dispatch bench's yardsticks (bench/dispatch.py): the greedy baseline and the clairvoyant
bounds, on a small week solved for real with OR-Tools."""

from datetime import timedelta

import pytest

from bench.dispatch import Travel, could_be_on_time, greedy, offline_bound
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar
from tests.dispatch_week import HOME, MONDAY, TZ
from tests.dispatch_week import at as _at
from tests.dispatch_week import tech as _tech
from tests.dispatch_week import visit as _visit


@pytest.fixture(scope="module")
def week():
    calendar = ChinaCalendar.default()
    assert all(calendar.is_workday(MONDAY + timedelta(days=i)) for i in range(5))
    visits = [
        _visit("near", 30.70, 114.30, _at(0, 9), _at(1, 9)),
        _visit("far-urgent", 31.30, 114.30, _at(0, 9), _at(0, 12)),
        _visit("far-slack", 31.32, 114.33, _at(0, 9), _at(4, 9)),
        _visit("hopeless", 31.30, 114.30, _at(0, 9), _at(0, 9, 10)),  # 80 km away, due in 10 minutes
    ]
    techs = [_tech("C01-O01-T1"), _tech("C01-O01-T2")]
    status = {"C01-O01": "effective"}
    return visits, techs, status, calendar


def test_could_be_on_time_judges_each_visit_alone(week):
    visits, techs, status, calendar = week
    travel = Travel(TravelModel())
    could = {v["id"]: could_be_on_time(v, techs, status, calendar, travel, 6, TZ) for v in visits}
    assert could == {"near": True, "far-urgent": True, "far-slack": True, "hopeless": False}


def test_clairvoyant_bounds_hold_against_greedy(week):
    visits, techs, status, calendar = week
    on_time, km = offline_bound(visits, techs, status, calendar, TravelModel(), TZ, seconds=1.0, horizon_days=6)
    assert on_time == {"near": True, "far-urgent": True, "far-slack": True, "hopeless": False}
    # every visit is served in both bound plans (the hopeless one without a due time)
    assert km["served"] == 4 and km["no_sla_served"] == 4
    # dropping the SLA can only shorten the week's travel
    assert km["no_sla_km"] <= km["on_time_km"] + 1e-6
    assignments, greedy_km = greedy(visits, techs, status, calendar, Travel(TravelModel()), 6, TZ)
    assert all(assignments[v["id"]] is not None for v in visits)
    # no plan serving the same visits travels less than the no-SLA optimum: greedy included
    assert greedy_km >= km["no_sla_km"] - 1e-6
    # the two far visits side by side: the no-SLA plan drives there once, so it is strictly shorter
    # than four separate round trips
    travel = Travel(TravelModel())
    round_trips = sum(2 * travel(HOME, (v["lat"], v["lon"]))[0] for v in visits)
    assert km["no_sla_km"] < round_trips - 50
