"""When a certificate's holder is reminded of its end (plain Python, no database).

`CERTIFICATION_REMINDER_DAYS` names one threshold or several ("30" or "30,7"): a reminder
(`technician.expiring`) goes once per certificate and threshold, when the days left to its last
valid day (China's calendar date) are at most the threshold. A check that finds several
thresholds crossed at once (a certificate issued late, a timer that was down) sends one reminder,
for the nearest threshold, not one per threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

DEFAULT_DAYS = (30,)


def thresholds(raw: object) -> tuple[int, ...]:
    """'30,7' → (30, 7); an empty, non-numeric or negative setting is a ValueError (the service
    refuses to start a check with it rather than remind at random)."""
    parts = [p.strip() for p in str(raw).split(",") if p.strip()]
    days = tuple(sorted({int(p) for p in parts}, reverse=True))
    if not days or days[-1] < 0:
        raise ValueError(f"CERTIFICATION_REMINDER_DAYS must be days >= 0, got {raw!r}")
    return days


def reminder_due(
    valid_until: date,
    today: date,
    days: Sequence[int],
    reminded_days: int | None,
    reminded_at: datetime | None = None,
) -> int | None:
    """The threshold to remind for now, or None. `reminded_days`: the nearest threshold reminded
    so far (a reminder recorded before thresholds were kept counts as the farthest one)."""
    if today > valid_until or not days:
        return None
    left = (valid_until - today).days
    last = reminded_days if reminded_days is not None else (max(days) if reminded_at is not None else None)
    crossed = [d for d in days if left <= d and (last is None or d < last)]
    return min(crossed) if crossed else None
