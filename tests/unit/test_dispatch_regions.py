"""Planning a tenant region by region (issue 19, point 4): what the cut must keep.

Real OR-Tools solves in real worker processes. Properties, not timings: every visit ends in
exactly one of assigned / unplanned with a reason / excluded with a reason; no visit on two
technicians; every assignment eligible and within a technician-day's capacity; the dispatcher's
pin kept across regions; a visit only one far technician may do goes to that one; visits an
overloaded area drops are taken, on time, by the neighbouring area's technicians (the offer
rounds); a new ticket lands in exactly one region.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.dispatch import domain
from services.dispatch.region_plan import Context, FixedDays, RegionBook, plan_regions, region_input
from services.dispatch.regions import Region, candidate_regions, partition, split_limits
from shared.geo import TravelModel

pytestmark = pytest.mark.slow  # real OR-Tools solves of several seconds

MON, TUE = date(2026, 12, 7), date(2026, 12, 8)
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Monday 08:00 in Shanghai
DUE = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # Tuesday 18:00
CAL = FixedDays((MON, TUE))
LATHE, MOULD, LASER = "数控车床", "注塑机", "光纤激光切割机"
A, B, C = (30.60, 114.30), (30.90, 114.30), (30.40, 113.50)


def tech(tid, base, skills=(LATHE,), outlet=None):
    return domain.TechView(
        id=tid,
        tenant_id="C01",
        outlet_id=outlet,
        skills=skills,
        certificates={s: "2030-01-01" for s in skills},
        lat=base[0],
        lon=base[1],
        capacity=4,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
    )


def visit(vid, lat, lon, line=LATHE, kind="repair", pin=None):
    return domain.VisitView(
        id=vid,
        product_line=line,
        kind=kind,
        priority=3,
        lat=lat,
        lon=lon,
        due=DUE,
        window_start=None,
        service_minutes=domain.service_minutes(kind, None),
        pinned_technician_id=pin,
    )


def tenant():
    techs = [tech("A1", A), *(tech(f"B{k}", B) for k in (1, 2, 3)), tech("C1", C, skills=(LATHE, MOULD))]
    # 8 installs between A and B, a little nearer A: A's one technician has room for 8 in two
    # days by count, but with 2 h on site and ~70 min each way only for about 6
    border = [visit(f"X{i}", 30.70 + 0.004 * i, 114.62 + 0.004 * (i % 3), kind="install") for i in range(8)]
    near_b = [visit(f"B-V{i}", 30.93 + 0.01 * i, 114.33, kind="maintenance") for i in range(6)]
    odd = [
        visit("MOULD", 30.61, 114.31, line=MOULD),  # only C1 (80 km away) may do it
        visit("LASER", 30.62, 114.30, line=LASER),  # nobody may
        visit("PINNED", 30.59, 114.29, pin="B2"),  # near A, pinned to a technician of B
    ]
    return border + near_b + odd, techs


def test_partition_puts_each_technician_and_visit_in_one_region():
    visits, techs = tenant()
    part = partition(visits, techs, (MON, TUE), {}, set(), TravelModel(), max_visits=5)
    tech_ids = [t.id for r in part.regions for t in r.techs]
    visit_ids = [v.id for r in part.regions for v in r.visits]
    assert sorted(tech_ids) == sorted(t.id for t in techs)
    assert sorted(visit_ids) == sorted(v.id for v in visits)
    assert len(part.regions) > 3  # B's base is cut into sectors
    for v in visits:
        cands = part.candidates[v.id]
        own = next(j for j, r in enumerate(part.regions) if v in r.visits)
        assert cands[0] == own and len(set(cands)) == len(cands)
    mould = part.candidates["MOULD"]
    assert [t.id for t in part.regions[mould[0]].techs] == ["C1"] and len(mould) == 1
    pinned = part.candidates["PINNED"]
    assert len(pinned) == 1 and "B2" in [t.id for t in part.regions[pinned[0]].techs]


def test_split_limits_never_exceed_the_outlet_limit():
    regions = [
        Region(A, [tech("P1", A, outlet="O1"), tech("P2", A, outlet="O1")]),
        Region(A, [tech("P3", A, outlet="O1")]),
        Region(B, [tech("Q1", B, outlet="O2")]),
    ]
    shares = split_limits({"O1": 5, "O2": 2, "O3": 9}, regions)
    assert shares[0]["O1"] + shares[1]["O1"] == 5 and shares[0]["O1"] >= shares[1]["O1"]
    assert shares[2] == {"O2": 2}
    assert all("O3" not in s for s in shares)


def test_region_plan_loses_no_visit_and_keeps_eligibility():
    visits, techs = tenant()
    by_id = {v.id: v for v in visits}
    techs_by_id = {t.id: t for t in techs}
    plan = plan_regions(visits, techs, {}, set(), NOW, CAL, TravelModel(), 2, time_limit_s=14, workers=2, max_visits=5)
    assigned = [a.visit_id for a in plan.assignments]
    assert len(assigned) == len(set(assigned))  # at most one technician per visit
    groups = [set(assigned), set(plan.dropped), set(plan.excluded)]
    assert sum(len(g) for g in groups) == len(visits)  # pairwise disjoint ...
    assert set().union(*groups) == set(by_id)  # ... and nothing lost
    assert all(plan.dropped.values()) and all(plan.excluded.values())  # each with its reason
    assert "no skill" in plan.excluded["LASER"]
    per_day: dict = {}
    for a in plan.assignments:
        assert domain.eligible(techs_by_id[a.technician_id], by_id[a.visit_id], a.day, {}, set()) is None
        per_day[(a.technician_id, a.day)] = per_day.get((a.technician_id, a.day), 0) + 1
    assert max(per_day.values()) <= 4
    where = {a.visit_id: a for a in plan.assignments}
    assert where["PINNED"].technician_id == "B2"
    assert where["MOULD"].technician_id == "C1"
    # the border visits A's technician cannot all do are done on time by B's
    border = [where[f"X{i}"] for i in range(8) if f"X{i}" in where]
    assert len(border) == 8 and all(a.late_minutes == 0 for a in border)
    assert any(a.technician_id.startswith("B") for a in border)
    assert all(a.late_minutes == 0 for a in plan.assignments)


def test_a_new_ticket_lands_in_exactly_one_region():
    visits, techs = tenant()
    plan = plan_regions(visits, techs, {}, set(), NOW, CAL, TravelModel(), 2, time_limit_s=8, workers=1, max_visits=5)
    ctx = Context({}, frozenset(), NOW, (MON, TUE), TravelModel())
    book = RegionBook(plan, ctx)
    sizes = [len(inp.problem.visits) for inp in book.inputs]
    new = visit("NEW", 30.91, 114.31, kind="maintenance")
    cands = candidate_regions(new, book.regions, (MON, TUE), {}, set(), TravelModel())
    assert cands and all(any(t.id.startswith("B") for t in book.regions[r].techs) for r in cands[:1])
    region, ins = book.insert(new)
    assert ins is not None and ins.late_minutes == 0
    after = [len(inp.problem.visits) for inp in book.inputs]
    assert [a - b for a, b in zip(after, sizes)] == [1 if j == region else 0 for j in range(len(sizes))]
    assert sum(1 for r in book.regions for v in r.visits if v.id == "NEW") == 1
    inp = book.inputs[region]
    assert [v.id for v in inp.problem.visits].count("NEW") == 1
    assert len(inp.problem.distance) == len(inp.points) == len(inp.problem.distance[0])
    # the region's problem, built again with the new visit, holds the same visits
    again = region_input(ctx, book.regions[region].visits, book.regions[region].techs, {})
    assert sorted(v.id for v in again.problem.visits) == sorted(v.id for v in inp.problem.visits)
    assert NOW + timedelta(minutes=ins.arrival) <= DUE
