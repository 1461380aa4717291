"""七天内用户追踪 and the complaint's 三天内回访: the two callbacks every served customer and every
resolved complaint get, whatever the samples (pure rules; `operations` persists what they decide).

Seed 004: 登记后一天内上门、三天内服务回访、七天内用户追踪 — every served user is tracked within
seven days of the service. The seed names neither who tracks nor what is written down; the customer
belongs to the center that took the request, so the center tracks it (自行回访), and the call records
what any callback records (reached or not, the work order's questions, satisfaction, reasons,
comment: seed 001 第九条 回访后做好回访记录). One tracking call per ticket: a second visit to the same
machine is the same customer's service. A problem found is a negative result and goes where a
negative callback goes (``callback.negative``: intake reopens and escalates, settlement holds the
claim) and stays open until the center closes it (resolved / upheld); the tracking call is itself the
seven-day follow-up, so it plans none (`domain.SEVEN_DAY_CALLS`). A negative service callback whose ticket still has its
tracking call planned makes that call its follow-up (no second call to the customer in the same week).

Seed 004 (规范用户投诉管理 3.A, 3.C): 谁受理谁负责、谁跟踪 ... 将处理结果在第一时间与用户沟通,并征询
用户的满意程度; 本公司任何部门员工接待用户投诉 ... 四是三天内要回访用户. The complaint's callback is
made by whoever took it — the center the complaint was registered with (the ticket's tenant; intake's
events name no one else) — within three days of the result, read like 三天内服务回访: the tenant's
``callback`` rule, 3 working days. That also keeps seed 001's 解决完后一周内回访.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.qa.domain import CallbackRecord, NewCallback, callback_due, followup_due, local_period

if TYPE_CHECKING:
    from shared.sla import SlaClock, SlaPolicy

TRACKING = "tracking"  # the purpose and the stratum (every served ticket, no sample)
COMPLAINT = "complaint"


def tracking_key(ticket_id: str) -> str:
    return f"{TRACKING}:{ticket_id}"


def plan_tracking(
    visit: dict[str, Any],
    service_at: datetime,
    existing: Iterable[CallbackRecord],
    *,
    clock: SlaClock,
    policy: SlaPolicy,
    now: datetime,
) -> NewCallback | None:
    """The ticket's tracking call after its visit (``visit.completed``), due 7 days after the service
    (`domain.followup_due`: the tenant's ``followup`` rule; a non-working day moves to the close of the
    next working day). None when the ticket has one already, or a follow-up still to make (that call
    tracks the customer)."""
    for callback in existing:
        if callback.ticket_id != visit["ticket_id"]:
            continue
        if callback.purpose == TRACKING or (callback.purpose == "followup" and callback.status == "planned"):
            return None
    return NewCallback(
        plan_key=tracking_key(visit["ticket_id"]),
        purpose=TRACKING,
        stratum=TRACKING,
        ticket_id=visit["ticket_id"],
        visit_id=visit["visit_id"],
        outlet_id=visit.get("outlet_id"),
        period=local_period(service_at),
        service_at=service_at,
        due_at=followup_due(clock, policy, service_at, now),
    )


def followup_or_tracking(
    followup: NewCallback | None, tracking: CallbackRecord | None
) -> tuple[NewCallback | None, dict[str, Any] | None]:
    """A negative callback's follow-up, once per ticket: when the ticket's tracking call is still
    planned and follows nothing up yet, it becomes the follow-up (the changes to set on it: its
    ``parent_id``) and no new call is planned; otherwise the follow-up as planned."""
    if followup is None:
        return None, None
    if tracking is not None and tracking.status == "planned" and tracking.parent_id is None:
        return None, {"parent_id": followup.parent_id}
    return followup, None


def complaint_callback_due(clock: SlaClock, policy: SlaPolicy, closed_at: datetime) -> datetime:
    """三天内要回访用户 after the complaint's result: the tenant's ``callback`` rule (3 working days)."""
    return callback_due(clock, policy, closed_at)


def complaint_callback(
    closing: dict[str, Any], outlet_id: str | None, *, clock: SlaClock, policy: SlaPolicy
) -> NewCallback | None:
    """The callback of a resolved complaint (``ticket.closed``, kind complaint), by the center that
    took it (the caller is the ticket's tenant). None for another kind or a cancelled ticket (a
    complaint re-routed to another center is called back there)."""
    if closing["kind"] != "complaint" or closing["outcome"] == "cancelled":
        return None
    closed_at = closing["closed_at"]
    return NewCallback(
        plan_key=f"{COMPLAINT}:{closing['ticket_id']}",
        purpose=COMPLAINT,
        stratum=COMPLAINT,
        ticket_id=closing["ticket_id"],
        visit_id=None,
        outlet_id=outlet_id,
        period=local_period(closed_at),
        service_at=closed_at,
        due_at=complaint_callback_due(clock, policy, closed_at),
    )
