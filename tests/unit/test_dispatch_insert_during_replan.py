"""A new ticket of a big tenant placed at once (`Planner.insert_new`) never leaves two overlapping
stops on one technician-day, on a real SQLite database (dispatch's migrations), the interleavings
driven one step after the other:

- a re-plan of the tenant reads its visits, the new ticket's visit is opened and inserted while
  the re-plan solves, then the re-plan writes its plan (which does not know the new visit): the
  insert is skipped while the re-plan holds the tenant's lease ``plan:<tenant>``, the visit is
  left to the batched re-plan (requested with it), and the plan holds no overlap;
- two replicas inserting into the same technician-day: the second, while the first places its
  visit, is skipped the same way (the lease is held by the first)."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from eventlet import tpool
from sqlalchemy import select

from services.dispatch import domain, planner, planstate, region_insert
from services.dispatch.models import Base, PlanRun, Visit
from services.dispatch.planner import Planner, PlannerSettings, PlanningContext
from services.dispatch.regions import Region
from services.dispatch.routing_problem import evaluate_routes
from shared import clock
from shared.db import Store, as_utc
from shared.geo import TravelModel
from shared.workcal import ChinaCalendar
from tests.unit.test_dispatch_ticket_insert import MON, NOW, PRINCIPAL, A, B, _at, _tech, _visit

NEAR_B = (B[0] - 0.01, B[1] - 0.01)


@pytest.fixture
def store(tmp_path):
    clock.travel_to(NOW)
    s = Store("dispatch", f"sqlite:///{tmp_path}/dispatch.db", Base.metadata, "services.dispatch.migrations")
    s.create_schema()
    yield s
    s.dispose()
    clock.reset()


@pytest.fixture
def ctx(store):
    """C01: two technicians at A, two at B; B0 has two visits planned on Monday."""
    with store.uow(PRINCIPAL) as uow:
        for tid, base in (("A0", A), ("A1", A), ("B0", B), ("B1", B)):
            uow.session.add(_tech(tid, base))
        uow.session.add(_visit("b1", NEAR_B, technician_id="B0", planned_arrival=_at(10), route_order=1))
        uow.session.add(_visit("b2", (B[0] + 0.02, B[1]), technician_id="B0", planned_arrival=_at(13), route_order=2))
        uow.commit()
    return PlanningContext(
        SimpleNamespace(uow=store.uow, store=store, worker_ctx=SimpleNamespace(container=SimpleNamespace())),
        SimpleNamespace(
            clock=SimpleNamespace(calendar=ChinaCalendar.default()), directory=SimpleNamespace(outlets_of=lambda t: [])
        ),
        TravelModel(),
        PlannerSettings(),
    )


SHAPES = region_insert.shapes_of(
    [
        Region(A, [SimpleNamespace(id="A0"), SimpleNamespace(id="A1")]),
        Region(B, [SimpleNamespace(id="B0"), SimpleNamespace(id="B1")]),
    ]
)


def open_visit(store, vid):
    """The ticket's visit opened as the service opens it: unplanned, its re-plan requested."""
    with store.uow(PRINCIPAL) as uow:
        uow.session.add(_visit(vid, (B[0] - 0.012, B[1] - 0.008)))
        planstate.request(uow.session, "C01")
        uow.commit()


def overlaps(store):
    """[(technician-day, stop, next stop)] of the stops that overlap on a technician-day."""
    with store.uow(PRINCIPAL) as uow:
        rows = [
            (v.id, v.technician_id, as_utc(v.planned_arrival), v.service_minutes)
            for v in uow.session.scalars(select(Visit))
            if v.status == "scheduled"
        ]
    days = {}
    for vid, tech, at, minutes in rows:
        days.setdefault((tech, at.astimezone(domain.LOCAL_TZ).date()), []).append((at, minutes, vid))
    found = []
    for key, stops in days.items():
        stops.sort()
        for (at, minutes, vid), (nxt, _, wid) in zip(stops, stops[1:], strict=False):
            if at + timedelta(minutes=minutes) > nxt + timedelta(seconds=60):
                found.append((key, vid, wid, at.isoformat(), nxt.isoformat()))
    return found


def test_a_ticket_inserted_while_a_re_plan_solves_leaves_no_overlap(store, ctx, monkeypatch):
    p = Planner()
    p.shapes["C01"] = SHAPES
    with store.uow(PRINCIPAL) as uow:  # open, not yet planned: the re-plan puts it after b2
        uow.session.add(_visit("c", (B[0] + 0.02, B[1] + 0.01)))
        uow.commit()
    inserted = []

    def solve_meanwhile(problem, *args, **kwargs):
        """The re-plan has read b1, b2 and c; while it solves, a ticket comes in and is inserted
        (into B0's Monday as stored: b1, b2); the plan then makes B0's Monday b1, b2, c."""
        open_visit(store, "new")
        inserted.append(p.insert_new(ctx, "C01", "T-new"))
        ids = [v.id for v in problem.visits]
        routes = [[] for _ in problem.vehicles]
        k = next(k for k, veh in enumerate(problem.vehicles) if veh.id == f"B0@{MON.isoformat()}")
        routes[k] = [ids.index("b1"), ids.index("b2"), ids.index("c")]
        return evaluate_routes(problem, routes)

    monkeypatch.setattr(planner, "run_in_child", solve_meanwhile)
    monkeypatch.setattr(tpool, "execute", lambda fn, *args: fn(*args))
    result = p.plan_tenant(ctx, "C01", trigger="batch")
    assert result.get("scheduled") == 3, result
    assert overlaps(store) == []
    assert inserted == [None]  # left to the batched re-plan: the re-plan held the tenant's lease
    with store.uow(PRINCIPAL) as uow:
        assert uow.session.get(Visit, "new").status == "unplanned"
        assert [r.trigger for r in uow.session.scalars(select(PlanRun))] == ["batch"]
    with store.engine.connect() as conn:  # requested with the visit, after the re-plan began
        assert ("C01", "batch") in planstate.due(conn, 0, 3600)
    # with no re-plan running, the next ticket is placed at once (the shapes set again: this small
    # tenant was planned as one problem, which drops them)
    p.shapes["C01"] = SHAPES
    open_visit(store, "later")
    placed = p.insert_new(ctx, "C01", "T-later")
    assert placed is not None and placed["scheduled"] >= 1, placed
    assert overlaps(store) == []


def test_a_second_replica_inserting_meanwhile_is_left_to_the_re_plan(store, ctx, monkeypatch):
    first, second = Planner(), Planner()
    first.shapes["C01"] = second.shapes["C01"] = SHAPES
    open_visit(store, "n1")
    open_visit(store, "n2")
    meanwhile = []

    def place_then_peer(fn, *args):
        if not meanwhile:  # the first replica places n1; the second gets n2's ticket now
            meanwhile.append("placing")
            meanwhile[0] = second.insert_new(ctx, "C01", "T-n2")
        return fn(*args)

    monkeypatch.setattr(tpool, "execute", place_then_peer)
    placed = first.insert_new(ctx, "C01", "T-n1")
    assert meanwhile == [None]  # the first held the tenant's lease
    assert placed is not None and placed["scheduled"] >= 1, placed
    assert overlaps(store) == []
    with store.uow(PRINCIPAL) as uow:
        assert uow.session.get(Visit, "n1").status == "scheduled"
        assert uow.session.get(Visit, "n2").status == "unplanned"
    assert first.leases.holder("plan:C01") is None  # released: the re-plan may take it
