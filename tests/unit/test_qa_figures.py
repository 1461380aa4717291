"""QA's monthly report figures: counted by the database (services/qa/queries.py, here on SQLite),
shaped into report rows (services/qa/reports.py), and the complaint analysis (domain)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event

from services.qa import complaint_rules, queries, reports
from tests.qa_report_data import C01, HQ, NOW, report_store

UTC = UTC


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = report_store(f"sqlite:///{tmp_path_factory.mktemp('qa')}/figures.db")
    yield store
    store.dispose()


def _satisfaction(store, principal=HQ, **query):
    with store.session(principal) as session:
        return {(f["tenant_id"], f["month"]): f for f in queries.satisfaction_figures(session, **query)}


def test_satisfaction_grouped_by_local_month_of_the_answer(store):
    figures = _satisfaction(store)
    assert sorted(figures) == [("C01", "2026-03"), ("C01", "2026-04"), ("C02", "2026-03"), ("C02", "2026-04")]
    march = figures[("C01", "2026-03")]  # 5, 2 (negative) and 4 (23:30 local on 31 March)
    assert (march["answers"], march["total"], march["negative"]) == (3, 11, 1)
    assert [march[f"s{i}"] for i in range(1, 6)] == [0, 1, 0, 1, 1]
    april = figures[("C01", "2026-04")]  # 17:30 UTC on 31 March is 01:30 on 1 April in China
    assert (april["answers"], april["total"], april["s3"]) == (1, 3, 1)


def test_satisfaction_month_and_since_and_tenant(store):
    assert sorted(_satisfaction(store, month="2026-03")) == [("C01", "2026-03"), ("C02", "2026-03")]
    assert _satisfaction(store, month="2026-03")[("C01", "2026-03")]["answers"] == 3
    assert sorted(_satisfaction(store, since="2026-04")) == [("C01", "2026-04"), ("C02", "2026-04")]
    assert sorted(_satisfaction(store, tenant_id="C02")) == [("C02", "2026-03"), ("C02", "2026-04")]
    assert sorted(_satisfaction(store, principal=C01)) == [("C01", "2026-03"), ("C01", "2026-04")]  # scoped
    assert _satisfaction(store, month="2026-05") == {}


def test_satisfaction_is_counted_by_the_database(store):
    """One row per (tenant, month) comes back, selected on the month's UTC range."""
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.session(HQ) as session:
            figures = queries.satisfaction_figures(session, month="2026-04")
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    statement, parameters = seen[-1]
    assert "GROUP BY" in statement and "done_at >=" in statement and "done_at <" in statement
    assert "2026-03-31 16:00:00.000000" in [str(p) for p in parameters]  # April starts at 16:00 UTC
    assert len(figures) == 2


def test_satisfaction_rows():
    rows = reports.satisfaction_rows(
        [
            {
                "tenant_id": "C02",
                "month": "2026-03",
                "answers": 1,
                "total": 1,
                "negative": 1,
                "s1": 1,
                "s2": 0,
                "s3": 0,
                "s4": 0,
                "s5": 0,
            },
            {
                "tenant_id": "C01",
                "month": "2026-03",
                "answers": 3,
                "total": 11,
                "negative": 1,
                "s1": 0,
                "s2": 1,
                "s3": 0,
                "s4": 1,
                "s5": 1,
            },
        ]
    )
    assert [(r["tenant_id"], r["average"]) for r in rows] == [("C01", Decimal("3.67")), ("C02", Decimal("1.00"))]
    assert rows[0]["s5"] == 1 and rows[0]["negative"] == 1
    assert [k for k, _ in reports.COLUMNS["satisfaction"]] == [
        "tenant_id",
        "center_name",  # `reports.build` names the rows
        "month",
        "answers",
        "average",
        "negative",
        "s1",
        "s2",
        "s3",
        "s4",
        "s5",
    ]


def _callbacks(store, **query):
    with store.session(HQ) as session:
        return {(f["tenant_id"], f["stratum"]): f for f in queries.callback_figures(session, now=NOW, **query)}


def test_callback_figures(store):
    figures = _callbacks(store)
    franchised = figures[("C01", "franchised")]
    assert {k: franchised[k] for k in ("planned", "done_on_time", "done_late", "overdue", "open", "negative")} == {
        "planned": 4,
        "done_on_time": 1,
        "done_late": 1,
        "overdue": 1,
        "open": 1,
        "negative": 1,
    }
    assert (figures[("C01", "hq")]["done_on_time"], figures[("C01", "hq")]["overdue"]) == (2, 0)
    assert figures[("C02", "self_run")]["done_on_time"] == 2  # made at the due time itself is on time
    assert _callbacks(store, month="2026-04")[("C02", "self_run")]["planned"] == 1
    assert set(_callbacks(store, since="2026-04")) == {("C02", "self_run")}
    assert set(_callbacks(store, tenant_id="C01")) == {("C01", "franchised"), ("C01", "hq")}


def test_callback_rows_rate_only_what_was_due(store):
    rows = reports.callback_rows(list(_callbacks(store).values()))
    assert [(r["tenant_id"], r["stratum"], r["mode"]) for r in rows] == [
        ("C01", "franchised", "own"),
        ("C01", "hq", "cross"),
        ("C02", "self_run", "sampled"),
    ]
    franchised = rows[0]  # made 2 of the 3 due (the open one is not due yet), one of them on time
    assert (franchised["completion_pct"], franchised["on_time_pct"]) == (Decimal("66.7"), Decimal("33.3"))
    empty = reports.callback_rows(
        [
            {
                "tenant_id": "C03",
                "stratum": "care",
                "planned": 1,
                "done_on_time": 0,
                "done_late": 0,
                "overdue": 0,
                "open": 1,
                "negative": 0,
            }
        ]
    )[0]
    assert empty["completion_pct"] is None and empty["on_time_pct"] is None


def test_ontime_figures_and_rows(store):
    with store.session(HQ) as session:
        visits, breaches = queries.ontime_figures(session, month="2026-03")
    rows = {(r["tenant_id"], r["tier"]): r for r in reports.ontime_rows(visits, breaches)}
    assert list(rows) == [
        ("C01", "in_province"),
        ("C01", "local"),
        ("C01", "unknown"),
        ("C02", "local"),
        ("C02", "unknown"),
    ]
    local = rows[("C01", "local")]
    assert (local["visits"], local["on_time"], local["late"], local["on_time_pct"], local["onsite_breaches"]) == (
        3,
        2,
        1,
        Decimal("66.7"),
        1,
    )  # the reply breach is not an on-site one
    assert (rows[("C01", "in_province")]["not_recorded"], rows[("C01", "in_province")]["on_time_pct"]) == (1, None)
    assert (rows[("C02", "unknown")]["visits"], rows[("C02", "unknown")]["onsite_breaches"]) == (0, 1)
    with store.session(HQ) as session:
        april, _ = queries.ontime_figures(session, since="2026-04", tenant_id="C01")
    assert april == [("C01", "local", False, 1)]


def _complaint(ticket_id, **kw):
    values = dict(
        ticket_id=ticket_id, tenant_id="C01", number=f"N-{ticket_id}", received_at=datetime(2026, 3, 1, tzinfo=UTC)
    )
    values.update(kw)
    return complaint_rules.ComplaintRecord(**values)


def test_complaint_analysis():
    received = datetime(2026, 3, 1, tzinfo=UTC)
    analysis = complaint_rules.analyse_complaints(
        [
            _complaint(
                "a",
                cause="fees",
                responsibility="own",
                closed_at=received + timedelta(days=20),
                outcome="resolved",
                recurrence_status="recurred",
                serial_no="S1",
                recurrence_ticket_id="x",
            ),
            _complaint(
                "b",
                cause="fees",
                closed_at=received + timedelta(days=4),
                outcome="resolved",
                recurrence_status="pending",
            ),
            _complaint("c", cause="attitude", closed_at=received + timedelta(days=1), outcome="cancelled"),
            _complaint("d", tenant_id="C02"),
        ]
    )
    assert (analysis["complaints"], analysis["open"], analysis["unclassified"]) == (4, 1, 1)
    assert analysis["by_cause"] == {"fees": 2, "attitude": 1, "unclassified": 1}
    assert analysis["by_responsibility"] == {"unclassified": 3, "own": 1}
    assert analysis["by_tenant"] == {"C01": 3, "C02": 1}
    assert [r["cause"] for r in analysis["pareto"]] == ["fees", "attitude"]
    assert analysis["cycle"]["closed"] == 2 and analysis["cycle"]["average_days"] == Decimal("12.0")  # not c
    assert analysis["cycle"]["over_target"] == 1
    assert analysis["recurrence"] == {"pending": 1, "none": 0, "recurred": 1}
    assert analysis["recurred"] == [{"ticket_id": "a", "number": "N-a", "serial_no": "S1", "recurrence_ticket_id": "x"}]


def test_pareto_rows_in_percent():
    rows = reports.pareto_rows(complaint_rules.pareto({"fees": 3, "attitude": 1}))
    assert [(r["cause"], r["share_pct"], r["cumulative_pct"], r["vital"]) for r in rows] == [
        ("fees", Decimal("75.0"), Decimal("75.0"), True),
        ("attitude", Decimal("25.0"), Decimal("100.0"), True),
    ]
