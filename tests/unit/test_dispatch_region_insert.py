"""One new ticket of a big tenant placed in its region's plan (`region_insert`, issue 19 point 4):
the region is the one `regions.candidate_regions` deals it to, from the shapes of the last region
plan; only that region's problem is built; the planned stops of the technician-day keep their
deadlines and come back renumbered; a ticket no technician may take is left to the re-plan.
No solver: plain Python over the views."""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from services.dispatch import domain, region_insert
from services.dispatch.region_plan import Context, plan_regions
from services.dispatch.regions import partition
from shared.geo import TravelModel

MON, TUE = date(2026, 12, 7), date(2026, 12, 8)
DAYS = (MON, TUE)
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # Monday 08:00 in Shanghai
DUE = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # Tuesday 18:00
LATHE, MOULD = "数控车床", "注塑机"
A, B = (30.60, 114.30), (31.30, 113.60)  # two bases ~100 km apart
TRAVEL = TravelModel()


def tech(tid, base, skills=(LATHE,), capacity=4):
    return domain.TechView(
        id=tid,
        tenant_id="C01",
        outlet_id=None,
        skills=skills,
        certificates={s: "2030-01-01" for s in skills},
        lat=base[0],
        lon=base[1],
        capacity=capacity,
        shift_start=time(8, 30),
        shift_end=time(18, 0),
    )


def visit(vid, where, line=LATHE, due=DUE):
    return domain.VisitView(
        id=vid,
        product_line=line,
        kind="repair",
        priority=3,
        lat=where[0],
        lon=where[1],
        due=due,
        window_start=None,
        service_minutes=domain.service_minutes("repair", None),
    )


def tenant():
    techs = [tech(f"A{i}", A) for i in range(2)] + [tech(f"B{i}", B) for i in range(2)]
    visits = [visit(f"a{i}", (A[0] + 0.01 * (i % 3), A[1] + 0.01 * (i // 3))) for i in range(6)]
    visits += [visit(f"b{i}", (B[0] - 0.01 * (i % 3), B[1] - 0.01 * (i // 3))) for i in range(6)]
    return visits, techs


CTX = Context({}, frozenset(), NOW, DAYS, TRAVEL)


def planned():
    """The tenant planned region by region (one search per region, 2 s, in this process), and the
    plan as the database holds it: (shapes, views by region, routes by (technician, ISO day))."""
    visits, techs = tenant()
    plan = plan_regions(visits, techs, {}, set(), NOW, region_insert_calendar(), TRAVEL, 2, 2.0, 1)
    routes = {(t, d.isoformat()): ids for (t, d), ids in plan.routes().items()}
    return plan, region_insert.shapes_of(plan.regions), routes


def region_insert_calendar():
    from services.dispatch.region_plan import FixedDays

    return FixedDays(DAYS)


def views_by_region(cands, visits, routes):
    owner = {t: c.index for c in cands for t in c.technician_ids}
    by_id = {v.id: v for v in visits}
    out = {}
    for (t, _), ids in routes.items():
        if t in owner:
            out.setdefault(owner[t], []).extend(by_id[i] for i in ids)
    return out


def test_a_new_ticket_goes_to_the_region_of_its_base_on_time_with_its_day_renumbered():
    visits, techs = tenant()
    plan, shapes, routes = planned()
    assert len(shapes) == 2 and {frozenset(s.technicians) for s in shapes} == {
        frozenset({"A0", "A1"}),
        frozenset({"B0", "B1"}),
    }
    new = visit("new", (B[0] - 0.015, B[1] - 0.005))
    cands = region_insert.candidates(new, shapes, techs, DAYS, {}, set(), TRAVEL)
    assert cands and set(cands[0].technician_ids) == {"B0", "B1"}  # B's region first: nearest base
    placed = region_insert.place(new, cands, views_by_region(cands, visits, routes), routes, CTX)
    assert placed is not None and placed.region == cands[0].index
    assert placed.late_minutes == 0
    tech_id, day = placed.vehicle
    assert tech_id in ("B0", "B1")
    by_id = {a.visit_id: a for a in placed.assignments}
    # the technician-day's planned stops and the new one, in route order 1..n
    assert set(by_id) == set(routes.get(placed.vehicle, [])) | {"new"}
    assert sorted(a.order for a in placed.assignments) == list(range(1, len(placed.assignments) + 1))
    assert all(a.technician_id == tech_id and a.day.isoformat() == day for a in placed.assignments)
    assert by_id["new"].arrival <= DUE
    before = [a for a in plan.assignments if a.visit_id in by_id and a.visit_id != "new"]
    for a in before:  # no stop pushed past its due time; the order of the others kept
        assert by_id[a.visit_id].arrival <= DUE
    kept = [i for i in sorted(by_id, key=lambda i: by_id[i].order) if i != "new"]
    assert kept == routes.get(placed.vehicle, [])


def test_a_full_region_passes_the_ticket_on_and_one_nobody_may_take_is_left_to_the_re_plan():
    visits, techs = tenant()
    _, shapes, routes = planned()
    new = visit("new", (B[0] - 0.015, B[1] - 0.005))
    cands = region_insert.candidates(new, shapes, techs, DAYS, {}, set(), TRAVEL)
    assert len(cands) == 2  # A's technicians reach B's area too (about 100 km)
    # B's technicians have no room left: every technician-day of theirs holds its capacity
    full = {c.index: c for c in cands}
    b = cands[0]
    tight = region_insert.Candidate(b.index, tuple(replace(t, capacity=0) for t in b.techs), b.limits)
    placed = region_insert.place(new, [tight, cands[1]], views_by_region(cands, visits, routes), routes, CTX)
    assert placed is not None and placed.region == cands[1].index != b.index
    assert placed.vehicle[0] in set(full[cands[1].index].technician_ids)
    mould = visit("mould", (B[0], B[1] + 0.01), line=MOULD)  # no technician of the tenant does moulds
    assert region_insert.candidates(mould, shapes, techs, DAYS, {}, set(), TRAVEL) == []


def test_a_ticket_that_can_no_longer_be_on_time_is_placed_late_in_the_nearest_region():
    visits, techs = tenant()
    _, shapes, routes = planned()
    overdue = visit("late", (B[0] - 0.015, B[1] - 0.005), due=NOW - timedelta(hours=1))
    cands = region_insert.candidates(overdue, shapes, techs, DAYS, {}, set(), TRAVEL)
    placed = region_insert.place(overdue, cands, views_by_region(cands, visits, routes), routes, CTX)
    assert placed is not None and placed.region == cands[0].index and placed.late_minutes > 60


def test_a_technician_day_whose_route_the_build_no_longer_holds_takes_no_new_visit():
    visits, techs = tenant()
    _, shapes, routes = planned()
    new = visit("new", (B[0] - 0.015, B[1] - 0.005))
    cands = region_insert.candidates(new, shapes, techs, DAYS, {}, set(), TRAVEL)
    region = views_by_region(cands, visits, routes)
    b = cands[0]
    # every planned stop of B's region now pinned to A0 (another region): B's routes are not known
    # here, so none of B's technician-days may take the new visit
    region[b.index] = [replace(v, pinned_technician_id="A0") for v in region[b.index]]
    placed = region_insert.place(new, [b], region, routes, CTX)
    b_days = {key for key in routes if key[0] in b.technician_ids}
    assert b_days, "B's region planned nothing"
    assert placed is None or placed.vehicle not in b_days


def test_the_shapes_of_a_partition_name_every_technician_once():
    visits, techs = tenant()
    part = partition(visits, techs, DAYS, {}, set(), TRAVEL)
    shapes = region_insert.shapes_of(part.regions)
    names = [t for s in shapes for t in s.technicians]
    assert sorted(names) == sorted(t.id for t in techs)
