"""The soft service target grows with the tier's slack (services/dispatch/targets.py, issue 19.3)."""

from datetime import UTC, datetime, time, timedelta

import pytest

from services.dispatch import domain, planning
from services.dispatch.routing import solve
from services.dispatch.targets import service_target
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar

DAY = 24 * 60.0


def test_without_a_slack_share_the_target_is_the_fixed_one():
    # available now, 4 h target, due in two days: 4 h
    assert service_target(0.0, 2 * DAY, 0.0, 240.0) == 240.0
    # available in 3 h (a wished day): 4 h after that
    assert service_target(180.0, 2 * DAY, 0.0, 240.0) == 420.0
    # available long ago: 4 h from now (the plan's start), as before
    assert service_target(-DAY, DAY, 0.0, 240.0, 0.0) == 240.0


def test_a_visit_with_slack_may_wait_for_tomorrows_route():
    # in-province, came in 2 h ago, due in two days: half its slack is a day after it came in
    assert service_target(-120.0, 2 * DAY - 120.0, 0.0, 240.0, 0.5) == DAY - 120.0
    # local visit due in 24 h: half is 12 h
    assert service_target(0.0, DAY, 0.0, 240.0, 0.5) == DAY / 2
    # the target counts from when it came in, not from each re-plan: it does not recede
    first = service_target(0.0, 2 * DAY, 0.0, 240.0, 0.5)
    later = service_target(-600.0, 2 * DAY - 600.0, 0.0, 240.0, 0.5)  # the same visit, 10 h on
    assert later == first - 600.0


def test_the_target_never_passes_the_due_time_nor_precedes_the_fixed_one():
    # little slack: the fixed 4 h stands, capped at the due time
    assert service_target(0.0, 180.0, 0.0, 240.0, 0.9) == 180.0
    assert service_target(0.0, 300.0, 0.0, 240.0, 0.5) == 240.0
    # no due time: the fixed target
    assert service_target(0.0, None, 0.0, 240.0, 0.5) == 240.0
    # share 1: up to the due time itself
    assert service_target(0.0, 2 * DAY, 0.0, 240.0, 1.0) == 2 * DAY


def test_a_visit_with_less_slack_than_the_minimum_keeps_the_fixed_target():
    # local, due in 24 h: below a 36 h minimum, 4 h as before; in-province (48 h) is deferred
    assert service_target(0.0, DAY, 0.0, 240.0, 0.5, min_slack=36 * 60.0) == 240.0
    assert service_target(0.0, 2 * DAY, 0.0, 240.0, 0.5, min_slack=36 * 60.0) == DAY


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_share_outside_zero_to_one_is_refused(share):
    with pytest.raises(ValueError, match="slack_share"):
        service_target(0.0, DAY, 0.0, 240.0, share)


# ---- in the routing problem of a re-plan (services/dispatch/planning.py), real OR-Tools solve

NOW = datetime(2025, 11, 12, 1, 0, tzinfo=UTC)  # Wednesday 09:00 in Shanghai


def _tech():
    return domain.TechView(
        id="T1",
        tenant_id="C01",
        outlet_id=None,
        skills=("数控车床",),
        certificates={"数控车床": "2030-01-01"},
        lat=30.60,
        lon=114.30,
        capacity=6,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
    )


def _visit(vid, lat, lon, due, window_start=None, received=NOW - timedelta(hours=1)):
    return domain.VisitView(
        id=vid,
        product_line="数控车床",
        kind="repair",
        priority=3,
        lat=lat,
        lon=lon,
        due=due,
        window_start=window_start,
        service_minutes=60,
        received=received,
    )


def _far_pair():
    """Two visits at a place ~80 km north, both due Friday: one open now, one whose customer
    wished Thursday (its window opens then)."""
    thursday = datetime(2025, 11, 12, 16, 0, tzinfo=UTC)  # Thursday 00:00 in Shanghai
    friday = NOW + timedelta(days=2)
    return [
        _visit("FAR-NOW", 31.30, 114.30, friday),
        _visit("FAR-THU", 31.31, 114.31, friday, window_start=thursday),
    ]


def _plan(share):
    inp = planning.build_problem(
        _far_pair(), [_tech()], {}, set(), NOW, ChinaCalendar.default(), TravelModel(), 3, target_slack_share=share
    )
    return inp, planning.read_plan(inp, solve(inp.problem, 2.0, workers=1))[0]


def test_the_soft_target_of_the_routing_problem_follows_the_share():
    inp, _ = _plan(0.0)
    assert inp.problem.visits[0].deadline == pytest.approx(240.0)  # 4 h from now
    inp, _ = _plan(0.5)
    # half of the 49 h from when it came in (an hour ago) to Friday 09:00: 23.5 h from now
    assert inp.problem.visits[0].deadline == pytest.approx((49 * 60) / 2 - 60)


@pytest.mark.slow
def test_a_visit_with_slack_waits_for_the_trip_that_passes_it():
    _, fixed = _plan(0.0)
    _, shared = _plan(0.5)
    days = lambda plan: {a.visit_id: a.day for a in plan}  # noqa: E731
    # a 4 h target drives to the far place today and again on Thursday
    assert days(fixed)["FAR-NOW"] != days(fixed)["FAR-THU"]
    # half the slack lets today's visit wait for Thursday's trip: one round trip of ~160 km fewer
    assert days(shared)["FAR-NOW"] == days(shared)["FAR-THU"]
    assert sum(a.km for a in shared) < sum(a.km for a in fixed) - 100
    assert all(a.late_minutes == 0 for a in fixed + shared)


def _priced(km_per_hour):
    inp = planning.build_problem(
        _far_pair(),
        [_tech()],
        {},
        set(),
        NOW,
        ChinaCalendar.default(),
        TravelModel(),
        3,
        target_km_per_hour=km_per_hour,
    )
    return inp, planning.read_plan(inp, solve(inp.problem, 2.0, workers=1))[0]


def test_a_price_of_waiting_below_a_km_a_minute_takes_coarser_time_units():
    inp = planning.build_problem(_far_pair(), [_tech()], {}, set(), NOW, ChinaCalendar.default(), TravelModel(), 3)
    assert inp.problem.time_scale == 1000 and inp.problem.visits[0].lateness_penalty == pytest.approx(1.0)
    inp = planning.build_problem(
        _far_pair(), [_tech()], {}, set(), NOW, ChinaCalendar.default(), TravelModel(), 3, target_km_per_hour=6
    )
    # 0.1 km a minute: OR-Tools' whole-number price per unit needs units of 6 s (at most 0.01 km/min)
    assert inp.problem.time_scale == 10 and inp.problem.visits[0].lateness_penalty == pytest.approx(0.1)
    assert inp.problem.visits[0].deadline == pytest.approx(240.0)  # the target itself is unchanged


@pytest.mark.slow
def test_a_low_price_of_waiting_lets_a_visit_wait_for_the_trip_that_passes_it():
    _, dear = _priced(60.0)
    _, cheap = _priced(6.0)
    days = lambda plan: {a.visit_id: a.day for a in plan}  # noqa: E731
    # at 60 km an hour, ~20 h of waiting for Thursday's trip costs more than the ~160 km round trip
    assert days(dear)["FAR-NOW"] != days(dear)["FAR-THU"]
    # at 6 km an hour, waiting (~120 km) costs less than driving there twice
    assert days(cheap)["FAR-NOW"] == days(cheap)["FAR-THU"]
    assert sum(a.km for a in cheap) < sum(a.km for a in dear) - 100
    assert all(a.late_minutes == 0 for a in dear + cheap)


def test_a_whole_day_target_ends_with_the_working_day_it_falls_in():
    from services.dispatch.targets import to_day_end

    ends = [540.0, 2000.0, 3440.0]  # today's, tomorrow's and the day after's last shift end
    assert to_day_end(240.0, ends) == 540.0
    assert to_day_end(600.0, ends) == 2000.0  # in the night: the next working day's end
    assert to_day_end(5000.0, ends) == 5000.0  # after the planned days: as it was
    # through service_target: never after the due time, and the slack share first
    assert service_target(0.0, 2 * DAY, 0.0, 240.0, day_ends=ends) == 540.0
    assert service_target(0.0, 300.0, 0.0, 240.0, day_ends=ends) == 300.0
    assert service_target(0.0, 2 * DAY, 0.0, 240.0, 0.5, day_ends=ends) == 2000.0


def _two_urgent_at_one_site(day_end):
    """Two technicians at one base; at 17:00, two urgent (priority 1) visits at one site ~100 km
    away, due in two days: a 4 h target falls in the night, so on Thursday each minute counts."""
    evening = NOW + timedelta(hours=8)
    techs = [dict(_tech().__dict__, id=f"T{k}") for k in (1, 2)]
    visits = [
        dict(_visit(f"V{k}", 31.20, 114.60, evening + timedelta(days=2), received=evening).__dict__) for k in (1, 2)
    ]
    for v in visits:
        v["priority"], v["service_minutes"] = 1, 90
    inp = planning.build_problem(
        [domain.VisitView(**v) for v in visits],
        [domain.TechView(**t) for t in techs],
        {},
        set(),
        evening,
        ChinaCalendar.default(),
        TravelModel(),
        2,
        target_day_end=day_end,
    )
    return planning.read_plan(inp, solve(inp.problem, 2.0, workers=1))[0]


@pytest.mark.slow
def test_a_whole_day_target_lets_one_technician_serve_both_visits_of_a_site():
    hurried = _two_urgent_at_one_site(False)
    whole_day = _two_urgent_at_one_site(True)
    # each minute past a 4 h target costs 4 km for an urgent visit: two technicians drive there
    assert len({a.technician_id for a in hurried}) == 2
    # the day's end as the target: one drives there and serves both, one drive there fewer
    assert len({a.technician_id for a in whole_day}) == 1
    # (a leg's km: the drive out; the drive home saved as well)
    assert sum(a.km for a in whole_day) < sum(a.km for a in hurried) - 80
    assert all(a.late_minutes == 0 and a.day == hurried[0].day for a in hurried + whole_day)
