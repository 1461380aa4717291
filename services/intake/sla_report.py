"""The SLA report: how the commitments fared, per center (tenant) and SLA tier (local / in-province
/ out-of-province), week by week or month by month. HQ reads it across every center; a center gets
its own (the session's scope).

Each deadline counts in the period (Asia/Shanghai week from Monday, or calendar month) it falls
due in, by where it stands (`outlook.deadline_state`): met in time, met late, breached (past due,
not met), at risk (running, in its last stretch), open; a deadline of a ticket that ended before
it was due no longer counts (void). Plain Python: the rows come from `queries.sla_deadline_rows`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared.clock import LOCAL_TZ

PERIODS = ("week", "month")
COUNTS = ("met", "met_late", "breached", "at_risk", "open")
UNPLACED = "unplaced"  # a triage ticket's deadlines: no tier yet


@dataclass(frozen=True)
class DeadlineFact:
    """One deadline as the report counts it: whose, which tier, when due, where it stands."""

    tenant_id: str
    tier: str | None
    due_at: datetime
    state: str


def period_start(moment: datetime, period: str) -> date:
    """The local Monday of `moment`'s week, or the first of its month."""
    day = moment.astimezone(LOCAL_TZ).date()
    if period == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_starts(now: datetime, period: str, count: int) -> list[date]:
    """The starts of the `count` periods up to and including the one `now` is in, oldest first."""
    last = period_start(now, period)
    starts = [last]
    for _ in range(count - 1):
        first = starts[0]
        starts.insert(0, first - timedelta(days=7) if period == "week" else (first - timedelta(days=1)).replace(day=1))
    return starts


def window(now: datetime, period: str, count: int) -> tuple[datetime, datetime]:
    """The due times the report reads: from the first period's start to the end of the current one
    (local midnights, as aware datetimes)."""
    starts = period_starts(now, period, count)
    last = starts[-1]
    end = last + timedelta(days=7) if period == "week" else (last + timedelta(days=32)).replace(day=1)
    return _midnight(starts[0]), _midnight(end)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ)


def _empty() -> dict[str, int]:
    return dict.fromkeys(COUNTS, 0)


def report(facts: Iterable[DeadlineFact], now: datetime, period: str, count: int, sla: str | None) -> dict[str, Any]:
    """The counts per period, center and tier (``rows``), and summed per period and center
    (``by_tenant``) and per period and tier (``by_tier``); every period of the window is listed in
    ``starts`` (a center with no deadline in a period has no row for it)."""
    starts = period_starts(now, period, count)
    known = set(starts)
    cells: dict[tuple[date, str, str], dict[str, int]] = {}
    for fact in facts:
        if fact.state not in COUNTS:
            continue  # void: the ticket ended before it was due
        start = period_start(fact.due_at, period)
        if start not in known:
            continue
        key = (start, fact.tenant_id, fact.tier or UNPLACED)
        cells.setdefault(key, _empty())[fact.state] += 1
    return {
        "period": period,
        "sla": sla,
        "starts": [s.isoformat() for s in starts],
        "rows": [_row(k, v, ("tenant_id", "tier")) for k, v in sorted(cells.items())],
        "by_tenant": _summed(cells, 1, "tenant_id"),
        "by_tier": _summed(cells, 2, "tier"),
    }


def _summed(cells: dict[tuple[date, str, str], dict[str, int]], index: int, name: str) -> list[dict[str, Any]]:
    sums: dict[tuple[date, str], dict[str, int]] = {}
    for key, counts in cells.items():
        total = sums.setdefault((key[0], str(key[index])), _empty())
        for state, n in counts.items():
            total[state] += n
    return [_row(k, v, (name,)) for k, v in sorted(sums.items())]


def _row(key: tuple[Any, ...], counts: dict[str, int], names: tuple[str, ...]) -> dict[str, Any]:
    row: dict[str, Any] = {"start": key[0].isoformat()}
    row.update(zip(names, key[1:], strict=True))
    row.update(counts)
    row["total"] = sum(counts.values())
    return row
