"""The files of the monthly and quarterly reports (`monthly_report`): an XLSX workbook (openpyxl, one
sheet per table) and a PDF (reportlab, tables in the embedded CJK TrueType font of shared.fonts, as
the complaint report and the statements print, so the Chinese is real text a reader can search and
copy; the charts drawn by matplotlib in the same font and embedded as images).

`tables(report)` is what both print: ``[(sheet, title, headers, rows)]`` with the cells as text or
numbers, Chinese headers, center and outlet names (not codes).
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from services.qa.charting import pyplot_in
from services.qa.monthly_report import HQ_SCOPE, SECTIONS, pct_text
from shared.fonts import FontFile, reportlab_font

REQUIRED_GLYPHS = "服务月报中心满意度按时率投诉本地省内省外合计0123456789%ABCabc-—"
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
SECTION_NAMES = {
    "served": "客户与产品",
    "sla": "SLA按时率",
    "onsite": "上门准时率",
    "complaints": "投诉分析",
    "callbacks": "回访与满意度",
    "outlets": "网点考评",
    "parts": "备件",
    "money": "费用结算",
}
NOT_AVAILABLE = "未取得"
NOT_WRITTEN = "（未填写）"
XLSX_ONLY = {"客户与产品档案"}  # a row per customer and machine: the workbook's, too long for the PDF

Table = tuple[str, str, list[str], list[list[Any]]]


def _cell(value: Any) -> Any:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(rows: list[list[Any]]) -> list[list[Any]]:
    return [[_cell(v) for v in row] for row in rows]


# ---------------------------------------------------------------- what is printed
def tables(report: dict[str, Any]) -> list[Table]:
    if report["kind"] == "quarterly":
        return _quarterly_tables(report)
    if report["tenant_id"] == HQ_SCOPE:
        return _hq_tables(report)
    return _center_tables(report)


def _center_tables(r: dict[str, Any]) -> list[Table]:
    out: list[Table] = []
    h = r["headline"]
    summary = [
        ["中心", r["center_name"]],
        ["月份", r["period"]],
        ["受理工单", h["tickets"]],
        ["服务客户", h["customers"]],
        ["SLA按时率（合计）", pct_text(h["sla_all_pct"])],
        ["上门准时率", pct_text(h["onsite_pct"])],
        ["投诉", h["complaints"]],
        ["回访完成率", pct_text(h["callbacks_pct"])],
        ["平均满意度（1-5）", h["satisfaction"]],
        ["已评网点 / 未评网点", f"{h['outlets_rated']} / {h['outlets_not_rated']}"],
        ["中心考核（得分、等级）", h["assessment"]],
        ["中心排名", h["assessment_rank"]],
    ]
    summary += [
        [f"{SECTION_NAMES[name]}：{NOT_AVAILABLE}", r[name]["error"]]
        for name in SECTIONS
        if not r[name].get("available")
    ]
    out.append(("概要", r["title"], ["项目", "数值"], summary))
    out.append(_written("书面报告", "书面报告（技术问题、产品问题、客户意见、竞争对手动态）", r["written"]))
    s = r["served"]
    if s.get("available"):
        rows = [[x["product_line"], x["tickets"], x["customers"], x["models"]] for x in s["by_product"]]
        rows += [[f"（{x['label']}）", x["tickets"], "", ""] for x in s["by_kind"]]
        out.append(("客户与产品", "服务客户与产品", ["产品线 / 类别", "工单", "客户", "机型"], rows))
        rows = [
            [x["customer_name"], x["phone"], x["product_line"], x["model"], x["serial_no"], x["tickets"]]
            for x in s["files"]
        ]
        headers = ["客户", "电话", "产品线", "型号", "出厂编号", "工单"]
        out.append(("客户与产品档案", "本月服务的客户与产品档案", headers, rows))
    if r["sla"].get("available"):
        rows = [
            [x["label"], x["met"], x["met_late"], x["breached"], x["at_risk"], x["open"], pct_text(x["on_time_pct"])]
            for x in r["sla"]["rows"]
        ]
        out.append(
            ("SLA按时率", "各级SLA按时率", ["级别", "按时", "超时完成", "违约", "临近", "未到期", "按时率"], rows)
        )
    if r["onsite"].get("available"):
        rows = [
            [x["label"], x["visits"], x["on_time"], x["late"], x["not_recorded"], pct_text(x["on_time_pct"])]
            for x in r["onsite"]["rows"]
        ]
        out.append(("上门准时率", "上门准时率（按级别）", ["级别", "上门", "准时", "迟到", "未记录", "准时率"], rows))
    c = r["complaints"]
    if c.get("available"):
        rows = [
            [x["label"], x["count"], f"{x['share_pct']}%", f"{x['cumulative_pct']}%", x["vital"]] for x in c["pareto"]
        ]
        cycle = c.get("cycle") or {}
        closed = ""
        if cycle.get("closed"):
            closed = f"；结案 {cycle['closed']} 件，平均 {cycle['average_days']} 天（目标 {cycle['target_days']} 天）"
        out.append(
            (
                "投诉帕累托",
                f"投诉原因（帕累托），共 {c['total']} 件{closed}",
                ["原因", "件数", "占比", "累计占比", "关键少数"],
                rows,
            )
        )
    cb = r["callbacks"]
    if cb.get("available"):
        rows = [
            ["计划回访", cb["planned"]],
            ["按时完成", cb["done_on_time"]],
            ["超时完成", cb["done_late"]],
            ["逾期未回访", cb["overdue"]],
            ["未到期", cb["open"]],
            ["回访完成率", pct_text(cb["completion_pct"])],
            ["满意度答复", cb["answers"]],
            ["平均满意度（1-5）", cb["average"]],
            ["满意（4-5分）占比", pct_text(cb["satisfied_pct"])],
            ["不满意回访", cb["negative"]],
        ]
        rows += [[f"{k}分", v] for k, v in cb["scores"].items()]
        out.append(("回访与满意度", "回访与满意度", ["项目", "数值"], rows))
    o = r["outlets"]
    if o.get("available"):
        rows = [[x["rank"], x["name"], x["score"], "★" * (x["stars"] or 0), x["grade"], x["jobs"]] for x in o["rated"]]
        rows += [["未评", x["name"], None, "", "", x["jobs"]] for x in o["not_rated"]]
        title = "网点考评" if o["published"] else "网点考评（本月考评尚未发布）"
        out.append(("网点考评", title, ["名次", "网点", "得分", "星级", "等级", "工单"], rows))
    if r["parts"].get("available"):
        rows = [[x["label"], x["movements"], x["quantity"], x["part_numbers"]] for x in r["parts"]["rows"]]
        out.append(("备件", "备件收发", ["类别", "笔数", "数量", "料号数"], rows))
    m = r["money"]
    if m.get("available"):
        rows = [
            ["服务费申报（笔）", m["claims"]],
            ["申报金额（元）", m["claimed"]],
            ["审核通过金额（元）", m["approved"]],
            ["结算单（张）", m["statements"]],
            ["结算金额（元）", m["statement_total"]],
            ["已付（元）", m["paid"]],
            ["未付（元）", m["outstanding"]],
        ]
        out.append(("费用结算", "费用与结算", ["项目", "数值"], rows))
    return [(sheet, title, headers, _rows(rows)) for sheet, title, headers, rows in out]


HQ_LINES = (
    ("tickets", "受理工单", None),
    ("customers", "服务客户", None),
    ("sla_local_pct", "SLA按时率·本地", "%"),
    ("sla_in_province_pct", "SLA按时率·省内", "%"),
    ("sla_out_of_province_pct", "SLA按时率·省外", "%"),
    ("sla_all_pct", "SLA按时率·合计", "%"),
    ("onsite_pct", "上门准时率", "%"),
    ("complaints", "投诉", None),
    ("callbacks_planned", "计划回访", None),
    ("callbacks_pct", "回访完成率", "%"),
    ("answers", "满意度答复", None),
    ("satisfaction", "平均满意度（1-5）", None),
    ("assessment", "中心考核（得分、等级）", None),
    ("assessment_rank", "中心排名", None),
    ("outlets_rated", "已评网点", None),
    ("outlets_not_rated", "未评网点", None),
    ("parts_consumed", "备件消耗（件）", None),
    ("claimed", "服务费申报（元）", None),
    ("statement_total", "结算金额（元）", None),
)


def _hq_tables(r: dict[str, Any]) -> list[Table]:
    columns = r["centers"] + [dict(r["total"], center_name="全国合计")]
    rows = [
        [label] + [pct_text(c.get(key)) if unit == "%" else c.get(key) for c in columns]
        for key, label, unit in HQ_LINES
    ]
    out = [("各中心对比", r["title"], ["指标"] + [c["center_name"] for c in columns], rows)]
    c = r["complaints"]
    pareto = [
        [x["label"], x["count"], f"{x['share_pct']}%", f"{x['cumulative_pct']}%", x["vital"]] for x in c["pareto"]
    ]
    out.append(
        (
            "投诉帕累托",
            f"全国投诉原因（帕累托），共 {c['total']} 件",
            ["原因", "件数", "占比", "累计占比", "关键少数"],
            pareto,
        )
    )
    out.append(_written("总部分析", "总部分析报告", r["written"]))
    out.append(
        (
            "书面报告提交",
            "各中心书面报告",
            ["中心", "书面报告"],
            [[x["center_name"], "已提交" if x["written"] else "未提交"] for x in r["centers_written"]],
        )
    )
    if r["missing"]:
        out.append(("未取得", "未取得的数据", ["中心：部分"], [[m] for m in r["missing"]]))
    return [(sheet, title, headers, _rows(rows)) for sheet, title, headers, rows in out]


def _written(sheet: str, title: str, part: dict[str, Any]) -> Table:
    rows: list[list[Any]] = [[x["label"], x["text"] or NOT_WRITTEN] for x in part["lines"]]
    if part.get("written_by"):
        rows.append(["填写人 / 时间", f"{part['written_by']} / {part.get('written_at') or ''}"])
    return (sheet, title, ["项目", "内容"], rows)


def _quarterly_tables(r: dict[str, Any]) -> list[Table]:
    periods = r["months"] + ["quarter"]
    headers = ["中心"]
    for p in periods:
        name = "本季度" if p == "quarter" else f"{int(p[5:])}月"
        headers += [f"{name}答复", f"{name}平均分", f"{name}满意占比", f"{name}不满意"]
    rows = []
    for row in r["rows"]:
        line: list[Any] = [row["center_name"]]
        for p in periods:
            s = row[p]
            line += [s["answers"], s["average"], pct_text(s["satisfied_pct"]), s["negative"]]
        rows.append(line)
    return [("满意度", r["title"], headers, _rows(rows))]


# ---------------------------------------------------------------- XLSX
def to_xlsx(report: dict[str, Any]) -> bytes:
    """One sheet per table: the title on row 1, bold headers on row 2 (frozen), then the rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for sheet, title, headers, rows in tables(report):
        ws = wb.create_sheet(sheet[:31])
        ws.append([title])
        ws["A1"].font = Font(bold=True, size=13)
        ws.append(headers)
        for cell in ws[2]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="305496")
        for row in rows:
            ws.append(row)
        ws.freeze_panes = "A3"
        for i, header in enumerate(headers, start=1):
            width = max([cell_width(header)] + [cell_width(row[i - 1]) for row in rows])
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 40)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def cell_width(value: Any) -> int:
    """Columns in a spreadsheet: a Chinese character takes two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value))


# ---------------------------------------------------------------- charts
def charts(report: dict[str, Any], font: FontFile) -> list[bytes]:
    """PNG charts: the SLA on-time share by tier and the complaints' Pareto (with the cumulative
    line); for HQ the centers' SLA share side by side."""
    plt = pyplot_in(font)
    drawn = []
    if report["kind"] == "monthly" and report["tenant_id"] != HQ_SCOPE and report["sla"].get("available"):
        rows = [r for r in report["sla"]["rows"] if r["on_time_pct"] is not None]
        if rows:
            drawn.append(
                _bars(plt, [r["label"] for r in rows], [float(r["on_time_pct"]) for r in rows], "各级SLA按时率（%）")
            )
    if report["kind"] == "monthly" and report["tenant_id"] == HQ_SCOPE:
        cols = [c for c in report["centers"] if c.get("sla_all_pct") is not None]
        if cols:
            drawn.append(
                _bars(
                    plt,
                    [c["center_name"] for c in cols],
                    [float(c["sla_all_pct"]) for c in cols],
                    "各中心SLA按时率（%）",
                )
            )
    if report["kind"] == "monthly" and report["complaints"].get("pareto"):
        drawn.append(_pareto(plt, report["complaints"]["pareto"]))
    return drawn


def _png(plt, fig) -> bytes:
    buf = io.BytesIO()
    try:
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=110)
    finally:
        plt.close(fig)
    return buf.getvalue()


def _bars(plt, labels: list[str], values: list[float], title: str) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.bar(labels, values, color="#2E75B6")
    ax.bar_label(bars, fmt="%.1f%%", fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_title(title, fontsize=11)
    ax.tick_params(axis="x", labelsize=8)
    return _png(plt, fig)


def _pareto(plt, rows: list[dict[str, Any]]) -> bytes:
    fig, ax = plt.subplots(figsize=(7, 3.4))
    xs = list(range(len(rows)))
    ax.bar(xs, [r["count"] for r in rows], color=["#C00000" if r["vital"] else "#A5A5A5" for r in rows])
    ax.set_xticks(xs, [r["label"] for r in rows], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("件数")
    ax2 = ax.twinx()
    ax2.plot(xs, [float(r["cumulative_pct"]) for r in rows], color="#2E75B6", marker="o")
    ax2.axhline(80, color="#2E75B6", lw=0.6, ls="--")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("累计占比（%）")
    ax.set_title("投诉原因帕累托图（红色：关键少数）", fontsize=11)
    return _png(plt, fig)


# ---------------------------------------------------------------- PDF
def to_pdf(report: dict[str, Any], font: FontFile) -> bytes:
    """The report as a PDF (A4; HQ's side-by-side tables landscape) in `font`."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_CENTER
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    name = reportlab_font(font, REQUIRED_GLYPHS, "MonthlyCJK")
    wide = report["tenant_id"] == HQ_SCOPE or report["kind"] == "quarterly"
    pagesize = landscape(A4) if wide else A4
    small = wide and report["kind"] == "quarterly"
    # wordWrap CJK: a line breaks between any two characters, so an unbroken run (a long number, a
    # pasted string) wraps inside its cell instead of running past the page's edge
    text = ParagraphStyle(
        "text", fontName=name, fontSize=7 if small else 8.5, leading=10 if small else 11, wordWrap="CJK"
    )
    heading = ParagraphStyle("heading", fontName=name, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
    title = ParagraphStyle("title", fontName=name, fontSize=17, leading=22, alignment=TA_CENTER)

    def p(value: Any) -> Paragraph:
        return Paragraph(escape(str(value)), text)

    buf = io.BytesIO()
    margin = 36
    width = pagesize[0] - 2 * margin
    doc = SimpleDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=report["title"],
        author="fieldservice qa",
        initialFontName=name,
    )
    grid = colors.HexColor("#9a9a9a")
    style = TableStyle(
        [
            ("FONTNAME", (0, 0), (-1, -1), name),
            ("BOX", (0, 0), (-1, -1), 0.6, grid),
            ("INNERGRID", (0, 0), (-1, -1), 0.3, grid),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4f0")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
    )
    story: list[Any] = [Paragraph(escape(report["title"]), title), Spacer(1, 10)]
    for sheet, caption, headers, rows in tables(report):
        if sheet in XLSX_ONLY:
            continue
        story.append(Paragraph(escape(caption), heading))
        data = [[p(h) for h in headers]] + [[p(v) for v in row] for row in rows]
        if len(data) == 1:
            data.append([p("（无）")] + [p("") for _ in headers[1:]])
        first = 0.22 if len(headers) > 2 else 0.4
        rest = (1 - first) / max(len(headers) - 1, 1)
        # splitInRow: a row taller than a page (a long written part) goes on over the next page
        # instead of failing the whole document (reportlab's LayoutError)
        table = PdfTable(
            data, colWidths=[width * first] + [width * rest] * (len(headers) - 1), repeatRows=1, splitInRow=1
        )
        table.setStyle(style)
        story.append(table)
    for png in charts(report, font):
        story += [Spacer(1, 10), Image(io.BytesIO(png), width=width * 0.8, height=width * 0.8 * 3.3 / 7)]
    doc.build(story)
    return buf.getvalue()
