"""A day under way goes on from the last site, after that job, with the capacity that is left."""

from datetime import UTC, datetime, time, timedelta

from services.dispatch import domain, en_route, planning
from services.dispatch.travel import travel_matrices
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar

NOW = datetime(2025, 11, 12, 3, 0, tzinfo=UTC)  # Wednesday 11:00 in Shanghai


def tech(today=None):
    return domain.TechView(
        id="T1",
        tenant_id="C01",
        outlet_id=None,
        skills=("数控车床",),
        certificates={"数控车床": "2030-01-01"},
        lat=30.6,
        lon=114.3,
        capacity=4,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
        today=today,
    )


def test_fresh_day_starts_at_home_now():
    days = domain.tech_days([tech()], [NOW.astimezone(domain.LOCAL_TZ).date()], NOW)
    assert len(days) == 1
    assert days[0].start == NOW and days[0].capacity == 4 and days[0].origin == (30.6, 114.3)


def test_day_under_way_continues_from_the_last_site():
    busy = NOW + timedelta(hours=2)
    state = domain.TodayState(lat=31.0, lon=115.0, busy_until=busy, used=3)
    today, tomorrow = domain.horizon(ChinaCalendar.default(), NOW, 2)
    days = domain.tech_days([tech(state)], [today, tomorrow], NOW)
    assert days[0].start == busy and days[0].capacity == 1 and days[0].origin == (31.0, 115.0)
    assert days[1].capacity == 4 and days[1].origin == (30.6, 114.3)  # tomorrow starts at home again
    visit = domain.VisitView(
        id="V1",
        product_line="数控车床",
        kind="repair",
        priority=3,
        lat=30.7,
        lon=114.5,
        due=NOW + timedelta(days=2),
        window_start=None,
        service_minutes=60,
    )
    inp = planning.build_problem([visit], [tech(state)], {}, set(), NOW, ChinaCalendar.default(), TravelModel(), 2)
    v0 = inp.problem.vehicles[0]
    assert v0.start != v0.end  # starts at the site, ends at home
    assert inp.points[v0.start] == (31.0, 115.0) and inp.points[v0.end] == (30.6, 114.3)
    assert v0.capacity == 1


def test_day_with_no_capacity_left_is_not_offered():
    state = domain.TodayState(lat=31.0, lon=115.0, busy_until=NOW, used=4)
    days = domain.tech_days([tech(state)], [NOW.astimezone(domain.LOCAL_TZ).date()], NOW)
    assert days == []


def test_en_route_point_leaves_exactly_the_rest_of_the_drive():
    model = TravelModel()
    home, site = (30.17, 114.96), (30.92, 113.92)  # Ezhou outlet to Xiaogan: a long drive
    drive = float(travel_matrices([home, site], model)[1][0][1])
    assert drive > 120
    arrival = NOW + timedelta(minutes=drive)
    # not yet left: still at home; arrived: at the site
    assert en_route.en_route_point(home, site, arrival + timedelta(minutes=5), NOW, model) == home
    assert en_route.en_route_point(home, site, arrival, arrival + timedelta(minutes=1), model) == site
    later = NOW + timedelta(minutes=50)
    here = en_route.en_route_point(home, site, arrival, later, model)
    left = float(travel_matrices([here, site], model)[1][0][1])
    assert abs(left - (drive - 50)) < 0.05
    assert min(home[0], site[0]) < here[0] < max(home[0], site[0])
    # a re-plan from the point reached finds the same point again later: no creep across re-plans
    again = NOW + timedelta(minutes=80)
    a = en_route.en_route_point(home, site, arrival, again, model)
    b = en_route.en_route_point(here, site, arrival, again, model)
    assert abs(a[0] - b[0]) < 1e-4 and abs(a[1] - b[1]) < 1e-4


def test_on_the_road_commits_a_drive_unless_its_visit_is_late_anyway():
    model = TravelModel()
    home, site = (30.17, 114.96), (30.92, 113.92)
    drive = float(travel_matrices([home, site], model)[1][0][1])
    arrival = NOW + timedelta(minutes=drive - 30)  # left half an hour ago
    due_later, due_past = arrival + timedelta(hours=1), NOW - timedelta(hours=1)
    # not left yet; still on site at the last job
    assert en_route.on_the_road(None, home, site, NOW + timedelta(minutes=drive + 5), due_later, 90, NOW, model) is None
    busy = domain.TodayState(home[0], home[1], NOW + timedelta(minutes=10), 1)
    assert en_route.on_the_road(busy, home, site, arrival, due_later, 90, NOW, model) is None
    # on the way to a visit it will reach on time: committed, the day goes on from the site
    redirectable, state = en_route.on_the_road(None, home, site, arrival, due_later, 90, NOW, model)
    assert redirectable is False
    assert (state.lat, state.lon, state.used) == (site[0], site[1], 1)
    assert state.busy_until == arrival + timedelta(minutes=90)
    # on the way to a visit late anyway: the day goes on from the road, now, nothing used
    done = domain.TodayState(home[0], home[1], NOW - timedelta(hours=1), 2)
    redirectable, state = en_route.on_the_road(done, home, site, arrival, due_past, 90, NOW, model)
    assert redirectable is True and state.busy_until == NOW and state.used == 2
    left = float(travel_matrices([(state.lat, state.lon), site], model)[1][0][1])
    assert abs(left - (drive - 30)) < 0.05
