"""QA rules: 回访 callbacks (quotas, due dates, results), 投诉分析 complaint analysis, and the facts
that move the monthly outlet scorecard (考核; its 100-point table is `services.qa.scorecard`).

Plain Python: no nameko, no session. The service feeds it facts and persists what it decides.

Sources: seed 004 (three-tier callbacks 特约点100% / 自办点50% / 总部20%, three modes 自行回访 /
抽查回访 / 交叉回访; 三天内服务回访, 七天内用户追踪, 每月按20%比例电话慰问), seed 001 (the work
order's questions; the 100-point table of 服务工作考核指标),
seed 002 (complaints by cause and responsibility incl. the grey zone 灰色地带; 定期确认不良有无再发生).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.qa.sampling import CARE, FRANCHISED, HQ_SAMPLE, SELF_RUN
from shared import tenancy
from shared.clock import LOCAL_TZ
from shared.errors import Forbidden, InvalidTransition, ValidationFailed

if TYPE_CHECKING:
    from shared.sla import SlaClock, SlaPolicy

UTC = UTC

# ---------------------------------------------------------------- callbacks (回访)
#: who calls: the center itself (own 自行回访), the center sampling (sampled 抽查回访), or someone
#: outside the outlet's chain, here HQ's callback desk (cross 交叉回访)
MODES = ("own", "sampled", "cross")
STRATUM_MODE = {FRANCHISED: "own", SELF_RUN: "sampled", HQ_SAMPLE: "cross", CARE: "own"}
HQ_CALLER = "HQ"
STAFF_STRATA = (FRANCHISED, SELF_RUN)  # the center's service callbacks an outlet answers for

PURPOSES = ("service", "followup", "complaint", "care", "tracking")  # tracking: `services.qa.tracking`
STATUSES = ("planned", "done", "negative", "closed")
OPEN = ("planned",)

FOLLOWUP_DAYS = 7  # 七天内用户追踪
#: the calls that are the seven-day follow-up themselves: a negative one plans no other, a satisfied
#: one closes the negative callback it follows up
SEVEN_DAY_CALLS = ("followup", "tracking")
RECURRENCE_DAYS = 90  # 定期确认不良有无再发生: the default re-check period
COMPLAINT_TARGET_DAYS = 15  # 平均投诉处理周期不超过15天

#: reason codes a callback agent ticks (satisfaction 1-5 plus why)
REASON_CODES = {
    "late_arrival": "上门不及时",
    "not_fixed": "故障未排除",
    "repeat_fault": "故障重复出现",
    "attitude": "服务态度差",
    "fee_dispute": "收费争议",
    "no_fee_schedule": "未出示收费标准",
    "site_not_clean": "现场未清理",
    "parts_delay": "配件等待",
    "no_signature": "工作单未签字",
    "praised": "表扬",
    "fast": "响应快",
    "other": "其他",
}
NEGATIVE_SATISFACTION = 2  # 1-2 is dissatisfied


def local_period(at: datetime) -> str:
    """The month (YYYY-MM, Asia/Shanghai) a moment belongs to."""
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a local month, in UTC."""
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=LOCAL_TZ)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=LOCAL_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


def next_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year + (mon == 12):04d}-{mon % 12 + 1:02d}"


def previous_month(month: str) -> str:
    year, mon = (int(x) for x in month.split("-"))
    return f"{year - (mon == 1):04d}-{(mon - 2) % 12 + 1:02d}"


def caller_for(stratum: str, tenant_id: str) -> str:
    return HQ_CALLER if stratum == HQ_SAMPLE else tenant_id


# ---------------------------------------------------------------- due dates
def callback_due(clock: SlaClock, policy: SlaPolicy, service_at: datetime) -> datetime:
    """三天内服务回访: 3 working days after the service (the tenant's SLA policy, working-day calendar)."""
    return policy.callback.apply(clock, service_at)


def sampled_callback_due(clock: SlaClock, policy: SlaPolicy, service_at: datetime, selected_at: datetime) -> datetime:
    """A sampled job's callback: 3 working days after the service, or after the job was selected
    when a later arrival brought its center's sample the slot (the caller is not late for a call it
    could not know of; `sampling.allocate` may give a slot to an earlier job)."""
    return callback_due(clock, policy, max(service_at, selected_at))


def due_within_days(clock: SlaClock, start: datetime, days: float) -> datetime:
    """`days` calendar days after `start`; a deadline landing on a non-working day (a holiday, a
    weekend that is not an adjusted working day) moves to the close of the next working day."""
    due = start.astimezone(UTC) + timedelta(days=days)
    day = due.astimezone(LOCAL_TZ).date()
    if clock.calendar.is_workday(day):
        return due
    return clock.closing(clock.calendar.next_workday(day))


def followup_due(clock: SlaClock, policy: SlaPolicy, service_at: datetime, now: datetime) -> datetime:
    """七天内用户追踪: 7 days after the service; when that has passed already, the close of the next
    working day."""
    due = due_within_days(
        clock, service_at, policy.followup.amount if policy.followup.unit == "calendar_days" else FOLLOWUP_DAYS
    )
    return due if due > now else clock.end_of_working_day_after(now, 1)


def care_due(clock: SlaClock, month: str) -> datetime:
    """The care calls for customers served in `month` are made during the next month: due at the
    close of its last working day."""
    _, end = month_bounds(next_month(month))
    last = (end.astimezone(LOCAL_TZ) - timedelta(days=1)).date()
    if not clock.calendar.is_workday(last):
        last = clock.calendar.previous_workday(last)
    return clock.closing(last)


def is_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    return status in OPEN and due_at < now


# ---------------------------------------------------------------- callback results
@dataclass(frozen=True)
class Verdict:
    negative: bool
    reason: str | None


def judge(result: Mapping[str, Any]) -> Verdict:
    """A reached customer's answers are negative when dissatisfied (1-2) or the service was not
    delivered (是否服务到位: 否)."""
    reasons = []
    sat = result.get("satisfaction")
    if sat is not None and sat <= NEGATIVE_SATISFACTION:
        reasons.append(f"satisfaction {sat}")
    if result.get("service_delivered") is False:
        reasons.append("service not delivered")
    if not reasons:
        return Verdict(False, None)
    codes = result.get("reason_codes") or []
    if codes:
        reasons.append("codes " + ",".join(codes))
    return Verdict(True, "; ".join(reasons))


#: a "no" to a work-order question is a breach of the service norm it asks about (真诚服务规范)
QUESTION_NORMS = {
    "onsite_within_24h": "onsite_24h",
    "service_delivered": "service_delivered",
    "fee_schedule_shown": "fee_schedule",
}
ANSWERS = ("onsite_within_24h", "service_delivered", "fee_schedule_shown", "satisfaction", "comment")
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of ours an agent's clock may be


@dataclass(frozen=True)
class CallbackRecord:
    """What the result rules read of a callback (times in UTC)."""

    id: str
    tenant_id: str
    ticket_id: str
    purpose: str
    stratum: str
    period: str
    status: str
    service_at: datetime
    caller: str = ""
    mode: str = "own"
    visit_id: str | None = None
    outlet_id: str | None = None
    attempts: int = 0
    parent_id: str | None = None


@dataclass(frozen=True)
class NewCallback:
    """A callback to plan: one per `plan_key` (the reason to call)."""

    plan_key: str
    purpose: str
    stratum: str
    ticket_id: str
    visit_id: str | None
    outlet_id: str | None
    period: str
    service_at: datetime
    due_at: datetime
    parent_id: str | None = None
    sample_key: str | None = None


@dataclass(frozen=True)
class NewFact:
    """A fact for an outlet's scorecard, recorded once per `fact_key`; facts sharing an
    `occurrence_key` count once (`scorecard.ScoreFact`)."""

    tenant_id: str
    outlet_id: str
    kind: str
    fact_key: str
    occurrence_key: str
    ref: str
    at: datetime
    source: str
    ticket_id: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Transition:
    """One step of a callback: the fields it sets, the events it emits (type, payload) and what
    follows from it."""

    changes: dict[str, Any]
    events: tuple[tuple[str, dict[str, Any]], ...] = ()
    outcome: str | None = None  # the result counted: satisfied, negative or unreached
    followup: NewCallback | None = None  # a negative answer is called back again (七天内用户追踪)
    facts: tuple[NewFact, ...] = ()  # the customer's "no" answers, as norm breaches
    closes_parent: bool = False  # a satisfied follow-up may close the negative callback


def call_time(at: datetime | None, now: datetime, what: str = "the call") -> datetime:
    """When a call (or a finding) happened, in UTC: now unless told, never in the future."""
    at = (at or now).astimezone(UTC)
    if at > now + CLOCK_SKEW:
        raise ValidationFailed(f"{what} cannot be in the future", {"at": ["must not be in the future"]})
    return at


def work_list_caller(principal: tenancy.Principal, asked: str | None) -> str | None:
    """Whose calls a work list shows (None: every caller's). A center works its own list (HQ's cross
    callbacks are not its); HQ sees its cross callbacks unless it asks for a caller or ``all``."""
    if principal.role == tenancy.CENTER:
        return principal.tenant
    if asked == "all":
        return None
    return asked or (HQ_CALLER if principal.role == tenancy.HQ else None)


def check_caller(principal: tenancy.Principal, callback: CallbackRecord) -> None:
    """HQ (and the platform) may record any callback, a center those it is the caller of."""
    if principal.role in (tenancy.HQ, tenancy.SERVICE):
        return
    if principal.role == tenancy.CENTER and callback.caller == principal.tenant:
        return
    raise Forbidden(f"callback {callback.id} is called by {callback.caller} ({callback.mode} callback)")


def record_result(
    callback: CallbackRecord,
    answers: Mapping[str, Any],
    *,
    at: datetime,
    agent: str,
    now: datetime,
    clock: SlaClock,
    policy: SlaPolicy,
) -> Transition:
    """A planned callback's call. Not reached: an attempt, still planned. Reached: done, or
    negative (`judge`), which publishes ``callback.negative`` and plans a follow-up (none for a
    follow-up itself); a satisfied follow-up closes the callback it follows up."""
    if callback.status != "planned":
        raise InvalidTransition(
            f"callback {callback.id} is {callback.status}: its result is recorded",
            {"status": [f"is {callback.status}"]},
        )
    if at < callback.service_at:
        raise ValidationFailed("the call cannot precede the service", {"at": ["before the service"]})
    if not answers["reached"]:
        return Transition({"attempts": callback.attempts + 1, "last_attempt_at": at}, outcome="unreached")
    verdict = judge(answers)
    changes = {key: answers[key] for key in ANSWERS}
    changes.update(
        reason_codes=answers["reason_codes"],
        attempts=callback.attempts + 1,
        done_at=at,
        done_by=agent,
        last_attempt_at=at,
        negative=verdict.negative,
        status="negative" if verdict.negative else "done",
    )
    facts = tuple(answer_facts(callback, answers))
    # the answers as intake keeps them for the ticket's 回访记录 (the ledger), satisfied or not
    completed = (
        "callback.completed",
        {
            "tenant_id": callback.tenant_id,
            "ticket_id": callback.ticket_id,
            "callback_id": callback.id,
            "purpose": callback.purpose,
            "satisfaction": answers["satisfaction"],
            "negative": verdict.negative,
            "service_delivered": answers.get("service_delivered"),
            "comment": answers.get("comment"),
            "visit_id": callback.visit_id,
            "outlet_id": callback.outlet_id,
            "at": at,
        },
    )
    if not verdict.negative:
        return Transition(
            changes,
            (completed,),
            outcome="satisfied",
            facts=facts,
            closes_parent=callback.purpose in SEVEN_DAY_CALLS and callback.parent_id is not None,
        )
    negative = (
        "callback.negative",
        {
            "tenant_id": callback.tenant_id,
            "ticket_id": callback.ticket_id,
            "callback_id": callback.id,
            "satisfaction": answers["satisfaction"],
            "reason": verdict.reason,
            "visit_id": callback.visit_id,
            "outlet_id": callback.outlet_id,
            "at": at,
        },
    )
    followup = None
    if callback.purpose not in SEVEN_DAY_CALLS:
        followup = NewCallback(
            plan_key=f"followup:{callback.id}",
            purpose="followup",
            stratum=callback.stratum,
            ticket_id=callback.ticket_id,
            visit_id=callback.visit_id,
            outlet_id=callback.outlet_id,
            period=callback.period,
            service_at=callback.service_at,
            parent_id=callback.id,
            due_at=followup_due(clock, policy, callback.service_at, now),
        )
    return Transition(changes, (negative, completed), "negative", followup, facts)


def answer_facts(callback: CallbackRecord, answers: Mapping[str, Any]) -> list[NewFact]:
    """每个"否": a norm the customer says the outlet broke, counted once per ticket and norm."""
    if not callback.outlet_id or callback.purpose not in ("service", "followup", "tracking"):
        return []
    return [
        NewFact(
            callback.tenant_id,
            callback.outlet_id,
            "norm_breach",
            f"callback:{callback.id}:{question}",
            f"norm:{callback.ticket_id}:{norm}",
            f"callback:{callback.id}",
            callback.service_at,
            "callback",
            callback.ticket_id,
            f"customer answered no: {question}",
        )
        for question, norm in QUESTION_NORMS.items()
        if answers.get(question) is False
    ]


def close(callback: CallbackRecord, outcome: str, note: str, at: datetime) -> Transition:
    """A negative callback closes (resolved, or upheld after review): ``callback.closed``."""
    if callback.status != "negative":
        raise InvalidTransition(
            f"only a negative callback can be closed; this one is {callback.status}",
            {"status": [f"is {callback.status}"]},
        )
    return Transition(
        {"status": "closed", "close_outcome": outcome, "close_note": note, "closed_at": at},
        (
            (
                "callback.closed",
                {
                    "tenant_id": callback.tenant_id,
                    "callback_id": callback.id,
                    "ticket_id": callback.ticket_id,
                    "visit_id": callback.visit_id,
                    "outlet_id": callback.outlet_id,
                    "outcome": outcome,
                    "at": at,
                },
            ),
        ),
    )


def resolve_by_followup(
    parent: CallbackRecord | None, followup_id: str, satisfaction: int, at: datetime
) -> Transition | None:
    """A satisfied follow-up resolves the callback it follows up, if that one is still negative."""
    if parent is None or parent.status != "negative":
        return None
    return close(parent, "resolved", f"follow-up {followup_id}: satisfaction {satisfaction}", at)


# ---------------------------------------------------------------- findings (score facts recorded by hand)
#: the scorecard's kinds (`scorecard.RULES`) a center or HQ may record by hand (inspections, letters
#: of praise, file audits)
MANUAL_KINDS = (
    "norm_breach",
    "late_customer_file",
    "late_product_file",
    "late_feedback",
    "incomplete_feedback",
    "no_periodic_inspection",
    "praise_company",
    "praise_association",
)


# ---------------------------------------------------------------- facts from other services' events
def visit_facts(visit: Mapping[str, Any], at: datetime) -> list[NewFact]:
    """What a completed visit (``visit.completed``) shows of the outlet's paperwork: the work order
    not signed by the customer (工作单请客户署名), no work recorded, a fitted part without its new
    serial (产品档案)."""
    tenant, outlet, visit_id, ticket = visit["tenant_id"], visit["outlet_id"], visit["visit_id"], visit["ticket_id"]
    ref, source = f"visit:{visit_id}", "visit.completed"
    facts = []
    if visit.get("customer_confirmed") is False:
        facts.append(
            NewFact(
                tenant,
                outlet,
                "norm_breach",
                f"visit-unsigned:{visit_id}",
                f"norm:{ticket}:signature",
                ref,
                at,
                source,
                ticket,
                "work order not confirmed by the customer",
            )
        )
    if not (visit.get("work_done") or "").strip():
        facts.append(
            NewFact(
                tenant,
                outlet,
                "incomplete_feedback",
                f"visit-nowork:{visit_id}",
                f"feedback:{visit_id}",
                ref,
                at,
                source,
                ticket,
                "no work recorded at check-out",
            )
        )
    missing = [str(used.get("part_no")) for used in visit.get("parts_used") or [] if not used.get("new_serial")]
    if missing:
        facts.append(
            NewFact(
                tenant,
                outlet,
                "late_product_file",
                f"visit-serial:{visit_id}",
                f"product:{visit_id}",
                ref,
                at,
                source,
                ticket,
                f"new serial missing for {', '.join(missing)}",
            )
        )
    return facts


#: who owns each deadline of intake's SLA clock (`shared.sla.ticket_deadlines`). The outlet answers
#: for the visit it was given (seed 001: 自接到客户信息到上门现场服务原则上不能超过24小时; seed 004:
#: 登记后一天内上门); the center for taking the request and answering the customer (seed 000:
#: 24小时实现传真受理顾客投诉, 48小时电话回复处理情况; seed 001: the 1小时反馈规则 of web requests,
#: a complaint's solution plan within 24 h) and the complaint's cycle (15天/件; 谁受理谁负责).
OUTLET_DEADLINES = frozenset({"onsite"})
CENTER_DEADLINES = frozenset({"accept", "phone_reply", "forward", "complaint_plan", "complaint_close"})
OUTLET, CENTER = "outlet", "center"


def deadline_owner(sla: str, assigned_outlet_id: str | None) -> str:
    """Whom a missed deadline is charged to: the outlet for the on-site visit of a ticket assigned to
    it; the center for everything else (its own deadlines, a visit no outlet was given, a deadline
    QA does not know)."""
    return OUTLET if sla in OUTLET_DEADLINES and assigned_outlet_id else CENTER


@dataclass(frozen=True)
class NewCenterFact:
    """A fact the center answers for (a deadline it owns, missed), kept for its assessment."""

    tenant_id: str
    kind: str
    fact_key: str
    ref: str
    at: datetime
    source: str
    sla: str | None = None
    ticket_id: str | None = None
    outlet_id: str | None = None
    note: str | None = None


def breach_fact(breach: Mapping[str, Any], due_at: datetime) -> NewFact | NewCenterFact:
    """A missed deadline (``sla.breached``) charged to whoever owns it (`deadline_owner`): an
    outlet's late visit is 《客户服务工作单》未在规定期间返回 on its scorecard; a center's deadline is
    the center's fact, never the outlet's."""
    outlet = breach.get("assigned_outlet_id")
    ticket, sla = breach["ticket_id"], breach["sla"]
    ref, note = f"ticket:{breach['number']}", f"{sla} due {due_at.isoformat()}"
    if deadline_owner(sla, outlet) == CENTER:
        return NewCenterFact(
            breach["tenant_id"],
            "deadline_missed",
            f"sla:{ticket}:{sla}",
            ref,
            due_at,
            "sla.breached",
            sla,
            ticket,
            outlet,
            note,
        )
    return NewFact(
        breach["tenant_id"],
        str(outlet),
        "work_order_late",
        f"sla:{ticket}:{sla}",
        f"late:{ticket}:{sla}",
        ref,
        due_at,
        "sla.breached",
        ticket,
        note,
    )
