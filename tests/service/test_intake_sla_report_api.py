"""The SLA report through the API (GET /api/v1/sla/report): HQ sees every center's deadlines per
tier and period, a center its own only; the answer is what the OpenAPI document says; a wrong
parameter is a 422 naming it."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared import clock
from tests.conftest import C01, C02, HQ
from tests.openapi_check import AnswerCheck

API = "/api/v1"
REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "报表客户",
    "phone": "13800001111",
    "product_line": "数控车床",
    "fault": "主轴异响",
}


@pytest.fixture
def mid_month():
    """A Wednesday in the middle of a month: the deadlines registered now fall due in this month."""
    clock.travel_to(datetime(2026, 12, 9, 10, 0, tzinfo=clock.LOCAL_TZ))
    yield
    clock.reset()


def test_hq_sees_every_center_per_tier_and_a_center_its_own(mid_month, platform):
    for principal, address in (
        (C01, "湖北省武汉市洪山区珞喻路1号"),  # local to Wuhan
        (C01, "湖北省宜昌市西陵区东山大道1号"),  # in Hubei, not local
        (C02, "山东省济南市历下区泉城路1号"),
    ):
        r = platform.post(f"{API}/tickets", principal, json=dict(REPAIR, address=address))
        assert r.status_code == 201, r.text
    check = AnswerCheck(platform.get("/openapi.json").json())
    r = platform.get(f"{API}/sla/report?sla=onsite&period=month&periods=2", HQ)
    assert r.status_code == 200, r.text
    check(r)
    report = r.json()
    assert report["period"] == "month" and len(report["starts"]) == 2 and report["sla"] == "onsite"
    cells = {(c["tenant_id"], c["tier"]): c for c in report["rows"]}
    assert {("C01", "local"), ("C01", "in_province"), ("C02", "local")} <= set(cells)
    assert all(c["open"] + c["at_risk"] == c["total"] == 1 for c in cells.values())  # due later, running
    assert {t["tenant_id"] for t in report["by_tenant"]} == {"C01", "C02"}
    assert sum(t["total"] for t in report["by_tier"] if t["tier"] == "local") == 2
    own = platform.get(f"{API}/sla/report?sla=onsite&period=month&periods=2", C01).json()
    assert {c["tenant_id"] for c in own["rows"]} == {"C01"}
    every = platform.get(f"{API}/sla/report", HQ).json()  # every commitment, by week
    assert every["period"] == "week" and len(every["starts"]) == 12
    assert sum(c["total"] for c in every["rows"]) > sum(c["total"] for c in report["rows"])
    for query, field in (("period=day", "period"), ("periods=0", "periods"), ("sla=lunch", "sla"), ("x=1", "x")):
        r = platform.get(f"{API}/sla/report?{query}", HQ)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (query, r.text)
