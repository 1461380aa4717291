"""QA report files: charts render as valid PNG/SVG of real size, CSV and XLSX round-trip."""

import csv
import io
import struct
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from services.qa import complaint_rules, domain, reports, scorecard

PNG = b"\x89PNG\r\n\x1a\n"


def _report(kind, rows, columns):
    return {"kind": kind, "title": reports.TITLES[kind], "scope": "C01", "rows": rows, "columns": columns}


REPORTS = [
    _report(
        "ontime",
        [
            {
                "tenant_id": t,
                "tier": tier,
                "visits": 10,
                "on_time": n,
                "late": 10 - n,
                "not_recorded": 0,
                "on_time_pct": Decimal(n * 10),
                "onsite_breaches": 10 - n,
            }
            for t, tier, n in (
                ("C01", "local", 9),
                ("C01", "in_province", 7),
                ("C02", "local", 8),
                ("C02", "out_of_province", 5),
            )
        ],
        [["tenant_id", "center"], ["tier", "tier"], ["on_time_pct", "on time %"]],
    ),
    _report(
        "callbacks",
        [
            {
                "tenant_id": "C01",
                "stratum": s,
                "mode": domain.STRATUM_MODE[s],
                "planned": 20,
                "done_on_time": 12,
                "done_late": 3,
                "overdue": 2,
                "open": 3,
                "negative": 1,
                "completion_pct": Decimal("88.2"),
                "on_time_pct": Decimal("70.6"),
            }
            for s in ("franchised", "self_run", "hq")
        ],
        [["tenant_id", "center"], ["stratum", "tier"], ["planned", "planned"]],
    ),
    _report(
        "satisfaction",
        [
            {"tenant_id": t, "month": m, "answers": 10, "average": Decimal(a), "negative": 1}
            for t, m, a in (
                ("C01", "2026-09", "4.1"),
                ("C01", "2026-10", "3.6"),
                ("C01", "2026-11", "4.4"),
                ("C02", "2026-10", "3.9"),
            )
        ],
        [["tenant_id", "center"], ["month", "month"], ["average", "average"]],
    ),
    _report(
        "pareto",
        complaint_rules.pareto({"product_quality": 21, "late_service": 12, "attitude": 5, "fees": 2}),
        [["cause", "cause"], ["label", "原因"], ["count", "complaints"]],
    ),
    _report(
        "ranking",
        [
            {
                "outlet_id": f"C01-O0{i}",
                "tenant_id": "C01",
                "score": Decimal(100 - 7 * i),
                "stars": scorecard.stars_for(Decimal(100 - 7 * i)),
                "grade": scorecard.grade_for(Decimal(100 - 7 * i)),
                "rank_nationwide": i,
                "rank_in_tenant": i,
                "jobs": 3,
            }
            for i in range(1, 8)
        ],
        [["rank_nationwide", "rank"], ["outlet_id", "outlet"], ["score", "score"]],
    ),
]


def _png_size(data):
    assert data[:8] == PNG
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("report", REPORTS, ids=[r["kind"] for r in REPORTS])
def test_charts_render(report, tmp_path):
    png = reports.chart(report, "png")
    width, height = _png_size(png)
    assert (width, height) == (990, 550) and len(png) > 15_000
    assert png.rstrip().endswith(b"IEND\xaeB`\x82")
    svg = reports.chart(report, "svg")
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and len(svg) > 10_000
    assert b"<text" in svg and report["title"].encode() in svg  # text stays text (svg.fonttype none)
    (tmp_path / f"{report['kind']}.png").write_bytes(png)


def test_empty_chart_says_so():
    svg = reports.chart(_report("pareto", [], [["cause", "cause"]]), "svg")
    assert b"no data for this selection" in svg
    with pytest.raises(ValueError):
        reports.chart(REPORTS[0], "gif")


@pytest.mark.filterwarnings("ignore:Glyph")  # no CJK font on the machine: PNG would show boxes, SVG keeps text
def test_chinese_labels_stay_text_in_svg():
    report = dict(REPORTS[3], title="投诉原因 Complaint causes")
    svg = reports.chart(report, "svg")
    assert "投诉原因".encode() in svg


def test_csv_and_xlsx():
    text = reports.to_csv(REPORTS[3])
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["cause"], r["原因"], r["complaints"]) for r in rows][0] == ("product_quality", "产品质量", "21")
    wb = load_workbook(io.BytesIO(reports.to_xlsx(REPORTS)))
    assert wb.sheetnames == [r["kind"] for r in REPORTS]
    ws = wb["ranking"]
    assert [c.value for c in ws[1]] == ["rank", "outlet", "score"]
    assert ws["C2"].value == 93 and ws.freeze_panes == "A2"
