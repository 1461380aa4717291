"""QA through the gateway by role: callback work lists, results, reports (CSV, XLSX, PNG, SVG),
scorecards; tenancy (C01 vs C02, outlet vs outlet, HQ all) and bad input."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import timedelta
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ, wait_for
from tests.qa_fixtures import now_utc, qa_config, qa_platform, send, visit  # noqa: F401

API = "/api/v1/qa"
SH = ZoneInfo("Asia/Shanghai")
O1 = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
O2 = Principal("o2", "outlet", tenant="C01", outlet="C01-O02")
PNG = b"\x89PNG\r\n\x1a\n"


def _error(r, status, field=None):
    assert r.status_code == status, r.text
    err = r.json()["error"]
    if field:
        assert field in err["fields"], err
    return err


def _seed(platform, send):
    """Jobs in two centers: C01-O01 franchised (5), C01-O05 self-run (4), C02-O01 franchised (3), each
    its own ticket (so each a seven-day tracking call of its center)."""
    at = now_utc() - timedelta(hours=3)
    jobs = [("C01", "C01-O01")] * 5 + [("C01", "C01-O05")] * 4 + [("C02", "C02-O01")] * 3
    for i, (tenant, outlet) in enumerate(jobs):
        send(
            "dispatch",
            "visit.completed",
            visit(
                f"a{i:02d}", f"ta{i:02d}", outlet, at + timedelta(minutes=i), tenant=tenant, onsite_on_time=i % 4 != 0
            ),
        )

    def planned():
        r = platform.get(f"{API}/callbacks", HQ, params={"caller": "all", "status": "all"})
        return r.json()["total"] >= 5 + 2 + 3 + 1 + 1 + 1 + 12 and r.json()

    return wait_for(planned, what="callbacks planned")


def test_work_lists_results_and_tenancy(qa_platform, send):
    everything = _seed(qa_platform, send)
    # 5 + 2 (50% of 4) + 3, HQ: 1 + 1 + 1 (20% of 5, 4, 3), and 12 tracking calls
    assert everything["total"] == 25
    tracked = qa_platform.get(f"{API}/callbacks", C01, params={"purpose": "tracking"}).json()
    assert tracked["total"] == 9 and {(c["caller"], c["mode"]) for c in tracked["items"]} == {("C01", "own")}
    c01 = qa_platform.get(f"{API}/callbacks", C01, params={"purpose": "service"}).json()
    c02 = qa_platform.get(f"{API}/callbacks", C02, params={"purpose": "service"}).json()
    hq = qa_platform.get(f"{API}/callbacks", HQ).json()
    assert c01["total"] == 7 and {c["caller"] for c in c01["items"]} == {"C01"}
    assert {(c["outlet_id"], c["mode"]) for c in c01["items"]} == {("C01-O01", "own"), ("C01-O05", "sampled")}
    assert c02["total"] == 3 and {c["tenant_id"] for c in c02["items"]} == {"C02"}
    assert hq["total"] == 3 and {c["mode"] for c in hq["items"]} == {"cross"}
    # a center asking for HQ's list still gets its own
    assert qa_platform.get(f"{API}/callbacks", C01, params={"caller": "HQ"}).json()["total"] == 7 + 9
    # outlets have no callback work
    _error(qa_platform.get(f"{API}/callbacks", O1), 403)

    mine = c01["items"][0]
    cross_c01 = next(c for c in hq["items"] if c["tenant_id"] == "C01")
    # C02 cannot see or record C01's callback; C01 cannot make HQ's cross callback
    _error(qa_platform.get(f"{API}/callbacks/{mine['id']}", C02), 404)
    _error(qa_platform.post(f"{API}/callbacks/{mine['id']}/result", C02, json={"satisfaction": 5}), 404)
    _error(qa_platform.post(f"{API}/callbacks/{cross_c01['id']}/result", C01, json={"satisfaction": 5}), 403)
    _error(qa_platform.post(f"{API}/callbacks/{mine['id']}/result", O1, json={"satisfaction": 5}), 403)
    # bad input names the field and changes nothing
    _error(qa_platform.post(f"{API}/callbacks/{mine['id']}/result", C01, json={"satisfaction": 0}), 422, "satisfaction")
    _error(
        qa_platform.post(f"{API}/callbacks/{mine['id']}/result", C01, json={"satisfaction": 3, "colour": 1}),
        422,
        "colour",
    )
    _error(
        qa_platform.post(
            f"{API}/callbacks/{mine['id']}/result",
            C01,
            json={"satisfaction": 3, "at": (now_utc() + timedelta(days=1)).isoformat()},
        ),
        422,
        "at",
    )
    _error(qa_platform.post(f"{API}/callbacks/{mine['id']}/result", C01, data="{not json"), 400)
    assert qa_platform.get(f"{API}/callbacks/{mine['id']}", C01).json()["status"] == "planned"

    r = qa_platform.post(
        f"{API}/callbacks/{mine['id']}/result",
        C01,
        json={
            "satisfaction": 4,
            "onsite_within_24h": True,
            "service_delivered": True,
            "fee_schedule_shown": True,
            "reason_codes": ["fast"],
            "comment": "满意",
        },
    )
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    r = qa_platform.post(
        f"{API}/callbacks/{cross_c01['id']}/result",
        HQ,
        json={"satisfaction": 2, "service_delivered": True, "reason_codes": ["attitude"]},
    )
    assert r.json()["status"] == "negative"
    _error(
        qa_platform.post(f"{API}/callbacks/{cross_c01['id']}/close", HQ, json={"outcome": "maybe", "note": "x"}),
        422,
        "outcome",
    )
    r = qa_platform.post(
        f"{API}/callbacks/{cross_c01['id']}/close", HQ, json={"outcome": "upheld", "note": "态度问题属实, 已约谈网点"}
    )
    assert r.json()["status"] == "closed" and r.json()["close_outcome"] == "upheld"

    # overdue: nothing yet; once the product clock passes the due dates, listed and counted
    assert qa_platform.get(f"{API}/callbacks/overdue", C01).json()["count"] == 0
    from shared import clock

    clock.advance(timedelta(days=10))
    try:
        over = qa_platform.get(f"{API}/callbacks/overdue", C01).json()
        # C01's: 6 service calls and 9 tracking calls (one of them the negative cross callback's follow-up)
        assert over["count"] == 15 and over["by_tenant"] == {"C01": 15} and len(over["items"]) == 15
        assert all(c["overdue"] for c in over["items"])
        every = qa_platform.get(f"{API}/callbacks/overdue", HQ, params={"caller": "all"}).json()
        # HQ's: C01-O05's and C02's cross callbacks are still to make
        assert every["by_tenant"] == {"C01": 16, "C02": 7} and every["by_caller"] == {"C01": 15, "C02": 6, "HQ": 2}
    finally:
        clock.reset()

    # care calls: a center plans its own tenant's 20% list, not another's
    month = now_utc().astimezone(SH).strftime("%Y-%m")
    r = qa_platform.post(f"{API}/care-calls", C01, json={"month": month})
    assert r.json() == {"C01": {"customers": 9, "planned": 2, "listed": 2, "due_at": r.json()["C01"]["due_at"]}}
    _error(qa_platform.post(f"{API}/care-calls", C01, json={"month": month, "tenant_id": "C02"}), 403)
    _error(qa_platform.post(f"{API}/care-calls", C01, json={"month": "2026-13"}), 422, "month")
    again = qa_platform.post(f"{API}/care-calls", C01, json={"month": month}).json()
    assert again["C01"]["planned"] == 0 and again["C01"]["listed"] == 2  # idempotent


def test_reports_and_scorecards_by_role(qa_platform, send):
    _seed(qa_platform, send)
    month = now_utc().astimezone(SH).strftime("%Y-%m")
    # findings: a center records for its own outlets only
    r = qa_platform.post(
        f"{API}/findings", C01, json={"outlet_id": "C01-O01", "kind": "no_periodic_inspection", "note": "本月未巡查"}
    )
    assert r.status_code == 201 and r.json()["points"] == -2, r.text
    _error(
        qa_platform.post(f"{API}/findings", C01, json={"outlet_id": "C02-O01", "kind": "late_feedback", "note": "x"}),
        422,
        "outlet_id",
    )
    _error(
        qa_platform.post(
            f"{API}/findings", C01, json={"outlet_id": "C01-O01", "kind": "complaint_company", "note": "x"}
        ),
        422,
        "kind",
    )
    _error(
        qa_platform.post(f"{API}/findings", O1, json={"outlet_id": "C01-O01", "kind": "late_feedback", "note": "x"}),
        403,
    )
    _error(qa_platform.post(f"{API}/scorecards/publish", C01, json={"month": month}), 403)
    r = qa_platform.post(f"{API}/scorecards/publish", HQ, json={"month": month})
    assert r.status_code == 200 and r.json()["outlets"] == 36, r.text

    # scorecards: outlet own only; center its tenant; HQ all
    assert [c["outlet_id"] for c in qa_platform.get(f"{API}/scorecards", O1, params={"month": month}).json()] == [
        "C01-O01"
    ]
    assert len(qa_platform.get(f"{API}/scorecards", C01, params={"month": month}).json()) == 7
    assert len(qa_platform.get(f"{API}/scorecards", HQ, params={"month": month}).json()) == 36
    own = qa_platform.get(f"{API}/scorecards/C01-O01/{month}", O1).json()
    assert own["score"] == "98.0" and own["rank_in_tenant"] == 2  # C01-O05 (100) the only other rated
    mgmt = next(line for line in own["lines"] if line["line"] == "service_management")
    assert mgmt["items"][0]["occurrences"][0]["facts"][0]["note"] == "本月未巡查"
    _error(qa_platform.get(f"{API}/scorecards/C01-O02/{month}", O1), 403)
    _error(qa_platform.get(f"{API}/scorecards/C01-O01/{month}", C02), 404)
    facts = qa_platform.get(f"{API}/scorecards/C01-O01/{month}/facts", O1).json()
    assert [f["kind"] for f in facts] == ["no_periodic_inspection"]
    _error(qa_platform.get(f"{API}/scorecards/C01-O01/{month}/facts", O2), 403)
    _error(qa_platform.get(f"{API}/scorecards", HQ, params={"month": "March"}), 422, "month")
    # the not rated are listed after the ranked, apart: C02-O02 had no job this month
    ranked = qa_platform.get(f"{API}/scorecards", HQ, params={"month": month}).json()
    rated = [c["outlet_id"] for c in ranked if c["rated"]]
    assert rated == ["C01-O05", "C02-O01", "C01-O01"], [(c["outlet_id"], c["score"]) for c in ranked[:3]]
    assert [c["rank_nationwide"] for c in ranked[:3]] == [1, 1, 3] and len(ranked) == 36
    assert not any(c["rated"] for c in ranked[3:])
    idle = next(c for c in ranked if c["outlet_id"] == "C02-O02")
    assert (idle["score"], idle["stars"], idle["grade"], idle["rank_nationwide"]) == (None, None, None, None)
    # the center's own facts: its tenant (none missed here), not an outlet's; a bad month names the field
    assert qa_platform.get(f"{API}/center-facts", C01, params={"month": month}).json() == []
    _error(qa_platform.get(f"{API}/center-facts", O1, params={"month": month}), 403)
    _error(qa_platform.get(f"{API}/center-facts", C01, params={"month": "2026-13"}), 422, "month")
    _error(qa_platform.get(f"{API}/center-facts", C01), 422, "month")

    # reports: json, csv, xlsx, png, svg; a center sees its tenant, HQ all, outlets nothing
    c01 = qa_platform.get(f"{API}/reports/ontime", C01).json()
    assert {r["tenant_id"] for r in c01["rows"]} == {"C01"}
    hq = qa_platform.get(f"{API}/reports/ontime", HQ).json()
    assert {r["tenant_id"] for r in hq["rows"]} == {"C01", "C02"}
    row = next(r for r in hq["rows"] if r["tenant_id"] == "C01")
    assert (row["visits"], row["on_time"], row["late"], row["on_time_pct"]) == (9, 6, 3, "66.7")
    assert (row["center_name"], c01["scope"], c01["scope_name"], hq["scope_name"]) == (
        "武汉区域服务中心",
        "C01",
        "武汉区域服务中心",
        "全部中心",
    )
    assert (
        c01["title"] == "各时效等级上门准时率" and ["tier", "时效等级"] in c01["columns"] and row["tier"] == "unknown"
    )  # codes
    _error(qa_platform.get(f"{API}/reports/ontime", O1), 403)
    _error(qa_platform.get(f"{API}/reports/bogus", HQ), 404)
    _error(qa_platform.get(f"{API}/reports/ontime", HQ, params={"format": "pdf"}), 422, "format")

    text = qa_platform.get(f"{API}/reports/callbacks", C01, params={"format": "csv"})
    assert text.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text.content.decode("utf-8-sig"))))
    assert {(r["中心编号"], r["中心"]) for r in rows} == {("C01", "武汉区域服务中心")}
    assert sum(int(r["计划回访"]) for r in rows) == 9 + 9  # and the tracking calls
    assert {r["回访层级"] for r in rows} >= {"特约点", "自办点"}

    xlsx = qa_platform.get(f"{API}/reports/all", HQ, params={"format": "xlsx"})
    wb = load_workbook(io.BytesIO(xlsx.content))
    assert wb.sheetnames == ["上门准时率", "回访完成情况", "客户满意度", "投诉原因帕累托", "网点评分排名"]
    ranking = wb["网点评分排名"]
    assert ranking.max_row >= 37 and (ranking["C1"].value, ranking["D1"].value) == ("网点编号", "网点")
    assert {(r[2].value, r[3].value) for r in ranking.iter_rows(min_row=2) if r[2].value == "C01-O01"} == {
        ("C01-O01", "襄阳新阳特约服务站")
    }

    png = qa_platform.get(f"{API}/reports/ranking", HQ, params={"format": "png", "month": month})
    assert png.headers["Content-Type"] == "image/png"
    assert png.content.startswith(PNG) and len(png.content) > 10_000
    svg = qa_platform.get(f"{API}/reports/callbacks", C01, params={"format": "svg"})
    root = ET.fromstring(svg.content)
    assert root.tag.endswith("svg") and len(svg.content) > 5_000
    texts = {"".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert "回访完成情况（武汉区域服务中心）" in texts and "按时完成" in texts  # Chinese, text as text
    assert "武汉区域服务中心".encode() in svg.content and "济南区域服务中心".encode() not in svg.content
    assert b"WenQuanYi Zen Hei" in svg.content  # the CJK font of config PDF_FONT (empty: the installed one)
