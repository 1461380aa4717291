"""Reports for centers and HQ: their rows from the figures `queries` counts, and their files:
CSV, XLSX (openpyxl) and charts (matplotlib, Agg).

A report is ``{"kind", "title", "columns": [[key, header], ...], "rows": [...]}``. Charts label
with ids and English words (the machine has no CJK font); SVG keeps text as text
(``svg.fonttype = none``), so a viewer with Chinese fonts renders any Chinese the data carries.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import datetime
from decimal import Decimal

from services.qa.domain import STRATUM_MODE

TITLES = {
    "ontime": "On-site on-time rate by SLA tier",
    "callbacks": "Callback completion",
    "satisfaction": "Customer satisfaction trend (1-5)",
    "pareto": "Complaint causes (Pareto)",
    "ranking": "Outlet scorecard ranking",
}
COLUMNS = {
    "ontime": [
        ["tenant_id", "center"],
        ["tier", "SLA tier"],
        ["visits", "visits"],
        ["on_time", "on time"],
        ["late", "late"],
        ["not_recorded", "not recorded"],
        ["on_time_pct", "on time %"],
        ["onsite_breaches", "on-site SLA breaches"],
    ],
    "callbacks": [
        ["tenant_id", "center"],
        ["stratum", "tier"],
        ["mode", "mode"],
        ["planned", "planned"],
        ["done_on_time", "done on time"],
        ["done_late", "done late"],
        ["overdue", "overdue"],
        ["open", "open (not yet due)"],
        ["negative", "negative"],
        ["completion_pct", "completion %"],
        ["on_time_pct", "on time %"],
    ],
    "satisfaction": [
        ["tenant_id", "center"],
        ["month", "month"],
        ["answers", "answers"],
        ["average", "average 1-5"],
        ["negative", "negative"],
    ]
    + [[f"s{i}", f"{i}"] for i in range(1, 6)],
    "pareto": [
        ["cause", "cause"],
        ["label", "原因"],
        ["count", "complaints"],
        ["share_pct", "share %"],
        ["cumulative_pct", "cumulative %"],
        ["vital", "vital few"],
    ],
    "ranking": [
        ["rank_nationwide", "rank (nationwide)"],
        ["rank_in_tenant", "rank (center)"],
        ["outlet_id", "outlet"],
        ["tenant_id", "center"],
        ["month", "month"],
        ["rated", "rated"],
        ["score", "score"],
        ["stars", "stars"],
        ["grade", "grade"],
        ["jobs", "jobs"],
    ],
}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "svg": "image/svg+xml",
}


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
def as_file(kind: str, built: list[dict], fmt: str, filename: str) -> dict:
    """``{filename, content_type, encoding, data}`` (base64 for binary) of one report, or of several
    (``kind == "all"``: one XLSX workbook)."""
    if kind == "all" or fmt == "xlsx":
        data = to_xlsx(built)
    elif fmt == "json":
        data = json.dumps(jsonable(built[0]), ensure_ascii=False)
    elif fmt == "csv":
        data = to_csv(built[0])
    else:
        data = chart(built[0], fmt)
    if isinstance(data, bytes):
        return {
            "filename": filename,
            "content_type": CONTENT_TYPES[fmt],
            "encoding": "base64",
            "data": base64.b64encode(data).decode("ascii"),
        }
    return {"filename": filename, "content_type": CONTENT_TYPES[fmt], "encoding": "text", "data": data}


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    return value


def to_csv(report: dict) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([header for _, header in report["columns"]])
    for row in report["rows"]:
        writer.writerow(["" if row.get(k) is None else row.get(k) for k, _ in report["columns"]])
    return "\ufeff" + buf.getvalue()


def to_xlsx(reports: list[dict]) -> bytes:
    """One sheet per report: bold header, frozen first row, widths fitted to the content."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    for report in reports:
        ws = wb.create_sheet(report["kind"][:31])
        ws.append([header for _, header in report["columns"]])
        for cell in ws[1]:
            cell.font = Font(bold=True, color="FFFFFF")
            cell.fill = PatternFill("solid", fgColor="305496")
        for row in report["rows"]:
            ws.append([_plain(row.get(k)) for k, _ in report["columns"]])
        ws.freeze_panes = "A2"
        for i, (key, header) in enumerate(report["columns"], start=1):
            width = max([len(str(header))] + [len(str(r.get(key) or "")) for r in report["rows"]])
            ws.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 48)
        ws.append([])
        ws.append([report["title"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- charts
def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["font.family"] = "DejaVu Sans"
    return plt


def chart(report: dict, fmt: str) -> bytes:
    """The report as a PNG or SVG image."""
    if fmt not in ("png", "svg"):
        raise ValueError(f"charts are png or svg, not {fmt!r}")
    plt = _pyplot()
    height = 5
    if report["kind"] == "ranking":  # one bar per outlet: the whole list, so the last are seen too
        height = max(5, 0.2 * min(len(report["rows"]), 60) + 1.3)
    fig, ax = plt.subplots(figsize=(9, height), dpi=110)
    try:
        drawn = _DRAW[report["kind"]](ax, report["rows"])
        if not drawn:
            ax.text(
                0.5,
                0.5,
                "no data for this selection",
                ha="center",
                va="center",
                fontsize=14,
                color="#777777",
                transform=ax.transAxes,
            )
            ax.set_xticks([])
            ax.set_yticks([])
        ax.set_title(report["title"] + (f"  ({report['scope']})" if report.get("scope") else ""), fontsize=12)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt)
        return buf.getvalue()
    finally:
        plt.close(fig)


def _ontime(ax, rows):
    rows = [r for r in rows if r["visits"]]
    if not rows:
        return False
    tenants = sorted({r["tenant_id"] for r in rows})
    tiers = ["local", "in_province", "out_of_province", "unknown"]
    tiers = [t for t in tiers if any(r["tier"] == t for r in rows)]
    width = 0.8 / max(len(tiers), 1)
    colors = {"local": "#2E75B6", "in_province": "#70AD47", "out_of_province": "#ED7D31", "unknown": "#A5A5A5"}
    for i, tier in enumerate(tiers):
        values = []
        for t in tenants:
            row = next((r for r in rows if r["tenant_id"] == t and r["tier"] == tier), None)
            values.append(float(row["on_time_pct"]) if row and row["on_time_pct"] is not None else 0)
        xs = [x + i * width for x in range(len(tenants))]
        bars = ax.bar(xs, values, width, label=tier, color=colors.get(tier))
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks([x + width * (len(tiers) - 1) / 2 for x in range(len(tenants))], tenants)
    ax.set_ylim(0, 110)
    ax.set_ylabel("on time, %")
    ax.axhline(100, color="#999999", lw=0.5)
    ax.legend(title="SLA tier", fontsize=8)
    return True


def _callbacks(ax, rows):
    if not rows:
        return False
    labels = [f"{r['tenant_id']}\n{r['stratum']}" for r in rows]
    parts = [
        ("done_on_time", "done on time", "#70AD47"),
        ("done_late", "done late", "#FFC000"),
        ("overdue", "overdue", "#C00000"),
        ("open", "open, not yet due", "#A5A5A5"),
    ]
    bottom = [0] * len(rows)
    for key, label, color in parts:
        values = [r[key] for r in rows]
        ax.bar(range(len(rows)), values, 0.6, bottom=bottom, label=label, color=color)
        bottom = [b + v for b, v in zip(bottom, values)]
    for x, r in enumerate(rows):
        if r["completion_pct"] is not None:
            ax.text(x, bottom[x], f"{float(r['completion_pct']):.0f}% made", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(rows)), labels, fontsize=8)
    ax.set_ylabel("callbacks")
    ax.legend(fontsize=8)
    return True


def _satisfaction(ax, rows):
    rows = [r for r in rows if r["average"] is not None]
    if not rows:
        return False
    months = sorted({r["month"] for r in rows})
    for tenant in sorted({r["tenant_id"] for r in rows}):
        points = {r["month"]: float(r["average"]) for r in rows if r["tenant_id"] == tenant}
        xs = [i for i, m in enumerate(months) if m in points]
        ax.plot(xs, [points[months[i]] for i in xs], marker="o", label=tenant)
    ax.set_xticks(range(len(months)), months)
    ax.set_ylim(0.8, 5.2)
    ax.set_ylabel("average satisfaction")
    ax.axhline(3, color="#C00000", lw=0.6, ls="--")
    ax.legend(fontsize=8)
    return True


def _pareto(ax, rows):
    if not rows:
        return False
    xs = range(len(rows))
    colors = ["#C00000" if r["vital"] else "#A5A5A5" for r in rows]
    ax.bar(xs, [r["count"] for r in rows], color=colors)
    ax.set_xticks(list(xs), [r["cause"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("complaints")
    ax2 = ax.twinx()
    ax2.plot(list(xs), [float(r["cumulative"]) * 100 for r in rows], color="#2E75B6", marker="o")
    ax2.axhline(80, color="#2E75B6", lw=0.6, ls="--")
    ax2.set_ylim(0, 105)
    ax2.set_ylabel("cumulative, %")
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
        [f"{r['outlet_id']} ({'*' * r['stars']})" for r in rows],
        [float(r["score"]) for r in rows],
        color=[colors.get(r["grade"], "#A5A5A5") for r in rows],
    )
    ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xlim(0, 105)
    ax.set_xlabel("score (of 100); colour = grade A / B / C")
    ax.tick_params(axis="y", labelsize=7)
    return True


_DRAW = {
    "ontime": _ontime,
    "callbacks": _callbacks,
    "satisfaction": _satisfaction,
    "pareto": _pareto,
    "ranking": _ranking,
}
