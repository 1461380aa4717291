"""Report files for centers and HQ: CSV, XLSX (openpyxl) and charts (matplotlib, Agg).

A report is ``{"kind", "title", "columns": [[key, header], ...], "rows": [...]}`` built by the
service from its tables. Charts label with ids and English words (the machine has no CJK font);
SVG keeps text as text (``svg.fonttype = none``), so a viewer with Chinese fonts renders any
Chinese the data carries.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal

TITLES = {
    "ontime": "On-site on-time rate by SLA tier",
    "callbacks": "Callback completion",
    "satisfaction": "Customer satisfaction trend (1-5)",
    "pareto": "Complaint causes (Pareto)",
    "ranking": "Outlet scorecard ranking",
}
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "png": "image/png", "svg": "image/svg+xml"}


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
            ax.text(0.5, 0.5, "no data for this selection", ha="center", va="center", fontsize=14,
                    color="#777777", transform=ax.transAxes)
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
    parts = [("done_on_time", "done on time", "#70AD47"), ("done_late", "done late", "#FFC000"),
             ("overdue", "overdue", "#C00000"), ("open", "open, not yet due", "#A5A5A5")]
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
    if not rows:
        return False
    rows = sorted(rows, key=lambda r: (r["rank_nationwide"] or 10**6, r["outlet_id"]))
    if len(rows) > 60:  # the top and the bottom thirty
        rows = rows[:30] + rows[-30:]
    rows = rows[::-1]
    colors = {"A": "#70AD47", "B": "#FFC000", "C": "#C00000"}
    bars = ax.barh([f"{r['outlet_id']} ({'*' * r['stars']})" for r in rows], [float(r["score"]) for r in rows],
                   color=[colors.get(r["grade"], "#A5A5A5") for r in rows])
    ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xlim(0, 105)
    ax.set_xlabel("score (of 100); colour = grade A / B / C")
    ax.tick_params(axis="y", labelsize=7)
    return True


_DRAW = {"ontime": _ontime, "callbacks": _callbacks, "satisfaction": _satisfaction, "pareto": _pareto,
         "ranking": _ranking}
