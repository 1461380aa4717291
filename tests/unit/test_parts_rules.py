"""Parts' rules moved out of its entrypoints, alone (no nameko, no database): where stock may be
received and transferred, who runs the overdue check and settles rejected scans, how a request's
lines merge, which dispatch facts are stale or do not apply, overdue returns and the ageing
table, what a reconciliation covers and answers, the balance check, the export layout."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.parts import domain, queries
from services.parts.domain import LocationSpec, OpenReturn, RmaStatus
from shared.errors import Forbidden, NotFound, ValidationFailed
from shared.tenancy import Principal

HQ_WH = LocationSpec("WH-HQ", "warehouse", "HQ", "总部配件库")
WH1 = LocationSpec("WH-C01", "warehouse", "C01", "武汉区域配件库", "WH-HQ")
WH2 = LocationSpec("WH-C02", "warehouse", "C02", "济南区域配件库", "WH-HQ")
O1 = LocationSpec("C01-O01", "outlet", "C01", "襄阳", "WH-C01")
O3 = LocationSpec("C02-O01", "outlet", "C02", "济南", "WH-C02")
FACTORY = LocationSpec("FACTORY", "factory", "HQ", "工厂")
T0 = datetime(2025, 6, 1, 8, tzinfo=UTC)


def test_new_stock_comes_in_at_a_warehouse_and_transfers_go_between_warehouses():
    domain.check_receiving_location(WH1)
    with pytest.raises(ValidationFailed) as info:
        domain.check_receiving_location(O1)
    assert info.value.fields == {"location_id": ["C01-O01 is a outlet"]}
    domain.check_transfer(WH1, WH2)
    for source, target in ((WH1, O1), (O1, WH1), (FACTORY, WH1)):
        with pytest.raises(ValidationFailed) as info:
            domain.check_transfer(source, target)
        assert "to_location_id" in info.value.fields


def test_only_hq_or_the_service_runs_the_overdue_check_and_keepers_settle_rejected_scans():
    hq, service = Principal("h", "hq"), Principal("parts", "service")
    center = Principal("c", "center", tenant="C01")
    keeper = Principal("w", "warehouse", tenant="C01", warehouse="WH-C01")
    outlet = Principal("o", "outlet", tenant="C01", outlet="C01-O01")
    domain.check_overdue_runner(hq)
    domain.check_overdue_runner(service)
    for who in (center, keeper, outlet):
        with pytest.raises(Forbidden):
            domain.check_overdue_runner(who)
    for who in (hq, center, keeper):
        domain.check_resolver(who)
    for who in (outlet, service):
        with pytest.raises(Forbidden, match="cannot resolve rejected receipts"):
            domain.check_resolver(who)


def test_a_part_named_twice_in_a_request_is_one_line():
    lines = [{"part_no": "A", "quantity": 1}, {"part_no": "B", "quantity": 2}, {"part_no": "A", "quantity": 3}]
    assert domain.merge_lines(lines) == [("A", 4), ("B", 2)]
    assert domain.merge_lines([]) == []


def test_a_dispatch_fact_older_than_the_last_applied_is_stale():
    assert not domain.is_stale(None, T0)
    assert not domain.is_stale(T0, T0)
    assert not domain.is_stale(T0, T0 + timedelta(minutes=1))
    assert domain.is_stale(T0, T0 - timedelta(seconds=1))


def test_a_release_applies_to_a_planned_visit_at_the_outlet_it_names():
    assert domain.release_applies("reserved", "C01-O01", "C01-O01", stale=False)
    assert domain.release_applies("reserved", "C01-O01", None, stale=False)  # no outlet named: wherever it is
    assert domain.release_applies("waiting_ticket", None, "C01-O01", stale=False)
    assert domain.release_applies("released", "C01-O01", "C01-O01", stale=False)
    assert not domain.release_applies("reserved", "C01-O01", "C01-O01", stale=True)
    assert not domain.release_applies("completed", "C01-O01", "C01-O01", stale=False)
    assert not domain.release_applies("reserved", "C01-O02", "C01-O01", stale=False)  # re-planned since


def test_overdue_is_an_open_return_past_its_due_date():
    assert domain.is_overdue(RmaStatus.OPEN, T0, T0 + timedelta(seconds=1))
    assert not domain.is_overdue(RmaStatus.OPEN, T0, T0)
    assert not domain.is_overdue(RmaStatus.AT_WAREHOUSE, T0, T0 + timedelta(days=9))


def test_ageing_table_counts_open_returns_per_outlet_by_bucket_and_value():
    now = T0 + timedelta(days=100)
    returns = [
        OpenReturn("C01-O02", now - timedelta(days=5), now + timedelta(days=25), Decimal("10.50"), 2),
        OpenReturn("C01-O01", now - timedelta(days=45), now - timedelta(days=15), Decimal("3150.00"), 1),
        OpenReturn("C01-O01", now - timedelta(days=95), now - timedelta(days=65), Decimal("5"), 1),
    ]
    table = domain.ageing_table(returns, now)
    assert [e["outlet_id"] for e in table] == ["C01-O01", "C01-O02"]
    first, second = table
    assert first["open"] == 2 and first["overdue"] == 2 and first["value"] == Decimal("3155.00")
    assert first["buckets"] == {"0-30": 0, "31-60": 1, "61-90": 0, ">90": 1}
    assert second["open"] == 1 and second["overdue"] == 0 and str(second["value"]) == "21.00"
    assert domain.ageing_table([], now) == []


def test_a_reconciliation_covers_the_warehouses_and_outlets_asked_for():
    visible = {loc.id: loc for loc in (HQ_WH, WH1, WH2, O1, O3, FACTORY)}
    assert set(domain.locations_to_reconcile(visible, None, None)) == {
        "WH-HQ",
        "WH-C01",
        "WH-C02",
        "C01-O01",
        "C02-O01",
    }
    assert set(domain.locations_to_reconcile(visible, None, "C01")) == {"WH-C01", "C01-O01"}
    assert set(domain.locations_to_reconcile(visible, "C02-O01", None)) == {"C02-O01"}
    with pytest.raises(NotFound) as info:
        domain.locations_to_reconcile(visible, "C09-O01", None)
    assert info.value.fields == {"location_id": ["unknown location"]}
    for location_id, tenant_id in (("FACTORY", None), ("C01-O01", "C02"), (None, "C09")):
        with pytest.raises(NotFound, match="no location to reconcile"):
            domain.locations_to_reconcile(visible, location_id, tenant_id)


def test_the_answer_of_a_reconciliation_sums_its_reports():
    clean = domain.reconciliation_report(WH1, "2025-06", {"received": 4}, [])
    faulty = domain.reconciliation_report(
        O1, "2025-06", {"issued": 2}, [domain.discrepancy("serial_mismatch", "X", 1, "r", "d")] * 3
    )
    answer = domain.reconciliation_summary("2025-06", [clean, faulty])
    assert (answer["month"], answer["locations"], answer["with_discrepancies"], answer["discrepancies"]) == (
        "2025-06",
        2,
        1,
        3,
    )
    assert [r["location_id"] for r in answer["reports"]] == ["WH-C01", "C01-O01"]
    assert "month" not in answer["reports"][0] and answer["reports"][1]["by_kind"] == {"serial_mismatch": 3}


def test_balance_rows_put_each_stored_balance_next_to_its_movements():
    stored = {("WH-C01", "B", "good"): 5, ("WH-C01", "A", "good"): 2, ("C01-O01", "A", "defective"): 1}
    summed = {("WH-C01", "B", "good"): 5, ("WH-C01", "A", "good"): 3, ("WH-C09", "Z", "good"): 7}
    rows = domain.balance_rows(stored, summed)
    assert [(r["location_id"], r["part_no"]) for r in rows] == [("C01-O01", "A"), ("WH-C01", "A"), ("WH-C01", "B")]
    assert [(r["balance"], r["from_movements"]) for r in rows] == [(1, 0), (2, 3), (5, 5)]  # only stored rows


def test_the_export_has_a_summary_per_location_and_a_line_per_discrepancy():
    rows = [
        {
            "month": "2025-06",
            "location_id": "C01-O01",
            "location_kind": "outlet",
            "tenant_id": "C01",
            "figures": {"issued": 2, "consumed": 1},
            "discrepancy_count": 1,
            "discrepancies": [{"kind": "serial_mismatch", "part_no": "X", "quantity": 1, "ref": "V1", "detail": "d"}],
        },
        {
            "month": "2025-06",
            "location_id": "WH-C01",
            "location_kind": "warehouse",
            "tenant_id": "C01",
            "figures": None,
            "discrepancy_count": 0,
            "discrepancies": None,
        },
    ]
    summary, details = queries.export_rows(rows)
    assert summary[0]["issued"] == 2 and summary[0]["opening"] == 0 and summary[1]["closing"] == 0
    assert details == [
        {
            "month": "2025-06",
            "location_id": "C01-O01",
            "kind": "serial_mismatch",
            "part_no": "X",
            "quantity": 1,
            "ref": "V1",
            "detail": "d",
        }
    ]
    lines = list(csv.reader(io.StringIO(queries.export_csv(summary, details))))
    assert lines[0] == ["section", *queries.SUMMARY_COLUMNS]
    assert [line[0] for line in lines if line] == ["section", "summary", "summary", "section", "discrepancy"]
    assert lines[-1][1:4] == ["2025-06", "C01-O01", "serial_mismatch"]
