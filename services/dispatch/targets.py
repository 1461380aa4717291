"""The soft service target of a visit that can still be on time (issue 19.3: less travel online).

Plain Python. Inside the routing problem a visit's SLA due time is the hard end of its window;
the soft target is the time after which each minute of waiting costs 1 km x priority (OR-Tools'
smallest price). Up to the target, a plan is free to serve the visit whenever it travels least.

A fixed target ("serve within 4 hours of becoming available") makes the planner serve every visit
as soon as it can, whatever its tier: an in-province visit due in two working days is driven to
today, alone, although tomorrow's route passes nearby. A target that grows with the tier's slack
(`slack_share` of the time from when the visit became available to its due time) lets such visits
wait for a route that passes them (batching), while the due time itself stays hard. The share is
taken of the visit's whole slack, from when it became available, not from the plan's start: a
visit's target does not recede at every re-plan.
"""

from __future__ import annotations

import math


def service_target(
    available: float,
    due: float | None,
    now: float,
    serve_within: float,
    slack_share: float = 0.0,
    min_slack: float = 0.0,
    day_ends: list[float] | None = None,
) -> float:
    """Minutes (in the plan's clock, `now` = the plan's start) after which waiting costs.

    `available`: when the visit became available (may be before `now`); `due`: its SLA due
    time (None: no deadline). The target is the later of `serve_within` after the visit can
    first be served in this plan and `slack_share` of its slack after it became available,
    never after the due time (nor before it can be served). `slack_share` 0 keeps the fixed
    target; so does a slack shorter than `min_slack` (a local visit due within a day competes
    for the same technicians as tomorrow's arrivals: it is not deferred). With `day_ends` the
    target is then moved to the end of its working day (`to_day_end`); without a due time it is
    returned as it stands."""
    if not 0.0 <= slack_share <= 1.0 or math.isnan(slack_share):
        raise ValueError(f"slack_share must be within [0, 1], got {slack_share}")
    earliest = max(available, now)
    target = earliest + serve_within
    if due is None:
        return to_day_end(target, day_ends) if day_ends else target
    if slack_share > 0.0 and has_slack(available, due, min_slack):
        target = max(target, available + slack_share * (due - available))
    if day_ends:
        target = to_day_end(target, day_ends)
    return min(target, max(due, earliest))


def has_slack(available: float, due: float, min_slack: float) -> bool:
    """Whether a visit has the slack the target policy is for: at least `min_slack` (and some)
    from when it became available to its due time."""
    return due - available >= max(min_slack, 1e-9)


def to_day_end(target: float, day_ends: list[float]) -> float:
    """The target moved to the end of the working day it falls in (`day_ends`: each planned
    day's last shift end, minutes, ascending): waiting costs only past the day, so within a day
    the plan is free to chain visits (one technician serving two visits at a far site one after
    the other, rather than two technicians driving there to start both at once). A target after
    the last planned day stays as it is."""
    for end in day_ends:
        if target <= end + 1e-9:
            return end
    return target
