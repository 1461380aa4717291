"""The service's side of placing one new ticket of a big tenant (`ticket_insert.place_new_visit`)
on a real SQLite database (dispatch's migrations): the visit is read, its region's scheduled
visits read, the visit placed and written as a plan run of trigger ``insert`` with visit.scheduled
in the outbox; a technician-day changed meanwhile, or a visit planned meanwhile, is left alone
(the batched re-plan places it)."""

import json
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from services.dispatch import domain, region_insert, ticket_insert
from services.dispatch.models import Base, PlanRun, Technician, Visit
from services.dispatch.planner import PlannerSettings, PlanningContext
from services.dispatch.regions import Region
from shared import clock
from shared.db import Store
from shared.geo import TravelModel
from shared.outbox import outbox_table
from shared.tenancy import service_principal
from shared.workcal import ChinaCalendar

MON = date(2026, 12, 7)  # a working Monday
NOW = datetime(2026, 12, 7, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
A, B = (30.60, 114.30), (31.30, 113.60)  # two bases ~100 km apart
LATHE = "数控车床"
PRINCIPAL = service_principal("dispatch", "C01")


@pytest.fixture
def store(tmp_path):
    clock.travel_to(NOW)
    s = Store("dispatch", f"sqlite:///{tmp_path}/dispatch.db", Base.metadata, "services.dispatch.migrations")
    s.create_schema()
    yield s
    s.dispose()
    clock.reset()


def _tech(tid, base):
    return Technician(
        id=tid,
        tenant_id="C01",
        outlet_id=None,
        name=tid,
        skills=[LATHE],
        certificates={LATHE: "2030-01-01"},
        home_lat=base[0],
        home_lon=base[1],
        daily_capacity=4,
    )


def _visit(vid, where, **planned):
    return Visit(
        id=vid,
        tenant_id="C01",
        ticket_id="T-" + vid,
        ticket_number="N-" + vid,
        kind="repair",
        priority=3,
        product_line=LATHE,
        lat=where[0],
        lon=where[1],
        received_at=NOW,
        onsite_due=NOW + timedelta(days=1, hours=10),  # Tuesday 18:00
        service_minutes=90,
        status="scheduled" if planned else "unplanned",
        **planned,
    )


def _at(hour):
    return datetime.combine(MON, time(hour, 0), domain.LOCAL_TZ).astimezone(UTC)


def seeded(store):
    """Two technicians at A, two at B; B0 has two visits planned on Monday; one new visit near B."""
    with store.uow(PRINCIPAL) as uow:
        for tid, base in (("A0", A), ("A1", A), ("B0", B), ("B1", B)):
            uow.session.add(_tech(tid, base))
        near_b = (B[0] - 0.01, B[1] - 0.01)
        uow.session.add(_visit("b1", near_b, technician_id="B0", planned_arrival=_at(10), route_order=1))
        uow.session.add(_visit("b2", (B[0] + 0.02, B[1]), technician_id="B0", planned_arrival=_at(13), route_order=2))
        uow.session.add(_visit("new", (B[0] - 0.012, B[1] - 0.008)))
        uow.commit()
    shapes = region_insert.shapes_of(
        [
            Region(A, [SimpleNamespace(id="A0"), SimpleNamespace(id="A1")]),
            Region(B, [SimpleNamespace(id="B0"), SimpleNamespace(id="B1")]),
        ]
    )
    ctx = PlanningContext(
        SimpleNamespace(uow=store.uow),
        SimpleNamespace(clock=SimpleNamespace(calendar=ChinaCalendar.default())),
        TravelModel(),
        PlannerSettings(),
    )
    return shapes, ctx


def inline(fn, *args):
    return fn(*args)


def test_a_new_visit_is_placed_in_its_regions_plan_and_written_as_an_insert(store):
    shapes, ctx = seeded(store)
    result = ticket_insert.place_new_visit(ctx, shapes, "T-new", "C01", run=inline)
    assert result is not None and result["region"] == 1 and result["late_minutes"] == 0, result
    with store.uow(PRINCIPAL) as uow:
        visits = {
            v.id: (v.status, v.technician_id, v.route_order, v.plan_run_id) for v in uow.session.scalars(select(Visit))
        }
        run = uow.session.scalars(select(PlanRun)).one()
        run_id, trigger = run.id, run.trigger
        events = [json.loads(r.payload) for r in uow.session.execute(select(outbox_table)).all()]
    assert visits["new"][:2] == ("scheduled", "B0")  # beside B0's planned stops
    assert visits["new"][3] == run_id and trigger == "insert"
    assert sorted(order for _, tech, order, _ in visits.values() if tech == "B0") == [1, 2, 3]
    assert any(e.get("visit_id") == "new" for e in events)


def test_a_technician_day_changed_meanwhile_leaves_the_visit_to_the_re_plan(store):
    shapes, ctx = seeded(store)

    def meanwhile(fn, *args):
        placed = fn(*args)
        with store.uow(PRINCIPAL) as uow:  # a re-plan moved b2 away while the visit was placed
            uow.session.get(Visit, "b2").technician_id = "B1"
            uow.commit()
        return placed

    assert ticket_insert.place_new_visit(ctx, shapes, "T-new", "C01", run=meanwhile) is None
    with store.uow(PRINCIPAL) as uow:
        assert uow.session.get(Visit, "new").status == "unplanned"
        assert uow.session.scalars(select(PlanRun)).all() == []


def test_a_visit_planned_meanwhile_or_without_shapes_of_its_region_is_left_alone(store):
    shapes, ctx = seeded(store)

    def planned_meanwhile(fn, *args):
        placed = fn(*args)
        with store.uow(PRINCIPAL) as uow:
            v = uow.session.get(Visit, "new")
            v.status, v.technician_id, v.planned_arrival, v.route_order = "scheduled", "B1", _at(9), 1
            uow.commit()
        return placed

    assert ticket_insert.place_new_visit(ctx, shapes, "T-new", "C01", run=planned_meanwhile) is None
    with store.uow(PRINCIPAL) as uow:
        assert uow.session.get(Visit, "new").technician_id == "B1"
    # a region plan that knew none of these technicians: no region may take it
    gone = (region_insert.RegionShape(A, ("X0",)),)
    with store.uow(PRINCIPAL) as uow:
        uow.session.add(_visit("new2", (B[0], B[1] - 0.01)))
        uow.commit()
    assert ticket_insert.place_new_visit(ctx, gone, "T-new2", "C01", run=inline) is None
