"""Parts' rules without nameko or a broker: catalogue and fault needs, who may move which stock,
RMA due dates on the working-day calendar, ageing, the steps of a return's chain, months."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.parts import domain
from services.parts.domain import Catalogue, LocationSpec, RmaStatus
from shared.errors import Forbidden, ValidationFailed
from shared.tenancy import Principal
from shared.tenants import TenantDirectory
from shared.workcal import ChinaCalendar

CAT = Catalogue.load()
WH1 = LocationSpec("WH-C01", "warehouse", "C01", "武汉区域配件库", "WH-HQ")
WH2 = LocationSpec("WH-C02", "warehouse", "C02", "济南区域配件库", "WH-HQ")
O1 = LocationSpec("C01-O01", "outlet", "C01", "襄阳", "WH-C01")
O2 = LocationSpec("C01-O02", "outlet", "C01", "宜昌", "WH-C01")


def test_catalogue_covers_every_line_model_and_fault_of_the_requests():
    import csv

    from tests.paths import shared_data

    path = shared_data("geo", "service_requests_sample.csv")
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    for r in rows:
        assert CAT.fitting(r["product"], r["model"]), (r["product"], r["model"])
        assert CAT.fault_class(r["product"], r["fault"]) == r["fault"]
    assert set(CAT.fault_parts) == set(TenantDirectory.load().product_lines)
    assert all(isinstance(p.unit_cost, Decimal) and p.unit_cost > 0 for p in CAT.parts.values())
    assert {p.returnable for p in CAT.parts.values()} == {True, False}


def test_fault_needs_the_part_that_fits_the_model():
    assert CAT.needs("数控车床", "CK6150", "主轴过热") == [("CKL-SPB-6150", 1)]
    assert CAT.needs("数控车床", "CK6140", "客户反映主轴过热, 有异味") == [("CKL-SPB-6140", 1)]
    assert CAT.needs("螺杆空压机", "LG-75A", "排气温度过高") == [("LGA-TV-01", 1), ("LGA-OF-75", 1)]
    assert CAT.needs("数控车床", "CK6150", "安装调试") == []
    assert CAT.needs("数控车床", "CK6150", "说不清") == []
    assert CAT.needs("数控车床", None, "主轴过热") == []  # no model: nothing reserved blindly


def test_locations_hq_one_warehouse_per_center_outlets_factory():
    locs = domain.locations_from(TenantDirectory.load())
    kinds = {}
    for l in locs:
        kinds.setdefault(l.kind, []).append(l)
    assert sorted(l.id for l in kinds["warehouse"]) == [
        "WH-C01",
        "WH-C02",
        "WH-C03",
        "WH-C04",
        "WH-C05",
        "WH-C06",
        "WH-HQ",
    ]
    assert len(kinds["outlet"]) == 36 and all(o.parent_id == f"WH-{o.tenant_id}" for o in kinds["outlet"])
    assert [l.id for l in kinds["factory"]] == ["FACTORY"]


def test_who_may_issue_request_and_keep_stock():
    c01, c02, hq = Principal("a", "center", tenant="C01"), Principal("b", "center", tenant="C02"), Principal("h", "hq")
    wh1 = Principal("w", "warehouse", tenant="C01", warehouse="WH-C01")
    o1 = Principal("o", "outlet", tenant="C01", outlet="C01-O01")
    domain.check_issue(c01, WH1, O1)
    domain.check_issue(wh1, WH1, O1)
    domain.check_issue(hq, WH2, O1)
    for who in (c02, o1, Principal("w2", "warehouse", tenant="C02", warehouse="WH-C02")):
        with pytest.raises(Forbidden):
            domain.check_issue(who, WH1, O1)
    with pytest.raises(ValidationFailed):
        domain.check_issue(hq, O1, O2)
    domain.check_request(o1, O1)
    with pytest.raises(Forbidden):
        domain.check_request(o1, O2)
    with pytest.raises(Forbidden):
        domain.check_stock_keeper(o1, O1)
    with pytest.raises(Forbidden):
        domain.check_stock_keeper(wh1, WH2)
    assert domain.may_see_location(wh1, WH1) and not domain.may_see_location(wh1, WH2)
    assert not domain.may_see_location(Principal("c", "customer", customer="x"), O1)


def test_serials_and_adjustments_are_checked():
    assert domain.check_serials(2, ["A", " B "]) == ["A", "B"]
    assert domain.check_serials(3, []) == []
    with pytest.raises(ValidationFailed) as info:
        domain.check_serials(2, ["A"])
    assert "serials" in info.value.fields
    with pytest.raises(ValidationFailed):
        domain.check_serials(2, ["A", "A"])
    with pytest.raises(ValidationFailed):
        domain.check_adjustment(-2, "")
    with pytest.raises(ValidationFailed):
        domain.check_adjustment(0, "盘点")


def test_rma_due_moves_to_the_next_working_day():
    cal = ChinaCalendar.default()
    # removed 2025-09-01 + 30 days = 2025-10-01, National Day: due at the end of 2025-10-09 (first working day)
    removed = datetime(2025, 9, 1, 10, tzinfo=UTC)
    due = domain.rma_due(removed, 30, cal)
    assert due.astimezone(domain.LOCAL_TZ).date().isoformat() == "2025-10-09"
    assert due.astimezone(domain.LOCAL_TZ).hour == 23
    plain = domain.rma_due(datetime(2025, 6, 3, 2, tzinfo=UTC), 30, cal)
    assert plain.astimezone(domain.LOCAL_TZ).date().isoformat() == "2025-07-03"
    assert domain.rma_due(removed, 45, None).astimezone(domain.LOCAL_TZ).date().isoformat() == "2025-10-16"


def test_ageing_buckets():
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    assert domain.ageing(t0, t0 + timedelta(days=3)) == (3, "0-30")
    assert domain.ageing(t0, t0 + timedelta(days=31)) == (31, "31-60")
    assert domain.ageing(t0, t0 + timedelta(days=90)) == (90, "61-90")
    assert domain.ageing(t0, t0 + timedelta(days=200)) == (200, ">90")


def test_the_return_chain_outlet_warehouse_factory():
    due = datetime(2025, 7, 1, tzinfo=UTC)
    on_time, late = due - timedelta(days=1), due + timedelta(hours=1)
    assert domain.receipt_step(RmaStatus.OPEN, "warehouse", due, on_time) == domain.ReceiptStep("warehouse", False)
    assert domain.receipt_step(RmaStatus.OPEN, "warehouse", due, late).late is True
    assert domain.receipt_step(RmaStatus.AT_WAREHOUSE, "factory", due, late).stage == "factory"
    assert domain.receipt_step(RmaStatus.AT_FACTORY, "factory", due, late, "inspection").stage == "inspection"
    for status, kind, where, text in (
        (None, "rma", "warehouse", "unknown RMA"),
        (RmaStatus.OPEN, "rma", "factory", "not yet received at a warehouse"),
        (RmaStatus.AT_WAREHOUSE, "rma", "warehouse", "already received_warehouse"),
        (RmaStatus.OPEN, "rma", "outlet", "not at a outlet"),
        (RmaStatus.OPEN, "inspection", "factory", "inspection needs"),
    ):
        with pytest.raises(ValueError, match=text):
            domain.receipt_step(status, where, due, on_time, kind)


def test_months_are_local_months_in_utc():
    start, end = domain.parse_month("2025-12")
    assert start == datetime(2025, 11, 30, 16, tzinfo=UTC)
    assert end == datetime(2025, 12, 31, 16, tzinfo=UTC)
    assert domain.month_of(datetime(2025, 11, 30, 17, tzinfo=UTC)) == "2025-12"
    with pytest.raises(ValidationFailed):
        domain.parse_month("2025-13")


def test_report_counts_discrepancies_by_kind():
    rep = domain.reconciliation_report(
        O1, "2025-06", {"issued": 2}, [domain.discrepancy("serial_mismatch", "X", 1, "r", "d")] * 2
    )
    assert rep["by_kind"] == {"serial_mismatch": 2} and rep["discrepancy_count"] == 2
    assert rep["figures"]["issued"] == 2 and rep["figures"]["consumed"] == 0
