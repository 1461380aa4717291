"""Reports for centers and HQ: their rows from the figures `queries` counts, and their files:
CSV, XLSX (openpyxl) and charts (matplotlib, Agg, in the CJK font of `shared.fonts` via `charting`).

A report is ``{"kind", "title", "scope", "scope_name", "columns": [[key, header], ...], "rows": [...]}``
(`build`). Titles, headers and chart labels are Chinese; a row keeps its ids (``tenant_id``,
``outlet_id``: the JSON keys) and carries the names beside them (``center_name``, ``outlet_name``),
which CSV and XLSX print in their own columns and charts show instead of the ids. The files print
coded values in words (tier 本地, stratum 特约点, yes/no 是/否); JSON keeps the codes. A PNG draws
its text in the font's glyphs; an SVG keeps text as text (``svg.fonttype = none``).
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime
from decimal import Decimal

from services.qa import monthly_report
from services.qa.charting import pyplot_in
from services.qa.domain import STRATUM_MODE
from services.qa.report_files import cell_width
from services.qa.sampling import CARE, FRANCHISED, HQ_SAMPLE, SELF_RUN
from shared.events import TIERS
from shared.fonts import FontFile

TITLES = {
    "ontime": "各时效等级上门准时率",
    "callbacks": "回访完成情况",
    "satisfaction": "客户满意度趋势（1-5分）",
    "pareto": "投诉原因帕累托图",
    "ranking": "网点评分排名",
}
#: the XLSX sheet of each report
SHEETS = {
    "ontime": "上门准时率",
    "callbacks": "回访完成情况",
    "satisfaction": "客户满意度",
    "pareto": "投诉原因帕累托",
    "ranking": "网点评分排名",
}
_CENTER = [["tenant_id", "中心编号"], ["center_name", "中心"]]
COLUMNS = {
    "ontime": _CENTER
    + [
        ["tier", "时效等级"],
        ["visits", "上门次数"],
        ["on_time", "准时"],
        ["late", "迟到"],
        ["not_recorded", "未记录到达"],
        ["on_time_pct", "准时率（%）"],
        ["onsite_breaches", "上门超时（SLA违约）"],
    ],
    "callbacks": _CENTER
    + [
        ["stratum", "回访层级"],
        ["mode", "回访方式"],
        ["planned", "计划回访"],
        ["done_on_time", "按时完成"],
        ["done_late", "逾期完成"],
        ["overdue", "逾期未做"],
        ["open", "未到期"],
        ["negative", "不满意"],
        ["completion_pct", "完成率（%）"],
        ["on_time_pct", "按时率（%）"],
    ],
    "satisfaction": _CENTER
    + [
        ["month", "月份"],
        ["answers", "答复数"],
        ["average", "平均分（1-5）"],
        ["negative", "不满意"],
    ]
    + [[f"s{i}", f"{i}分"] for i in range(1, 6)],
    "pareto": [
        ["cause", "原因代码"],
        ["label", "原因"],
        ["count", "投诉件数"],
        ["share_pct", "占比（%）"],
        ["cumulative_pct", "累计占比（%）"],
        ["vital", "关键少数"],
    ],
    "ranking": [
        ["rank_nationwide", "全国排名"],
        ["rank_in_tenant", "中心内排名"],
        ["outlet_id", "网点编号"],
        ["outlet_name", "网点"],
    ]
    + _CENTER
    + [
        ["month", "月份"],
        ["rated", "已评"],
        ["score", "得分"],
        ["stars", "星级"],
        ["grade", "等级"],
        ["jobs", "工单数"],
    ],
}
#: the words of coded values, as the files print them (`shown`)
TIER_NAMES = {t: monthly_report.TIERS[t] for t in TIERS} | {"unknown": "未知"}
STRATUM_NAMES = {FRANCHISED: "特约点", SELF_RUN: "自办点", HQ_SAMPLE: "总部抽查", CARE: "关怀回访"}
MODE_NAMES = {"own": "自行回访", "sampled": "抽查回访", "cross": "交叉回访"}
YES_NO = {True: "是", False: "否"}
VALUE_NAMES: dict[str, dict] = {
    "tier": TIER_NAMES,
    "stratum": STRATUM_NAMES,
    "mode": MODE_NAMES,
    "vital": YES_NO,
    "rated": YES_NO,
}
ALL_CENTERS = "全部中心"
NO_DATA = "所选范围内没有数据"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "svg": "image/svg+xml",
}
CHART_FORMATS = ("png", "svg")


def build(kind: str, rows: list[dict], scope: str | None, centers: dict[str, str], outlets: dict[str, str]) -> dict:
    """The report of `kind` over `rows` for `scope` (a center's id, or None: all the caller sees),
    its rows named (`named`) from the directory's ``{id: name}`` of `centers` and `outlets`."""
    return {
        "kind": kind,
        "title": TITLES[kind],
        "scope": scope or "all tenants",
        "scope_name": centers.get(scope, scope) if scope else ALL_CENTERS,
        "columns": COLUMNS[kind],
        "rows": named(rows, centers, outlets),
    }


def named(rows: list[dict], centers: dict[str, str], outlets: dict[str, str]) -> list[dict]:
    """Each row with ``center_name`` beside its ``tenant_id`` and ``outlet_name`` beside its
    ``outlet_id`` (the id itself when the directory does not know it)."""
    out = []
    for row in rows:
        row = dict(row)
        if "tenant_id" in row:
            row["center_name"] = centers.get(row["tenant_id"], row["tenant_id"])
        if "outlet_id" in row:
            row["outlet_name"] = outlets.get(row["outlet_id"], row["outlet_id"])
        out.append(row)
    return out


def shown(key: str, value):
    """A cell as the files print it: coded values in words, None as empty."""
    if value is None:
        return None
    words = VALUE_NAMES.get(key)
    if words is not None and value in words:
        return words[value]
    return value


# ---------------------------------------------------------------- rows from the figures
_TENTH = Decimal("0.1")


def percent(part, whole) -> Decimal | None:
    """part of whole in %, one decimal (None when there is no whole)."""
    return ratio(part * 100, whole, "0.1")


def ratio(part, whole, places="0.01") -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal(places))


def ontime_rows(visits, breaches) -> list[dict]:
    """`visits`: (tenant, tier, on time: True/False/None, count); `breaches`: (tenant, tier, count).
    One row per (tenant, tier); the on-time rate counts only visits whose arrival was recorded."""
    table = {}
    for tenant, tier, on_time, n in visits:
        row = table.setdefault(
            (tenant, tier or "unknown"),
            {"tenant_id": tenant, "tier": tier or "unknown", "visits": 0, "on_time": 0, "late": 0, "not_recorded": 0},
        )
        row["visits"] += n
        row["on_time" if on_time else "late" if on_time is False else "not_recorded"] += n
    breach_counts = {(tenant, tier or "unknown"): n for tenant, tier, n in breaches}
    rows = []
    for key in sorted(set(table) | set(breach_counts)):
        row = table.get(key) or {
            "tenant_id": key[0],
            "tier": key[1],
            "visits": 0,
            "on_time": 0,
            "late": 0,
            "not_recorded": 0,
        }
        row["on_time_pct"] = percent(row["on_time"], row["on_time"] + row["late"])
        row["onsite_breaches"] = breach_counts.get(key, 0)
        rows.append(row)
    return rows


def callback_rows(figures: list[dict]) -> list[dict]:
    """Completion and on-time rates of each (tenant, tier): of the callbacks that were due (made,
    or overdue); the ones not yet due do not count."""
    rows = []
    for figure in sorted(figures, key=lambda f: (f["tenant_id"], f["stratum"])):
        row = {
            "tenant_id": figure["tenant_id"],
            "stratum": figure["stratum"],
            "mode": STRATUM_MODE.get(figure["stratum"], "own"),
        }
        row.update(
            {k: int(figure[k] or 0) for k in ("planned", "done_on_time", "done_late", "overdue", "open", "negative")}
        )
        made = row["done_on_time"] + row["done_late"]
        row["completion_pct"] = percent(made, made + row["overdue"])
        row["on_time_pct"] = percent(row["done_on_time"], made + row["overdue"])
        rows.append(row)
    return rows


def satisfaction_rows(figures: list[dict]) -> list[dict]:
    """Average satisfaction (two decimals) and the answers per score, per (tenant, month)."""
    rows = []
    for figure in sorted(figures, key=lambda f: (f["tenant_id"], f["month"])):
        row = {
            "tenant_id": figure["tenant_id"],
            "month": figure["month"],
            "answers": figure["answers"],
            "negative": int(figure["negative"] or 0),
            "average": ratio(int(figure["total"] or 0), figure["answers"]),
        }
        row.update({f"s{score}": int(figure[f"s{score}"] or 0) for score in range(1, 6)})
        rows.append(row)
    return rows


def pareto_rows(pareto: list[dict]) -> list[dict]:
    return [
        dict(r, share_pct=(r["share"] * 100).quantize(_TENTH), cumulative_pct=(r["cumulative"] * 100).quantize(_TENTH))
        for r in pareto
    ]


def ranking_rows(scorecards) -> list[dict]:
    return [
        {
            "outlet_id": s.outlet_id,
            "tenant_id": s.tenant_id,
            "month": s.month,
            "rated": s.rated,
            "score": s.score,
            "stars": s.stars,
            "grade": s.grade,
            "jobs": s.jobs,
            "rank_in_tenant": s.rank_in_tenant,
            "rank_nationwide": s.rank_nationwide,
        }
        for s in scorecards
    ]


def jsonable(value):
    """Decimals as strings, datetimes as ISO: what RPC (JSON) carries."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- files
def as_file(kind: str, built: list[dict], fmt: str, filename: str, font: FontFile | None = None) -> dict:
    """``{filename, content_type, encoding, data}`` (base64 for binary) of one report, or of several
    (``kind == "all"``: one XLSX workbook); a chart (PNG, SVG) is drawn in `font`."""
    if kind == "all" or fmt == "xlsx":
        data = to_xlsx(built)
    elif fmt == "json":
        data = json.dumps(jsonable(built[0]), ensure_ascii=False)
    elif fmt == "csv":
        data = to_csv(built[0])
    else:
        if font is None:
            raise ValueError("a chart is drawn in a CJK font: pass shared.fonts.cjk_font()")
        data = chart(built[0], fmt, font)
    if isinstance(data, bytes):
        return {
            "filename": filename,
            "content_type": CONTENT_TYPES[fmt],
            "encoding": "base64",
            "data": base64.b64encode(data).decode("ascii"),
        }
    return {"filename": filename, "content_type": CONTENT_TYPES[fmt], "encoding": "text", "data": data}


def _cells(report: dict, row: dict) -> list:
    return [shown(key, row.get(key)) for key, _ in report["columns"]]


def to_csv(report: dict) -> str:
    """UTF-8 with a BOM (so Excel reads the Chinese), the headers' words on the first line."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([header for _, header in report["columns"]])
    for row in report["rows"]:
        writer.writerow(["" if v is None else v for v in _cells(report, row)])
    return "\ufeff" + buf.getvalue()


def to_xlsx(reports: list[dict]) -> bytes:
    """One sheet per report: bold header, frozen first row, widths fitted to the content (a Chinese
    character two columns), the title under the table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for report in reports:
        ws = wb.create_sheet(SHEETS.get(report["kind"], report["kind"])[:31])
        ws.append([header for _, header in report["columns"]])
        for cell in ws[1]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="305496")
        lines = [[float(v) if isinstance(v, Decimal) else v for v in _cells(report, row)] for row in report["rows"]]
        for line in lines:
            ws.append(line)
        ws.freeze_panes = "A2"
        for i, (_, header) in enumerate(report["columns"], start=1):
            width = max([cell_width(header)] + [cell_width(line[i - 1] or "") for line in lines])
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 48)
        ws.append([])
        ws.append([report["title"] + (f"（{report['scope_name']}）" if report.get("scope_name") else "")])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- charts
def chart(report: dict, fmt: str, font: FontFile) -> bytes:
    """The report as a PNG or SVG image, its words in `font`."""
    if fmt not in CHART_FORMATS:
        raise ValueError(f"charts are png or svg, not {fmt!r}")
    plt = pyplot_in(font)
    height = 5
    if report["kind"] == "ranking":  # one bar per outlet: the whole list, so the last are seen too
        height = max(5, 0.2 * min(len(report["rows"]), 60) + 1.3)
    fig, ax = plt.subplots(figsize=(9, height), dpi=110)
    try:
        drawn = _DRAW[report["kind"]](ax, report["rows"])
        if not drawn:
            ax.text(0.5, 0.5, NO_DATA, ha="center", va="center", fontsize=14, color="#777777", transform=ax.transAxes)
            ax.set_xticks([])
            ax.set_yticks([])
        scope = report.get("scope_name")
        ax.set_title(report["title"] + (f"（{scope}）" if scope else ""), fontsize=12)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        return buf.getvalue()
    finally:
        plt.close(fig)


def _center(row: dict) -> str:
    return row.get("center_name") or row["tenant_id"]


def _ontime(ax, rows):
    rows = [r for r in rows if r["visits"]]
    if not rows:
        return False
    tenants = sorted({r["tenant_id"] for r in rows})
    names = {r["tenant_id"]: _center(r) for r in rows}
    tiers = [t for t in TIER_NAMES if any(r["tier"] == t for r in rows)]
    width = 0.8 / max(len(tiers), 1)
    colors = {"local": "#2E75B6", "in_province": "#70AD47", "out_of_province": "#ED7D31", "unknown": "#A5A5A5"}
    for i, tier in enumerate(tiers):
        values = []
        for t in tenants:
            row = next((r for r in rows if r["tenant_id"] == t and r["tier"] == tier), None)
            values.append(float(row["on_time_pct"]) if row and row["on_time_pct"] is not None else 0)
        xs = [x + i * width for x in range(len(tenants))]
        bars = ax.bar(xs, values, width, label=TIER_NAMES[tier], color=colors.get(tier))
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(
        [x + width * (len(tiers) - 1) / 2 for x in range(len(tenants))],
        [names[t] for t in tenants],
        fontsize=8 if len(tenants) > 4 else 10,
    )
    ax.set_ylim(0, 110)
    ax.set_ylabel("准时率（%）")
    ax.axhline(100, color="#999999", lw=0.5)
    ax.legend(title="时效等级", fontsize=8)
    return True


def _callbacks(ax, rows):
    from matplotlib.ticker import MaxNLocator

    if not rows:
        return False
    labels = [f"{_center(r)}\n{STRATUM_NAMES.get(r['stratum'], r['stratum'])}" for r in rows]
    parts = [
        ("done_on_time", "按时完成", "#70AD47"),
        ("done_late", "逾期完成", "#FFC000"),
        ("overdue", "逾期未做", "#C00000"),
        ("open", "未到期", "#A5A5A5"),
    ]
    bottom = [0] * len(rows)
    for key, label, color in parts:
        values = [r[key] for r in rows]
        ax.bar(range(len(rows)), values, 0.6, bottom=bottom, label=label, color=color)
        bottom = [b + v for b, v in zip(bottom, values)]
    for x, r in enumerate(rows):
        if r["completion_pct"] is not None:
            ax.text(x, bottom[x], f"完成{float(r['completion_pct']):.0f}%", ha="center", va="bottom", fontsize=8)
    many = len(rows) > 8
    ax.set_xticks(range(len(rows)), labels, fontsize=7 if many else 8, rotation=45 if many else 0)
    ax.set_ylabel("回访数")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    return True


def _satisfaction(ax, rows):
    rows = [r for r in rows if r["average"] is not None]
    if not rows:
        return False
    months = sorted({r["month"] for r in rows})
    for tenant in sorted({r["tenant_id"] for r in rows}):
        mine = [r for r in rows if r["tenant_id"] == tenant]
        points = {r["month"]: float(r["average"]) for r in mine}
        xs = [i for i, m in enumerate(months) if m in points]
        ax.plot(xs, [points[months[i]] for i in xs], marker="o", label=_center(mine[0]))
    ax.set_xticks(range(len(months)), [monthly_report.month_title(m) for m in months])
    ax.set_ylim(0.8, 5.2)
    ax.set_ylabel("平均满意度（1-5分）")
    ax.axhline(3, color="#C00000", lw=0.6, ls="--")
    ax.legend(fontsize=8)
    return True


def _pareto(ax, rows):
    from matplotlib.ticker import MaxNLocator

    if not rows:
        return False
    xs = range(len(rows))
    colors = ["#C00000" if r["vital"] else "#A5A5A5" for r in rows]
    ax.bar(xs, [r["count"] for r in rows], color=colors)
    ax.set_xticks(list(xs), [r.get("label") or r["cause"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("投诉件数（红色：关键少数）")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax2 = ax.twinx()
    ax2.plot(list(xs), [float(r["cumulative"]) * 100 for r in rows], color="#2E75B6", marker="o")
    ax2.axhline(80, color="#2E75B6", lw=0.6, ls="--")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("累计占比（%）")
    return True


def _ranking(ax, rows):
    rows = [r for r in rows if r.get("rated", True)]  # the not rated have no score to draw
    if not rows:
        return False
    rows = sorted(rows, key=lambda r: (r["rank_nationwide"] or 10**6, r["outlet_id"]))
    if len(rows) > 60:  # the top and the bottom thirty
        rows = rows[:30] + rows[-30:]
    rows = rows[::-1]
    colors = {"A": "#70AD47", "B": "#FFC000", "C": "#C00000"}
    bars = ax.barh(
        [f"{r.get('outlet_name') or r['outlet_id']} {'★' * (r['stars'] or 0)}" for r in rows],
        [float(r["score"]) for r in rows],
        color=[colors.get(r["grade"], "#A5A5A5") for r in rows],
    )
    ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xlim(0, 105)
    ax.set_xlabel("得分（满分100）；颜色：等级 A / B / C")
    ax.tick_params(axis="y", labelsize=7)
    return True


_DRAW = {
    "ontime": _ontime,
    "callbacks": _callbacks,
    "satisfaction": _satisfaction,
    "pareto": _pareto,
    "ranking": _ranking,
}
