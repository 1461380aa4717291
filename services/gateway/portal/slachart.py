"""HQ's SLA charts as inline SVG, drawn on the server (no chart library): for each center or tier,
one stacked bar per week or month of intake's SLA report (`GET /api/v1/sla/report`), its
deadlines met in time, late (met late or breached), at risk and still open.

`charts` returns what the template draws (hq/_sla_chart.html): bars with their segments in
viewBox coordinates, gridlines, a label per period (every other one when there are many, so they
stay legible at a phone's width), and the figures of the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

WIDTH, HEIGHT = 360, 170
LEFT, RIGHT, TOP, BOTTOM = 30, 6, 10, 22
# (key, name, colour): the segments bottom up; red is what went wrong, orange what may
STATES = (
    ("met", "按时达成", "#2e7d32"),
    ("late", "超时", "#c62828"),
    ("at_risk", "临近超时", "#ef6c00"),
    ("open", "进行中", "#90a4ae"),
)


@dataclass
class Segment:
    y: float
    height: float
    colour: str
    state: str
    count: int


@dataclass
class Bar:
    x: float
    width: float
    label: str  # shown under the bar ("" to leave room for its neighbours)
    title: str  # the period and its figures, for a pointer's tooltip
    segments: list[Segment] = field(default_factory=list)


@dataclass
class Chart:
    key: str
    name: str
    bars: list[Bar]
    gridlines: list[tuple[float, int]]  # (y, value)
    totals: dict[str, int]
    width: int = WIDTH
    height: int = HEIGHT
    baseline: float = HEIGHT - BOTTOM

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def judged(self) -> int:
        """The deadlines already decided: met in time or late."""
        return self.totals["met"] + self.totals["late"]

    @property
    def rate(self) -> str:
        """The share met in time of those decided, as text ("92.5%"; "—" when none)."""
        return f"{100 * self.totals['met'] / self.judged:.1f}%" if self.judged else "—"


def counts_of(row: dict[str, Any]) -> dict[str, int]:
    """A report row's figures as the chart's states (late: met late or breached)."""
    return {
        "met": row["met"],
        "late": row["met_late"] + row["breached"],
        "at_risk": row["at_risk"],
        "open": row["open"],
    }


def period_label(start: str, period: str) -> str:
    day = date.fromisoformat(start)
    return f"{day.month}月" if period == "month" else f"{day.month}/{day.day}"


def period_title(start: str, period: str) -> str:
    day = date.fromisoformat(start)
    return f"{day.year}年{day.month}月" if period == "month" else f"{day.month}月{day.day}日起一周"


def charts(report: dict[str, Any], key: str, names: dict[str, str]) -> list[Chart]:
    """One chart per value of `key` ("tenant_id" in ``by_tenant``, "tier" in ``by_tier``) in
    `names`' order (then any other, by its code), named by `names`."""
    rows = report["by_tenant"] if key == "tenant_id" else report["by_tier"]
    cells: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        cells.setdefault(row[key], {})[row["start"]] = counts_of(row)
    order = [k for k in names if k in cells] + sorted(k for k in cells if k not in names)
    return [chart(report, k, names.get(k, k), cells[k]) for k in order]


def chart(report: dict[str, Any], key: str, name: str, by_start: dict[str, dict[str, int]]) -> Chart:
    starts, period = report["starts"], report["period"]
    top = max((sum(c.values()) for c in by_start.values()), default=0)
    scale_max = nice_ceiling(top)
    plot_h = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(starts), 1)
    every = 1 if len(starts) <= 8 else 2
    bars, totals = [], dict.fromkeys((s for s, _, _ in STATES), 0)
    for i, start in enumerate(starts):
        counts = by_start.get(start, dict.fromkeys(totals, 0))
        figures = " ".join(f"{label} {counts[state]}" for state, label, _ in STATES)
        label = period_label(start, period) if (len(starts) - 1 - i) % every == 0 else ""
        bar = Bar(LEFT + i * slot + slot * 0.15, slot * 0.7, label, f"{period_title(start, period)}：{figures}")
        y = float(HEIGHT - BOTTOM)
        for state, _, colour in STATES:
            totals[state] += counts[state]
            if counts[state]:
                h = plot_h * counts[state] / scale_max
                y -= h
                bar.segments.append(Segment(round(y, 1), round(h, 1), colour, state, counts[state]))
        bars.append(bar)
    gridlines = [(round(HEIGHT - BOTTOM - plot_h * v / scale_max, 1), v) for v in ticks(scale_max)]
    return Chart(key, name, bars, gridlines, totals)


def nice_ceiling(value: int) -> int:
    """The axis's top: `value` rounded up to 1, 2, 4, 6 or 8 times a power of ten, at least 4 (even,
    so the middle gridline is a whole number)."""
    power = 1
    while True:
        for step in (1, 2, 4, 6, 8):
            if step * power >= max(value, 4):
                return step * power
        power *= 10


def ticks(top: int) -> list[int]:
    """Gridline values: 0, half and the top (integers)."""
    return sorted({0, top // 2, top})


def legend() -> list[tuple[str, str, str]]:
    return list(STATES)
