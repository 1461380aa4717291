"""The replay's late-budget yardstick (bench/dispatch_budget.py), on a small week solved for real:
letting one visit be late lets a plan drive to a far place once instead of twice."""

from datetime import timedelta

from bench.dispatch import _tenant_problems
from bench.dispatch_budget import combine, tenant_curve
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar
from tests.dispatch_week import MONDAY, TZ
from tests.dispatch_week import at as _at
from tests.dispatch_week import tech as _tech
from tests.dispatch_week import visit as _visit


def test_a_late_visit_buys_one_trip_to_a_far_place():
    calendar = ChinaCalendar.default()
    assert all(calendar.is_workday(MONDAY + timedelta(days=i)) for i in range(5))
    visits = [
        _visit("far-monday", 31.30, 114.30, _at(0, 9), _at(0, 17), minutes=60),  # ~80 km north, due that day
        _visit("far-wednesday", 31.31, 114.31, _at(2, 9), _at(2, 17), minutes=60),
        _visit("near", 30.65, 114.32, _at(0, 9), _at(1, 9), minutes=60),
    ]
    [(tenant, vs, problem, dues)] = list(
        _tenant_problems(visits, [_tech("C01-O01-T1")], {"C01-O01": "effective"}, calendar, TravelModel(), TZ, 6)
    )
    could = [True] * len(problem.visits)
    points = tenant_curve(problem, dues, could, 1.0, [50.0, 100_000.0], lambda *a: None)
    kept = next(p for p in points if p[2] == "kept")
    cheap = next(p for p in points if p[2] == "lambda 50")
    dear = next(p for p in points if p[2] == "lambda 100000")
    assert kept[0] == 0 and dear[0] == 0  # everything on time, or one late when that costs 100,000 km
    assert cheap[0] == 1  # a late visit worth 50 km: Monday's far visit waits for Wednesday's
    assert cheap[1] < kept[1] - 100  # one ~160 km round trip fewer
    assert abs(dear[1] - kept[1]) < 1.0
    # the knapsack: no late visit allowed keeps the first plan, one allowed takes the cheap one
    assert combine([(tenant, points)], 0)[0] == kept[1]
    assert combine([(tenant, points)], 1)[0] == cheap[1]


def test_frontier_stops_at_the_first_budget_fifteen_percent_below_greedy():
    from bench.dispatch_budget import frontier, summarise

    curves = [
        ("A", [(1, 500.0, "kept"), (3, 450.0, "lambda 50")]),
        ("B", [(0, 400.0, "kept"), (1, 380.0, "lambda 50"), (4, 300.0, "lambda 10")]),
    ]
    # no plan below 1 late (A's kept plan already misses one); 2 late: B's lambda 50; 3: A's lambda 50,
    # which is 15% below greedy: the frontier stops there
    assert frontier(curves, 1000.0, 20) == [(1, 900.0), (2, 880.0), (3, 850.0)]
    # a floor never reached: every budget where the least km drops (6 late is no better than 5)
    assert frontier(curves, 1000.0, 20, floor=0.5) == [
        (1, 900.0),
        (2, 880.0),
        (3, 850.0),
        (4, 830.0),
        (5, 800.0),
        (7, 750.0),
    ]
    s = summarise(curves, 1000.0, 20, late=2)
    assert s["kept_km"] == 900.0 and s["budget_km"] == 880.0
    assert s["budget_picks"] == [("A", "kept", 1, 500.0), ("B", "lambda 50", 1, 380.0)]
    assert [(p["late"], p["saving_vs_greedy"]) for p in s["frontier"]] == [(1, 0.1), (2, 0.12), (3, 0.15)]
    assert summarise(curves, 1000.0, 20, late=0)["budget_km"] is None


def test_curves_of_several_runs_are_pooled(tmp_path):
    import json

    from bench.dispatch_budget import load_curves, summarise

    def run(name, a_points, b_points, seconds=15.0):
        f = tmp_path / name
        f.write_text(
            json.dumps(
                {
                    "seconds_per_solve": seconds,
                    "lambdas": [50.0],
                    "curves": {
                        "A": [{"late": n, "km": km, "plan": plan} for n, km, plan in a_points],
                        "B": [{"late": n, "km": km, "plan": plan} for n, km, plan in b_points],
                    },
                }
            )
        )
        return str(f)

    one = run("one.json", [(1, 500.0, "kept"), (3, 450.0, "lambda 50")], [(0, 400.0, "kept")])
    two = run("two.json", [(1, 510.0, "kept"), (2, 440.0, "lambda 50")], [(0, 390.0, "kept")], seconds=30.0)
    curves, seconds, lambdas = load_curves([one, two])
    assert seconds == [15.0, 30.0] and lambdas == [50.0]
    assert [t for t, _ in curves] == ["A", "B"] and len(curves[0][1]) == 4
    s = summarise(curves, 1000.0, 20, late=2)
    assert s["kept_km"] == 500.0 + 390.0  # each tenant's best plan keeping its on-time set
    assert s["budget_km"] == 440.0 + 390.0  # run two's 2-late plan beats run one's 3-late one
    assert s["budget_picks"][0] == ("A", "lambda 50 (run 2)", 2, 440.0)


def test_the_replay_is_measured_against_the_clairvoyant_plan_with_as_many_late():
    from bench.dispatch_budget import versus_clairvoyant

    curves = [
        ("A", [(1, 500.0, "kept"), (3, 450.0, "lambda 50")]),
        ("B", [(0, 400.0, "kept"), (1, 380.0, "lambda 50")]),
    ]
    # 2 late: A kept (1) + B lambda 50 (1) = 880 km; the replay's 968 km is 10% more, 3.2% less than greedy
    v = versus_clairvoyant(968.0, 2, curves, 1000.0)
    assert v["clairvoyant_km"] == 880.0 and v["more_than_clairvoyant"] == 0.1
    assert v["less_than_greedy"] == 0.032
    # 4 late allowed: A's lambda 50 (3) + B's lambda 50 (1) = 830 km
    assert versus_clairvoyant(913.0, 4, curves, 1000.0)["more_than_clairvoyant"] == 0.1
    # fewer late than any clairvoyant plan found: no figure rather than a wrong one
    none = versus_clairvoyant(900.0, 0, curves, 1000.0)
    assert none["clairvoyant_km"] is None and none["more_than_clairvoyant"] is None
