"""The planner's region path (issue 19, point 4): which tenant is planned region by region, the
region plan read back as a whole-tenant plan is, and a region plan in the solver process ended
by a stop with every process it started.

Real OR-Tools solves in real processes (`solver_worker.run_in_child`, as the planner runs them).
"""

from datetime import UTC, date, datetime, time

import eventlet
import pytest

from services.dispatch import domain, region_solve
from services.dispatch.planning import PlanningInput
from services.dispatch.region_plan import FixedDays
from services.dispatch.solver_worker import SolveInterrupted, interrupt, run_in_child
from shared.geo import TravelModel
from tests.stopping import alive, processes

pytestmark = pytest.mark.slow  # real solves of a few seconds

MON, TUE = date(2026, 12, 7), date(2026, 12, 8)
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Monday 08:00 in Shanghai
DUE = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # Tuesday 18:00
CAL = FixedDays((MON, TUE))
LATHE, MOULD = "数控车床", "注塑机"
A, B = (30.60, 114.30), (31.30, 113.60)  # two bases ~100 km apart


def tech(tid, base, skills=(LATHE,)):
    return domain.TechView(
        id=tid,
        tenant_id="C01",
        outlet_id=None,
        skills=skills,
        certificates={s: "2030-01-01" for s in skills},
        lat=base[0],
        lon=base[1],
        capacity=4,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
    )


def visit(vid, where, line=LATHE, pin=None):
    return domain.VisitView(
        id=vid,
        product_line=line,
        kind="repair",
        priority=3,
        lat=where[0],
        lon=where[1],
        due=DUE,
        window_start=None,
        service_minutes=domain.service_minutes("repair", None),
        pinned_technician_id=pin,
    )


def tenant():
    """Three technicians at each base (B's third also does moulds), 12 visits around each, one
    mould visit near A that only B's mould technician may do, one pinned near B to A's first."""
    techs = [tech(f"A{i}", A) for i in range(3)] + [tech(f"B{i}", B) for i in range(2)]
    techs.append(tech("B2", B, (LATHE, MOULD)))
    visits = [visit(f"a{i}", (A[0] + 0.01 * (i % 4), A[1] + 0.01 * (i // 4))) for i in range(12)]
    visits += [visit(f"b{i}", (B[0] - 0.01 * (i % 4), B[1] - 0.01 * (i // 4))) for i in range(12)]
    visits.append(visit("mould", (A[0] + 0.02, A[1]), line=MOULD))
    visits.append(visit("pinned", (B[0], B[1] + 0.02), pin="A0"))
    return visits, techs


def build(above, visits, techs, time_limit=4.0, workers=1):
    return region_solve.builder(above, time_limit, workers)(visits, techs, {}, set(), NOW, CAL, TravelModel(), 2)


def test_the_threshold_decides_and_a_big_tenant_is_built_without_a_matrix():
    visits, techs = tenant()
    small = build(len(visits), visits, techs)
    assert isinstance(small, PlanningInput) and len(small.problem.distance) > len(visits)
    big = build(len(visits) - 1, visits, techs)
    assert isinstance(big, region_solve.RegionInput)
    job = big.problem
    assert not hasattr(job, "distance") and job.days == (MON, TUE)
    assert len(job.visits) == len(visits) and len(job.vehicles) == len(techs) * 2 == len(small.problem.vehicles)
    with pytest.raises(ValueError, match="DISPATCH_REGIONS_ABOVE"):
        region_solve.builder(0)


def test_a_region_plan_from_the_solver_process_reads_back_as_one_plan():
    visits, techs = tenant()
    inp = build(10, visits, techs)
    plan = run_in_child(inp.problem, 1.0, 1)  # the job's own time limit and workers count
    assert isinstance(plan, region_solve.RegionResult) and plan.stats["method"] == "regions"
    assert region_solve.summary(plan)["regions"] >= 2
    assignments, dropped, unmet = region_solve.read_back(inp, plan)
    placed = [a.visit_id for a in assignments]
    assert len(placed) == len(set(placed)) and not set(placed) & set(dropped)
    assert set(placed) | set(dropped) == {v.id for v in visits}
    assert all(why for why in dropped.values())
    by_id = {a.visit_id: a for a in assignments}
    assert len(by_id) >= 24  # two bases of three technicians have room for every lathe visit
    assert by_id["mould"].technician_id == "B2"  # eligibility kept across the cut
    assert by_id["pinned"].technician_id == "A0"  # the dispatcher's pin kept across the cut
    for a in assignments:
        assert a.day in (MON, TUE)
        if a.visit_id.startswith(("a", "b")):
            assert a.technician_id[0] in "AB"
    assert unmet == {}
    per_day = {}
    for a in assignments:
        per_day[(a.technician_id, a.day)] = per_day.get((a.technician_id, a.day), 0) + 1
    assert max(per_day.values()) <= 4  # daily capacity


def test_a_stop_during_a_region_plan_ends_the_solver_and_its_region_processes():
    visits, techs = tenant()
    inp = build(10, visits, techs, time_limit=60.0, workers=2)
    running: set = set()
    solve = eventlet.spawn(run_in_child, inp.problem, 1.0, 1, None, running)
    group: set[int] = set()
    for _ in range(600):  # the solver and its region processes (spawned by the pool) at work
        eventlet.sleep(0.05)
        if running:
            pgid = next(iter(running)).pid
            group = {pid for pid, _, g, state, _ in processes() if g == pgid and state != "Z"}
            if len(group) >= 3:
                break
    assert len(group) >= 3, f"no region processes seen: {group}"
    eventlet.sleep(1.0)  # well inside the regions' solve
    started = eventlet.hubs.get_hub().clock()
    for proc in list(running):
        interrupt(proc)  # what the planner's stop does (`Planner.interrupt_solves`)
    with pytest.raises(SolveInterrupted):
        solve.wait()
    assert eventlet.hubs.get_hub().clock() - started < 5
    for _ in range(100):
        if not alive(group):
            break
        eventlet.sleep(0.05)
    assert alive(group) == set(), "region processes left behind"
    assert running == set()
