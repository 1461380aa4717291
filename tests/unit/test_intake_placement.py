"""Tenant placement and SLA tier of the 300 sample requests (domain.place with the real
tenant directory and the offline geocoder), and deadline values of the SLA rules."""

import csv
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.intake import domain
from shared.geo import ChinaGeocoder
from shared.sla import SlaClock, SlaPolicy, ticket_deadlines
from shared.tenancy import Principal
from shared.tenants import TenantDirectory

DATA = Path(__file__).resolve().parents[2] / "data" / "service_requests_sample.csv"
TZ = ZoneInfo("Asia/Shanghai")
HQ = Principal("hq", "hq")


@pytest.fixture(scope="module")
def placed():
    directory = TenantDirectory.load()
    geocoder = ChinaGeocoder()
    with open(DATA, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 300
    return [(row, domain.place(geocoder.parse(row["address"]), directory, HQ)) for row in rows]


def test_tenant_of_every_unambiguous_row(placed):
    wrong = [
        (r["request_id"], r["address"], r["exp_territory_center_id"], p.tenant_id)
        for r, p in placed
        if r["address_form"] != "district_only_ambiguous" and p.tenant_id != r["exp_territory_center_id"]
    ]
    assert wrong == []
    assert sum(1 for r, _ in placed if r["address_form"] != "district_only_ambiguous") == 297


def test_tier_consistent_with_province(placed):
    wrong = []
    for r, p in placed:
        if r["address_form"] == "district_only_ambiguous":
            continue
        same = r["exp_same_province_as_territory_center"] == "True"
        ok = p.tier in ("local", "in_province") if same else p.tier == "out_of_province"
        if not ok:
            wrong.append((r["request_id"], r["address"], same, p.tier))
    assert wrong == []


def test_district_only_ambiguous_rows_go_to_triage(placed):
    amb = [(r, p) for r, p in placed if r["address_form"] == "district_only_ambiguous"]
    assert len(amb) == 3
    for r, p in amb:
        assert p.tenant_id == domain.TRIAGE_TENANT == "HQ", r["address"]
        assert p.ambiguous and p.tier is None and p.triage_reason


def test_center_registering_outside_its_territory_is_refused():
    from shared.errors import ValidationFailed

    geo = ChinaGeocoder().parse("山东省济南市历下区经十路1号")
    with pytest.raises(ValidationFailed) as exc:
        domain.place(geo, TenantDirectory.load(), Principal("a", "center", tenant="C01"))
    assert "address" in exc.value.fields


def _local(dt):
    return dt.astimezone(TZ).replace(tzinfo=None)


@pytest.mark.parametrize(
    "received,forward",
    [
        ("2025-09-30T17:59:59+08:00", datetime(2025, 9, 30, 18, 59, 59)),  # before the cutoff: within 1 h
        ("2025-09-30T18:00:00+08:00", datetime(2025, 10, 9, 9, 30)),  # after: first day after 国庆/中秋
        ("2025-09-27T10:00:00+08:00", datetime(2025, 9, 28, 9, 30)),  # Saturday: 28 Sep (Sun) is 调休
        ("2025-09-28T10:00:00+08:00", datetime(2025, 9, 28, 11, 0)),  # the adjusted working Sunday
    ],
)
def test_web_forward_deadline_across_national_day(received, forward):
    d = ticket_deadlines(
        SlaClock(),
        SlaPolicy(),
        kind="repair",
        channel="web",
        received_at=datetime.fromisoformat(received),
        tier="local",
    )
    assert _local(d["forward"]) == forward


@pytest.mark.parametrize(
    "address,tier,onsite",
    [
        ("湖北省武汉市洪山区珞喻路1号", "local", datetime(2025, 6, 11, 10, 0)),  # 24 h
        ("湖北省宜昌市西陵区东山大道1号", "in_province", datetime(2025, 6, 12, 10, 0)),  # 2 working days
        ("湖南省长沙市岳麓区麓山南路2号", "out_of_province", datetime(2025, 6, 17, 10, 0)),  # 5 working days
    ],
)
def test_tier_and_onsite_deadline_for_c01(address, tier, onsite):
    directory = TenantDirectory.load()
    p = domain.place(ChinaGeocoder().parse(address), directory, Principal("a", "center", tenant="C01"))
    assert (p.tenant_id, p.tier) == ("C01", tier)
    d = ticket_deadlines(
        SlaClock(),
        SlaPolicy.from_dict(directory.sla_policy_dict("C01")),
        kind="repair",
        channel="hotline",
        received_at=datetime(2025, 6, 10, 10, 0, tzinfo=TZ),
        tier=p.tier,
    )
    assert _local(d["onsite"]) == onsite
