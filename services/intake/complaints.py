"""Complaint handling to the letter of the seeds (issue 17.4): the case steps beside the flow of
seed 000 that `domain.CASE_STEPS` walks.

- Responsibility (seed 002, 4、确定责任范围): decided in the case as the unit's own, another
  department's, or a grey zone (灰色地带), with who decided and when. A grey zone is settled
  "共同商议，通过行政手段加以明确" and "超出责任范围时，请求上司指示": deciding it escalates the case
  to HQ (ticket.escalated, level ``hq``), and only HQ's ruling (`rule_grey_zone`, 行政裁定) settles
  it. Until then the case stops before seed 002's next steps, 5、投诉处置和制定防止再发生对策 and
  6、投诉处理报告: the steps from the negotiation on (`BLOCKED_IN_GREY_ZONE`); the checks that find the
  facts (内查, 派员预案, 现场核实) and a withdrawal go on.
- Hand-over of the first-contact owner (首问负责制, seed 004 "谁受理谁负责、谁跟踪"): the case moves
  to another named owner only with the reason, both kept in the audit trail.
- Escalation of a major issue (seed 004 "重大問題（危及人生安全和批量質量事故）安排專人跟蹤到底";
  seed 001 "特大质量问题应报告公司主管副总，直至总经理"): a safety or batch-defect ticket goes to the
  tenant's first named manager (COMPLAINT_ESCALATION), who must acknowledge within
  ``ack_minutes``; unacknowledged, it goes to the next level (the watchdog), each time an event
  and an audit entry.
- The countermeasure against recurrence (防止再发生对策) and when to check the defect has not
  recurred (7、定期确认不良有无再发生).

Plain Python: rules over a ticket record and the caller's principal, returning `domain.Outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.intake.domain import (
    CASE_FINAL,
    OPEN_STATUSES,
    STAFF,
    Audit,
    Case,
    Event,
    Outcome,
    Status,
    escalated_event,
)
from shared import tenancy
from shared.clock import as_utc
from shared.errors import InvalidTransition, ValidationFailed
from shared.escalation import EscalationChains  # COMPLAINT_ESCALATION, read as notify reads it

OWN, OTHER_DEPARTMENT, GREY_ZONE = "own", "other_department", "grey_zone"
RESPONSIBILITIES = (OWN, OTHER_DEPARTMENT, GREY_ZONE)
# seed 002's steps after the responsibility is settled (处置, 防止再发生对策, 投诉处理报告, 结案): a
# grey-zone case waits for HQ's ruling before them; `resolve`/`close` would end the ticket around it
BLOCKED_IN_GREY_ZONE = (
    "negotiate",
    "order_rectification",
    "pay_compensation",
    "notify_result",
    "report",
    "sign_agreement",
    "close_case",
    "record_countermeasure",
    "resolve",
    "close",
)
OPEN_CASE = tuple(
    s
    for s in (
        Case.ACCEPTED,
        Case.REGISTERED,
        Case.INTERNAL_CHECK,
        Case.DISPATCH_PLAN,
        Case.ONSITE_VERIFICATION,
        Case.NEGOTIATION,
        Case.RECTIFICATION,
        Case.COMPENSATION,
        Case.RESULT_NOTICE,
        Case.REPORTED,
        Case.AGREEMENT,
    )
    if s not in CASE_FINAL
)
# the escalation reasons of a major issue (domain.priority_for): safety, a batch defect
MAJOR = ("safety", "batch_defect")


@dataclass(frozen=True)
class StepRule:
    """Who may take a complaint-handling step, from where: case states (a complaint's) or, with
    ``case_states=None``, any open ticket; ``kind`` is how `outlook` offers it."""

    roles: tuple[str, ...]
    case_states: tuple[str, ...] | None
    kind: str
    needs: tuple[str, ...] = ()


STEPS = {
    "decide_responsibility": StepRule(STAFF, OPEN_CASE, "case", ("responsibility",)),
    "rule_grey_zone": StepRule((tenancy.HQ,), OPEN_CASE, "case", ("responsibility", "note")),
    "hand_over": StepRule(STAFF, OPEN_CASE, "case", ("owner_user", "note")),
    "record_countermeasure": StepRule(STAFF, OPEN_CASE, "case", ("countermeasure", "follow_up_on")),
    "acknowledge_escalation": StepRule(STAFF, None, "ticket"),
    "escalate_major": StepRule(STAFF, None, "ticket", ("major_issue", "note")),
}


def _refuse(message: str, why: str) -> InvalidTransition:
    return InvalidTransition(message, {"action": [why]})


def check_unblocked(ticket: Any, action: str) -> None:
    """A grey-zone case takes none of `BLOCKED_IN_GREY_ZONE` before HQ rules it (409)."""
    if getattr(ticket, "responsibility", None) == GREY_ZONE and action in BLOCKED_IN_GREY_ZONE:
        raise _refuse(
            f"cannot {action}: the responsibility is a grey zone, HQ must rule it first",
            "the responsibility is a grey zone (灰色地带): waiting for HQ's ruling (rule_grey_zone)",
        )


def check_step(action: str, ticket: Any, role: str, user: str | None) -> None:
    """Raise InvalidTransition unless `user` as `role` may take `action` on `ticket` now."""
    rule = STEPS.get(action)
    if rule is None:
        raise _refuse(f"unknown step {action!r}", "unknown step")
    if role not in rule.roles:
        raise _refuse(f"role {role} may not {action}", f"not allowed for role {role}")
    if rule.case_states is not None:
        if ticket.case_state is None:
            raise _refuse("this ticket is not a complaint case", "not a complaint")
        if ticket.case_state not in rule.case_states:
            raise _refuse(f"cannot {action} a case that is {ticket.case_state}", "the case is over")
    elif ticket.status not in OPEN_STATUSES:
        raise _refuse(f"cannot {action} a ticket that is {ticket.status}", f"not allowed from status {ticket.status}")
    check_unblocked(ticket, action)
    if action == "rule_grey_zone" and ticket.responsibility != GREY_ZONE:
        raise _refuse("the responsibility is not a grey zone", "only a grey-zone case is ruled by HQ")
    if action == "decide_responsibility":
        _check_may_decide(ticket, role)
    if action == "escalate_major" and ticket.escalation in MAJOR:
        raise _refuse(f"already escalated as {ticket.escalation}", "already escalated as a major issue")
    if action == "escalate_major" and ticket.status == Status.TRIAGE:  # its center's managers are not known yet
        raise _refuse("route the ticket to a center first", "not allowed from status triage")
    if action == "acknowledge_escalation":
        if ticket.escalation_manager is None or ticket.escalation_acked_at is not None:
            raise _refuse("no escalation waits for an acknowledgement", "no escalation to acknowledge")
        if user != ticket.escalation_manager:
            raise _refuse(
                f"only {ticket.escalation_manager} acknowledges this escalation",
                f"waiting for {ticket.escalation_manager}'s acknowledgement",
            )


def _check_may_decide(ticket: Any, role: str) -> None:
    """A grey zone waits for HQ's ruling and HQ's ruling stands: a center decides neither again."""
    if role == tenancy.HQ:
        return
    if ticket.responsibility == GREY_ZONE:
        raise _refuse("the grey zone waits for HQ's ruling", "grey zone: HQ rules it (rule_grey_zone)")
    if ticket.grey_zone_ruled_at is not None:
        raise _refuse("HQ ruled the responsibility", "HQ ruled the responsibility; only HQ changes it")


def _required(cmd: dict[str, Any], *names: str) -> None:
    missing = {n: [f"required for {cmd['action']}"] for n in names if cmd.get(n) in (None, "")}
    if missing:
        raise ValidationFailed(f"{cmd['action']} needs {', '.join(missing)}", missing)


def step(
    ticket: Any,
    cmd: dict[str, Any],
    principal: tenancy.Principal,
    now: datetime,
    chains: EscalationChains | None = None,
) -> Outcome:
    """A complaint-handling step (`STEPS`): its fields checked (ValidationFailed naming each),
    then whether it may be taken (InvalidTransition); the case state does not move. `chains`:
    the tenants' named managers a major issue found on the way goes to (`escalate_major`)."""
    action = cmd["action"]
    _required(cmd, *STEPS[action].needs)
    if action == "rule_grey_zone" and cmd["responsibility"] == GREY_ZONE:
        raise ValidationFailed("HQ's ruling settles the grey zone", {"responsibility": ["own or other_department"]})
    if action == "hand_over" and cmd["owner_user"] == ticket.owner_user:
        raise ValidationFailed("already the owner", {"owner_user": [f"{ticket.owner_user} owns the case already"]})
    if action == "record_countermeasure" and cmd["follow_up_on"] < now.date():
        raise ValidationFailed("follow-up in the past", {"follow_up_on": ["must not be in the past"]})
    check_step(action, ticket, principal.role, principal.user)
    out = Outcome()
    data: dict[str, Any] = {}
    if action in ("decide_responsibility", "rule_grey_zone"):
        decided = responsibility_decided(ticket, cmd["responsibility"], principal, now)
        out.changes.update(decided.changes)
        out.events.extend(decided.events)
        data = {"responsibility": cmd["responsibility"], "before": ticket.responsibility}
        if action == "rule_grey_zone":
            out.changes.update(grey_zone_ruled_by=principal.user, grey_zone_ruled_at=now)
    elif action == "hand_over":
        out.changes["owner_user"] = cmd["owner_user"]
        data = {"from_owner": ticket.owner_user, "to_owner": cmd["owner_user"]}
    elif action == "record_countermeasure":
        out.changes.update(countermeasure=cmd["countermeasure"], follow_up_on=cmd["follow_up_on"])
        data = {"countermeasure": cmd["countermeasure"], "follow_up_on": cmd["follow_up_on"].isoformat()}
    elif action == "escalate_major":  # found on the way (e.g. at the on-site verification): as at registration
        issue = cmd["major_issue"]
        out.changes.update(escalation=issue, priority=1 if issue == "safety" else min(ticket.priority, 2))
        data = {"reason": issue}
        if chains is not None and chains.of(ticket.tenant_id):
            named = _escalate_to(ticket, chains, 0, issue, now)
            out.changes.update(named.changes)
            out.events.extend(named.events)
            data.update(named.audit.data if named.audit and named.audit.data else {})
        else:
            out.events.append(("ticket.escalated", escalated_event(ticket, issue, "management")))
    elif action == "acknowledge_escalation":
        out.changes.update(escalation_acked_by=principal.user, escalation_acked_at=now, escalation_ack_due=None)
        data = {"level": ticket.escalation_level, "manager": ticket.escalation_manager}
    state = ticket.case_state if STEPS[action].kind == "case" else ticket.status
    out.audit = Audit(action, state, state, cmd.get("note"), data)
    return out


def responsibility_decided(ticket: Any, responsibility: str, principal: tenancy.Principal, now: datetime) -> Outcome:
    """The responsibility decided by `principal` (also when given with another case step): kept on
    the ticket with who and when; a grey zone goes to HQ, the superior (seed 002 D、请求上司指示)."""
    if responsibility == ticket.responsibility:  # confirmed as it stands: who decided it stays
        return Outcome()
    _check_may_decide(ticket, principal.role)
    out = Outcome(
        changes={"responsibility": responsibility, "responsibility_by": principal.user, "responsibility_at": now}
    )
    if responsibility == GREY_ZONE and ticket.responsibility != GREY_ZONE:
        out.events.append(("ticket.escalated", escalated_event(ticket, "grey_zone", "hq")))
    return out


# ---------------------------------------------------------------- escalation to named managers
# the chains are COMPLAINT_ESCALATION as shared.escalation parses it (notify reads the same)
def _escalate_to(ticket: Any, chains: EscalationChains, level: int, reason: str, now: datetime) -> Outcome:
    manager = chains.of(ticket.tenant_id)[level]
    due = now + timedelta(minutes=chains.ack_minutes)
    body = dict(
        escalated_event(ticket, reason, manager.level),
        manager=manager.user,
        manager_name=manager.label,
        ack_due=due,
    )
    events: list[Event] = [("ticket.escalated", body)]
    return Outcome(
        changes=dict(
            escalation_level=level,
            escalation_manager=manager.user,
            escalated_at=now,
            escalation_ack_due=due,
            escalation_acked_by=None,
            escalation_acked_at=None,
        ),
        events=events,
        audit=Audit(
            "escalate" if level == 0 else "re_escalate",
            ticket.status,
            ticket.status,
            None,
            {
                "reason": reason,
                "level": manager.level,
                "manager": manager.user,
                "name": manager.name,
                "ack_due": due.isoformat(),
            },
        ),
    )


def first_escalation(ticket: Any, chains: EscalationChains, now: datetime) -> Outcome | None:
    """A major issue (safety, batch defect) of a tenant with named managers goes to the first of
    them; None: not a major issue, or nobody named."""
    if ticket.escalation not in MAJOR or not chains.of(ticket.tenant_id):
        return None
    return _escalate_to(ticket, chains, 0, ticket.escalation, now)


def overdue_escalation(ticket: Any, chains: EscalationChains, now: datetime) -> Outcome | None:
    """The watchdog's rule for an escalation not acknowledged by its due time: to the next level
    (re-escalated), or, past the last, the watch ends with an audit entry saying so. None: not due,
    acknowledged, or the ticket is over."""
    due = as_utc(ticket.escalation_ack_due)
    if due is None or ticket.escalation_acked_at is not None or now < due:
        return None
    if ticket.status not in OPEN_STATUSES:
        return Outcome(changes={"escalation_ack_due": None})
    chain = chains.of(ticket.tenant_id)
    level = (ticket.escalation_level or 0) + 1
    if level < len(chain):
        return _escalate_to(ticket, chains, level, f"not_acknowledged:{ticket.escalation_manager}", now)
    return Outcome(
        changes={"escalation_ack_due": None},
        audit=Audit(
            "escalation_unacknowledged",
            ticket.status,
            ticket.status,
            None,
            {"manager": ticket.escalation_manager, "level": ticket.escalation_level},
        ),
    )
