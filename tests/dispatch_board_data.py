"""A small dispatch database for the board (tests/unit on SQLite, tests/service on PostgreSQL):
visits in every status, due before, within and beyond the late-risk window or never, planned to
arrive before or after their due time or not planned, in two centers and several outlets; and
the board as it was computed before it moved into SQL (every visit loaded, the rule per visit)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from services.dispatch import domain, queries
from services.dispatch.domain import VisitStatus
from services.dispatch.models import Base, Visit
from shared.db import Store, as_utc
from shared.tenancy import Principal

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
HQ = Principal("hq", "hq")
C01 = Principal("wuhan", "center", tenant="C01")
O01 = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
STATUSES = (
    VisitStatus.UNPLANNED,
    VisitStatus.SCHEDULED,
    VisitStatus.STARTED,
    VisitStatus.COMPLETED,
    VisitStatus.UNASSIGNABLE,
    VisitStatus.CANCELLED,
)


def _visits():
    """Every status with due times past, within and beyond the 4 h risk window (and none), planned
    arrivals before and after the due time (and none), in two tenants and three outlets."""
    dues = (None, NOW - timedelta(hours=1), NOW + timedelta(hours=3), NOW + timedelta(hours=5), NOW + timedelta(days=2))
    out = []
    for n, (status, due, arrive_h) in enumerate(itertools.product(STATUSES, dues, (None, -2, 2))):
        tenant = "C01" if n % 3 else "C02"
        arrival = None if arrive_h is None or due is None else due + timedelta(hours=arrive_h)
        if arrive_h is not None and due is None:
            arrival = NOW + timedelta(hours=arrive_h)
        out.append(
            Visit(
                id=f"v{n:03d}",
                tenant_id=tenant,
                ticket_id=f"t{n % 7}",
                ticket_number=f"{tenant}-{n}",
                kind="repair",
                priority=3,
                product_line="数控车床",
                lat=30.5,
                lon=114.3,
                received_at=NOW - timedelta(days=1),
                onsite_due=due,
                service_minutes=90,
                status=status,
                technician_id=f"T{n % 4}" if arrival else None,
                outlet_id=f"{tenant}-O0{n % 3}" if arrival else None,
                planned_arrival=arrival,
            )
        )
    return out


def board_store(url: str) -> Store:
    store = Store("dispatch", url, Base.metadata)
    store.create_schema()
    with store.session(Principal("seed", "service")) as session:
        session.add_all(_visits())
        session.commit()
    return store


def reference(store, principal, filters, limit, offset):
    """The board as it was computed before: every matching visit loaded, the risk per visit."""
    with store.session(principal) as session:
        rows = [
            v
            for v in session.query(Visit).order_by(Visit.onsite_due, Visit.id)
            if all(getattr(v, k) == filters[k] for k in queries.BOARD_FILTERS if filters.get(k))
        ]
        items = [
            (v.id, v.status, domain.late_risk(v.status, as_utc(v.onsite_due), as_utc(v.planned_arrival), NOW))
            for v in rows
        ]
    if filters.get("late_risk") is not None:
        items = [i for i in items if i[2] == filters["late_risk"]]
    counts = {}
    for _, status, _ in items:
        counts[status] = counts.get(status, 0) + 1
    return [i[0] for i in items[offset : offset + limit]], len(items), counts, sum(1 for i in items if i[2])


def board(store, principal, filters, limit, offset):
    with store.session(principal) as session:
        page = queries.board(session, filters, NOW, limit, offset)
        return [v.id for v in page.visits], page.total, page.by_status, page.late_risk


FILTERS = [
    {},
    {"late_risk": True},
    {"late_risk": False},
    {"status": VisitStatus.SCHEDULED},
    {"status": VisitStatus.UNPLANNED, "late_risk": True},
    {"outlet_id": "C01-O01"},
    {"technician_id": "T1"},
    {"ticket_id": "t3", "late_risk": False},
    {"status": VisitStatus.CANCELLED, "late_risk": True},
]
