"""QA report files: charts render as valid PNG/SVG of real size in the CJK font (Chinese titles,
labels and center/outlet names: glyphs in the PNG, text in the SVG), CSV and XLSX round-trip with
Chinese headers, names beside the ids and coded values in words."""

import csv
import io
import struct
import warnings
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from services.qa import charting, complaint_rules, domain, reports, scorecard
from shared import fonts
from shared.tenants import TenantDirectory

PNG = b"\x89PNG\r\n\x1a\n"
FONT = fonts.cjk_font()  # fonts-wqy-zenhei on the machine (config PDF_FONT empty: the first default installed)
DIRECTORY = TenantDirectory.load()
CENTERS = {c.id: c.name for c in DIRECTORY.centers.values()}
OUTLETS = {o.id: o.name for o in DIRECTORY.outlets.values()}


def _report(kind, rows, columns):
    return dict(reports.build(kind, rows, "C01", CENTERS, OUTLETS), columns=columns)


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
        [["tenant_id", "中心编号"], ["center_name", "中心"], ["tier", "时效等级"], ["on_time_pct", "准时率（%）"]],
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
        [["tenant_id", "中心编号"], ["stratum", "回访层级"], ["mode", "回访方式"], ["planned", "计划回访"]],
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
        [["tenant_id", "中心编号"], ["month", "月份"], ["average", "平均分"]],
    ),
    _report(
        "pareto",
        complaint_rules.pareto({"product_quality": 21, "late_service": 12, "attitude": 5, "fees": 2}),
        [["cause", "原因代码"], ["label", "原因"], ["count", "投诉件数"], ["vital", "关键少数"]],
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
        [["rank_nationwide", "全国排名"], ["outlet_id", "网点编号"], ["outlet_name", "网点"], ["score", "得分"]],
    ),
]


def _png_size(data):
    assert data[:8] == PNG
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("report", REPORTS, ids=[r["kind"] for r in REPORTS])
def test_charts_render(report, tmp_path):
    png = reports.chart(report, "png", FONT)
    width, height = _png_size(png)
    assert (width, height) == (990, 550) and len(png) > 15_000
    assert png.rstrip().endswith(b"IEND\xaeB`\x82")
    svg = reports.chart(report, "svg", FONT)
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and len(svg) > 10_000
    # text stays text (svg.fonttype none): the Chinese title with the center's name, in the WQY family
    texts = ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert f"{report['title']}（武汉区域服务中心）" in texts, texts
    assert "font-family: 'WenQuanYi Zen Hei'" in svg.decode()
    (tmp_path / f"{report['kind']}.png").write_bytes(png)


def _svg_texts(report):
    root = ET.fromstring(reports.chart(report, "svg", FONT))
    return {"".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")}


def test_charts_say_it_in_chinese_with_names():
    ontime = _svg_texts(REPORTS[0])
    assert {"各时效等级上门准时率（武汉区域服务中心）", "本地", "省内", "省外", "时效等级", "准时率（%）"} <= ontime
    assert {"武汉区域服务中心", "济南区域服务中心"} <= ontime and not {"C01", "C02", "local"} & ontime
    callbacks = _svg_texts(REPORTS[1])
    assert {"按时完成", "逾期完成", "逾期未做", "未到期", "回访数", "完成88%"} <= callbacks
    assert "武汉区域服务中心\n特约点" in callbacks or {"武汉区域服务中心", "特约点"} <= callbacks, callbacks
    satisfaction = _svg_texts(REPORTS[2])
    assert {"客户满意度趋势（1-5分）（武汉区域服务中心）", "2026年9月", "平均满意度（1-5分）"} <= satisfaction
    pareto = _svg_texts(REPORTS[3])
    assert {"投诉原因帕累托图（武汉区域服务中心）", "产品质量", "服务不及时", "累计占比（%）"} <= pareto
    assert "product_quality" not in pareto
    ranking = _svg_texts(REPORTS[4])
    assert f"{OUTLETS['C01-O01']} ★★★★" in ranking  # 93 points: four stars and "C01-O01" not in " ".join(ranking)


def test_png_is_drawn_in_the_cjk_font():
    """A glyph the font lacks warns ("Glyph ... missing from font(s)"): with the CJK font none does
    (every Chinese word of the five charts is drawn from it), and matplotlib resolves the family the
    charts name to the WQY file itself; the control shows the default font would have warned."""
    from matplotlib import font_manager

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for report in REPORTS:
            assert reports.chart(report, "png", FONT).startswith(PNG)
    plt = charting.pyplot_in(FONT)
    found = font_manager.findfont(
        font_manager.FontProperties(family=plt.rcParams["font.family"]), fallback_to_default=False
    )
    assert found == str(FONT.path) == "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"
    plt.rcParams["font.family"] = "DejaVu Sans"  # the control: the old labels' font has no Chinese
    fig, ax = plt.subplots()
    try:
        ax.set_title(reports.TITLES["pareto"])
        with pytest.warns(UserWarning, match="missing from font"):
            fig.savefig(io.BytesIO(), format="png")
    finally:
        plt.close(fig)
        charting.pyplot_in(FONT)


def test_a_chart_needs_the_font():
    with pytest.raises(ValueError, match="CJK font"):
        reports.as_file("pareto", [REPORTS[3]], "png", "x.png")
    out = reports.as_file("pareto", [REPORTS[3]], "svg", "x.svg", FONT)
    assert out["content_type"] == "image/svg+xml" and out["encoding"] == "base64"


def test_empty_chart_says_so():
    svg = reports.chart(_report("pareto", [], [["cause", "原因代码"]]), "svg", FONT)
    assert reports.NO_DATA.encode() in svg
    with pytest.raises(ValueError):
        reports.chart(REPORTS[0], "gif", FONT)


def test_build_names_rows_and_scope():
    rows = [{"tenant_id": "C02", "outlet_id": "C02-O01"}, {"tenant_id": "C09", "outlet_id": "C09-O09"}]
    built = reports.build("ranking", rows, None, CENTERS, OUTLETS)
    assert (built["title"], built["scope"], built["scope_name"]) == ("网点评分排名", "all tenants", "全部中心")
    assert built["rows"][0] == dict(rows[0], center_name="济南区域服务中心", outlet_name=OUTLETS["C02-O01"])
    assert (built["rows"][1]["center_name"], built["rows"][1]["outlet_name"]) == ("C09", "C09-O09")  # unknown: the id
    assert "center_name" not in rows[0]  # the rows given are not changed
    assert reports.build("ontime", [], "C01", CENTERS, OUTLETS)["scope_name"] == "武汉区域服务中心"
    # every column of every report is a key its rows have (the names included) and its header is Chinese
    for kind, columns in reports.COLUMNS.items():
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in header) for _, header in columns), kind
    assert ["tenant_id", "中心编号"] in reports.COLUMNS["ontime"] and ["center_name", "中心"] in reports.COLUMNS[
        "ontime"
    ]
    assert ["outlet_id", "网点编号"] in reports.COLUMNS["ranking"] and ["outlet_name", "网点"] in reports.COLUMNS[
        "ranking"
    ]


def test_csv_and_xlsx():
    text = reports.to_csv(REPORTS[3])
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["原因代码"], r["原因"], r["投诉件数"], r["关键少数"]) for r in rows][0] == (
        "product_quality",
        "产品质量",
        "21",
        "是",
    )
    assert rows[-1]["关键少数"] == "否"
    callbacks = list(csv.DictReader(io.StringIO(reports.to_csv(REPORTS[1]).lstrip("\ufeff"))))
    assert [(r["回访层级"], r["回访方式"]) for r in callbacks] == [
        ("特约点", "自行回访"),
        ("自办点", "抽查回访"),
        ("总部抽查", "交叉回访"),
    ]
    ontime = list(csv.DictReader(io.StringIO(reports.to_csv(REPORTS[0]).lstrip("\ufeff"))))
    assert [(r["中心编号"], r["中心"], r["时效等级"]) for r in ontime][:2] == [
        ("C01", "武汉区域服务中心", "本地"),
        ("C01", "武汉区域服务中心", "省内"),
    ]
    assert reports.shown("tier", "unknown") == "未知" and reports.shown("tier", None) is None
    wb = load_workbook(io.BytesIO(reports.to_xlsx(REPORTS)))
    assert wb.sheetnames == ["上门准时率", "回访完成情况", "客户满意度", "投诉原因帕累托", "网点评分排名"]
    ws = wb["网点评分排名"]
    assert [c.value for c in ws[1]] == ["全国排名", "网点编号", "网点", "得分"]
    assert (ws["B2"].value, ws["C2"].value, ws["D2"].value) == ("C01-O01", OUTLETS["C01-O01"], 93)
    assert ws.freeze_panes == "A2" and ws.column_dimensions["C"].width >= 2 * len(OUTLETS["C01-O01"])
    assert ws.cell(ws.max_row, 1).value == "网点评分排名（武汉区域服务中心）"
