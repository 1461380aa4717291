"""bench/dispatch_foresight.py on a small week solved for real: with the whole week known, a plan
where waiting is free drives to a far place once (Monday's visit waits for Wednesday's), while the
product's own target (4 h, then 1 km a minute) drives there twice."""

from datetime import timedelta

from bench.dispatch import _tenant_problems
from bench.dispatch_foresight import variant_plans, waits
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar
from tests.dispatch_week import MONDAY, TZ
from tests.dispatch_week import at as _at
from tests.dispatch_week import tech as _tech
from tests.dispatch_week import visit as _visit


def test_waiting_for_a_known_visit_is_what_the_free_plan_saves():
    calendar = ChinaCalendar.default()
    assert all(calendar.is_workday(MONDAY + timedelta(days=i)) for i in range(5))
    visits = [
        _visit("far-monday", 31.30, 114.30, _at(0, 9), _at(2, 17), minutes=60),  # ~80 km north, due Wednesday
        _visit("far-wednesday", 31.31, 114.31, _at(2, 9), _at(2, 17), minutes=60),
    ]
    [(_, _, problem, dues)] = list(
        _tenant_problems(visits, [_tech("C01-O01-T1")], {"C01-O01": "effective"}, calendar, TravelModel(), TZ, 6)
    )
    plans, received = variant_plans(problem, dues, [True, True], 1.0)
    days = {name: {st.visit: r.vehicle for r in plan.routes for st in r.stops} for name, plan in plans.items()}
    assert len(days["free"]) == len(days["prompt"]) == 2  # both served on time in every variant
    assert days["free"][0] == days["free"][1]  # one technician-day: Monday's visit waited
    assert days["prompt"][0] != days["prompt"][1]  # two days of 4 h targets at 1 km a minute
    assert plans["free"].distance < plans["prompt"].distance - 100  # one ~160 km round trip fewer
    assert max(waits(plans["free"], received)) > 24  # hours Monday's visit waited
    assert max(waits(plans["prompt"], received)) < 4
