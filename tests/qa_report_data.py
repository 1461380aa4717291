"""A small QA database for the report figures (tests/unit on SQLite, tests/service on PostgreSQL):
callbacks answered on both sides of a local month boundary, in two centers, made on time, late,
overdue and not yet due, and visits on time, late and unrecorded in the SLA tiers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.qa.models import Base, Callback, ServiceRecord, SlaBreach, TicketInfo
from shared.db import Store
from shared.tenancy import Principal

UTC = UTC
HQ = Principal("hq", "hq")
C01 = Principal("wuhan", "center", tenant="C01")
#: the moment the callbacks report counts "overdue" and "open" from
NOW = datetime(2026, 4, 20, 4, tzinfo=UTC)


def _callback(tenant, stratum, *, period, due, done=None, satisfaction=None, negative=False):
    return Callback(
        id=uuid.uuid4().hex,
        tenant_id=tenant,
        plan_key=uuid.uuid4().hex,
        ticket_id="t",
        visit_id="v",
        outlet_id=f"{tenant}-O01",
        purpose="service",
        stratum=stratum,
        mode="own",
        caller=tenant,
        period=period,
        service_at=due - timedelta(days=3),
        due_at=due,
        planned_at=due - timedelta(days=3),
        status="planned" if done is None else ("negative" if negative else "done"),
        attempts=0,
        done_at=done,
        satisfaction=satisfaction,
        negative=negative,
    )


def callbacks():
    march_due = datetime(2026, 3, 20, 9, tzinfo=UTC)
    return [
        # C01, franchised, March: on time (5), late (2, negative), overdue, and one due after NOW
        _callback(
            "C01", "franchised", period="2026-03", due=march_due, done=march_due - timedelta(hours=1), satisfaction=5
        ),
        _callback(
            "C01",
            "franchised",
            period="2026-03",
            due=march_due,
            done=march_due + timedelta(days=1),
            satisfaction=2,
            negative=True,
        ),
        _callback("C01", "franchised", period="2026-03", due=march_due),
        _callback("C01", "franchised", period="2026-03", due=NOW + timedelta(days=1)),
        # C01, HQ tier, March: answered 23:30 local on 31 March (March) and 01:30 local on 1 April (April)
        _callback(
            "C01",
            "hq",
            period="2026-03",
            due=datetime(2026, 4, 2, 9, tzinfo=UTC),
            done=datetime(2026, 3, 31, 15, 30, tzinfo=UTC),
            satisfaction=4,
        ),
        _callback(
            "C01",
            "hq",
            period="2026-03",
            due=datetime(2026, 4, 2, 9, tzinfo=UTC),
            done=datetime(2026, 3, 31, 17, 30, tzinfo=UTC),
            satisfaction=3,
        ),
        # C02, March and April
        _callback("C02", "self_run", period="2026-03", due=march_due, done=march_due, satisfaction=1, negative=True),
        _callback(
            "C02",
            "self_run",
            period="2026-04",
            due=NOW - timedelta(days=1),
            done=datetime(2026, 4, 10, 2, tzinfo=UTC),
            satisfaction=4,
        ),
    ]


def visits():
    rows = []
    for i, (tenant, tier, on_time, period) in enumerate(
        [
            ("C01", "local", True, "2026-03"),
            ("C01", "local", True, "2026-03"),
            ("C01", "local", False, "2026-03"),
            ("C01", "in_province", None, "2026-03"),
            ("C01", None, True, "2026-03"),
            ("C01", "local", False, "2026-04"),
            ("C02", "local", True, "2026-03"),
        ]
    ):
        ticket = f"t{i}"
        if tier is not None:
            rows.append(
                TicketInfo(
                    id=ticket,
                    tenant_id=tenant,
                    number=f"N{i}",
                    kind="repair",
                    tier=tier,
                    received_at=datetime(2026, 3, 1, tzinfo=UTC),
                )
            )
        rows.append(
            ServiceRecord(
                visit_id=f"v{i}",
                tenant_id=tenant,
                ticket_id=ticket,
                outlet_id=f"{tenant}-O01",
                outlet_kind="franchised",
                completed_at=datetime(2026, 3, 5, tzinfo=UTC),
                period=period,
                onsite_on_time=on_time,
            )
        )
    rows.append(
        SlaBreach(
            tenant_id="C01",
            ticket_id="t2",
            sla="onsite",
            due_at=datetime(2026, 3, 4, tzinfo=UTC),
            detected_at=datetime(2026, 3, 4, tzinfo=UTC),
        )
    )
    rows.append(
        SlaBreach(
            tenant_id="C01",
            ticket_id="t2",
            sla="reply",
            due_at=datetime(2026, 3, 4, tzinfo=UTC),
            detected_at=datetime(2026, 3, 4, tzinfo=UTC),
        )
    )
    rows.append(
        SlaBreach(
            tenant_id="C02",
            ticket_id="t-unknown",
            sla="onsite",
            due_at=datetime(2026, 3, 4, tzinfo=UTC),
            detected_at=datetime(2026, 3, 4, tzinfo=UTC),
        )
    )
    return rows


def report_store(url: str) -> Store:
    store = Store("qa", url, Base.metadata)
    store.create_schema()
    with store.session(HQ) as session:
        session.add_all(callbacks() + visits())
        session.commit()
    return store
