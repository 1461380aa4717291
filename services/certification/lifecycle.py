"""The outlet lifecycle's steps (网点设立、考核、撤销, seed 003), one small function per action.

Each reads the outlet as a plain record, the command, who acts (role, duty) and when, and
returns a `StepOutcome`: what changes (the outlet's fields, the audit trail, an assessment or
a notice to file) and the events to emit with it. The service applies the outcome in one unit
of work; a refused step raises (see `domain.decide`) and changes nothing. Plain Python: no
nameko, no database session.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from services.certification.domain import (
    PROBATION_JOB_LIMIT,
    PROBATION_MONTHS,
    STEPS,
    OutletState,
    add_months,
    check_agreement,
    check_revocation_form,
    decide,
    jsonable,
    local_date,
    outlet_event,
    probation_end,
)
from shared import tenancy
from shared.errors import InvalidTransition, ValidationFailed

AGREEMENT_START_BACK = timedelta(days=366)  # an agreement signed on paper up to a year ago
AGREEMENT_START_AHEAD = timedelta(days=92)  # or starting within three months
CLEARING_REREQUEST_REASON = "reservations released with the outlet's visits"


@dataclass(frozen=True)
class LifecyclePolicy:
    """The configured figures (CERTIFICATION_PROBATION_MONTHS, CERTIFICATION_PROBATION_JOB_LIMIT)."""

    probation_months: int = PROBATION_MONTHS
    probation_job_limit: int = PROBATION_JOB_LIMIT


@dataclass(frozen=True)
class OutletRecord:
    """An outlet as the rules read it (a snapshot of its row); a step's changes name these fields."""

    id: str
    tenant_id: str
    status: str
    resume_status: str | None = None  # the state before a suspension or a revocation form
    name: str = ""
    kind: str = "franchised"
    grade: str | None = None
    lat: float | None = None
    lon: float | None = None
    inspection: dict[str, Any] | None = None
    agreement: dict[str, Any] | None = None
    job_limit: int | None = None
    probation_until: date | None = None
    revocation: dict[str, Any] | None = None
    clearing_request_id: str | None = None
    clearing_status: str | None = None  # pending | open_items | cleared
    open_items: list[dict[str, Any]] | None = None
    updated_at: datetime | None = None
    # (product_line, certified) below the minimum: told to dispatch at approval
    ineligible_lines: tuple[tuple[str, int], ...] = ()


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class StepCommand:
    """A lifecycle step as asked for (the loaded StepIn payload)."""

    action: str
    decision: str | None = None  # pass | reject
    result: str | None = None  # the probation assessment's: passed | extended | refused
    reason: str | None = None
    attachments: tuple[Any, ...] = ()
    inspection: dict[str, Any] | None = None
    agreement: dict[str, Any] | None = None
    assessment: dict[str, Any] | None = None
    revocation: dict[str, Any] | None = None
    clearing_request_id: str = field(default_factory=new_request_id)  # if the step asks for clearing

    @classmethod
    def of(cls, payload: dict[str, Any]) -> StepCommand:
        return cls(**{k: v for k, v in payload.items() if k in cls.__dataclass_fields__})

    @property
    def choice(self) -> str | None:
        """The decision or result that selects the action's target (None for other actions)."""
        step = STEPS.get(self.action)
        return getattr(self, step.choice) if step is not None and step.choice else None


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class StepRecord:
    """One entry of the outlet's audit trail (who took it: the acting principal)."""

    action: str
    choice: str | None
    from_state: str | None
    to_state: str
    reason: str | None = None
    attachments: list[Any] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AssessmentRecord:
    """An assessment to file (考核记录)."""

    kind: str
    result: str
    score: Decimal | None = None
    findings: str | None = None


@dataclass(frozen=True)
class OutletNotice:
    kind: str
    text: str


@dataclass(frozen=True)
class StepOutcome:
    outlet: OutletRecord  # the outlet after the step
    changes: dict[str, Any]  # the outlet's fields to set
    steps: tuple[StepRecord, ...]  # StepRecords for the audit trail, in order
    events: tuple[Event, ...] = ()  # Events to emit with the change, in order
    assessment: AssessmentRecord | None = None
    notice: OutletNotice | None = None

    def then(self, other: StepOutcome) -> StepOutcome:
        """This outcome followed by `other` (taken on this one's outlet)."""
        return replace(
            other,
            changes={**self.changes, **other.changes},
            steps=self.steps + other.steps,
            events=self.events + other.events,
            assessment=self.assessment or other.assessment,
            notice=self.notice or other.notice,
        )


def _revocation_reason(outlet: OutletRecord) -> str | None:
    reason: str | None = (outlet.revocation or {}).get("reason_code")
    return reason


def clearing_request(outlet: OutletRecord, request_id: str, now: datetime) -> tuple[dict[str, Any], Event]:
    """Ask settlement (and through it parts) whether anything is open (清理帐目)."""
    return (
        {"clearing_request_id": request_id, "clearing_status": "pending"},
        Event(
            "account.clearing_requested",
            {"tenant_id": outlet.tenant_id, "outlet_id": outlet.id, "request_id": request_id, "at": now},
        ),
    )


def _target(outlet: OutletRecord, command: StepCommand, principal: tenancy.Principal) -> str:
    return decide(command.action, outlet.status, principal, command.choice, outlet.resume_status)


def _outcome(
    outlet: OutletRecord,
    command: StepCommand,
    target: str,
    now: datetime,
    changes: Mapping[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    events: Iterable[tuple[str, dict[str, Any]]] = (),
    assessment: AssessmentRecord | None = None,
    clearing: bool = False,
) -> StepOutcome:
    """The step's outcome: `changes` with the new state; `events` (name, extra fields) describe the
    outlet after it. A step into revoking announces it and asks for the accounts' clearing."""
    changes = dict(changes or {}, status=target, updated_at=now)
    after = replace(outlet, **changes)
    built = [Event(name, outlet_event(after, now, **extra)) for name, extra in events]
    revoking = target == OutletState.REVOKING and outlet.status != OutletState.REVOKING
    if revoking:
        built.append(Event("outlet.revoking", outlet_event(after, now, reason=_revocation_reason(after))))
    if revoking or clearing:
        asked, event = clearing_request(after, command.clearing_request_id, now)
        changes.update(asked)
        after = replace(after, **asked)
        built.append(event)
    record = StepRecord(
        command.action,
        command.choice,
        outlet.status,
        target,
        command.reason,
        list(command.attachments or ()),
        jsonable(data or {}),
    )
    return StepOutcome(after, changes, (record,), tuple(built), assessment)


def center_review(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """The center's review with its site inspection (顾客服务中心审核、考察)."""
    target = _target(outlet, command, principal)
    if not command.inspection:
        raise ValidationFailed(
            "the center review needs the site inspection", {"inspection": ["required for center_review"]}
        )
    inspection = jsonable(command.inspection)
    return _outcome(outlet, command, target, now, {"inspection": inspection}, {"inspection": inspection})


def technical_review(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """The technical management review (技术管理科审核): a technical lead of the center or HQ."""
    return _outcome(outlet, command, _target(outlet, command, principal), now)


def head_approval(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """The HQ service head's approval (顾客服务部长审批): dispatch hears of the outlet from here on,
    with the lines it may not take jobs of yet."""
    target = _target(outlet, command, principal)
    events: list[tuple[str, dict[str, Any]]] = []
    if command.decision == "pass":
        events = [("outlet.approved", {"reason": command.reason})]
        events += [
            ("outlet.line_eligibility", {"product_line": line, "eligible": False, "reason": f"{certified} certified"})
            for line, certified in outlet.ineligible_lines
        ]
    return _outcome(outlet, command, target, now, events=events)


def issue_agreement(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """The agreement issued and confirmed (发放协议书并确认): probation starts with a job limit."""
    target = _target(outlet, command, principal)
    if not command.agreement:
        raise ValidationFailed("the agreement is missing", {"agreement": ["required for issue_agreement"]})
    today = local_date(now)
    agreement = check_agreement(command.agreement, today)
    if not today - AGREEMENT_START_BACK <= agreement["valid_from"] <= today + AGREEMENT_START_AHEAD:
        raise ValidationFailed(
            "agreement start out of range", {"agreement": {"valid_from": ["within a year back and 3 months ahead"]}}
        )
    agreement["number"] = agreement.get("number") or f"XY-{outlet.id}-{agreement['valid_from'].year}"
    job_limit = agreement.pop("job_limit", None) or policy.probation_job_limit
    probation_until = probation_end(agreement["valid_from"], policy.probation_months)
    agreement = jsonable(agreement)
    return _outcome(
        outlet,
        command,
        target,
        now,
        {"agreement": agreement, "job_limit": job_limit, "probation_until": probation_until},
        {"agreement": agreement, "probation_until": probation_until.isoformat(), "job_limit": job_limit},
        events=[("outlet.probation", {"job_limit": job_limit})],
    )


def assess_probation(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """The probation assessment (3个月考核): passed (not before probation ends), extended, or
    refused (the outlet is revoked: its accounts are cleared)."""
    target = _target(outlet, command, principal)
    result, assessment, today = command.result, command.assessment or {}, local_date(now)
    if result == "passed" and outlet.probation_until and today < outlet.probation_until:
        raise InvalidTransition(
            "probation is not over yet", {"result": [f"probation runs until {outlet.probation_until.isoformat()}"]}
        )
    findings = assessment.get("findings") or command.reason
    changes: dict[str, Any]
    data: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    changes, data, events = {}, {}, []
    if result == "extended":
        base = max(outlet.probation_until or today, today)
        changes["probation_until"] = add_months(base, assessment.get("extend_months") or 1)
        data["probation_until"] = changes["probation_until"].isoformat()
    data["assessment"] = dict(assessment, result=result)
    if result == "passed":
        events.append(("outlet.effective", {"reason": command.reason}))
    if result == "refused":
        changes["revocation"] = {
            "reason_code": "probation_refused",
            "details": findings,
            "filed_by": principal.user,
            "filed_at": now.isoformat(),
        }
    return _outcome(
        outlet,
        command,
        target,
        now,
        changes,
        data,
        events,
        # `decide` took the result: one of ASSESSMENT_RESULTS
        AssessmentRecord("probation", cast(str, result), assessment.get("score"), findings),
    )


def suspend(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """Suspension of an operating outlet; it remembers the state to return to."""
    target = _target(outlet, command, principal)
    return _outcome(
        outlet,
        command,
        target,
        now,
        {"resume_status": outlet.status},
        events=[("outlet.suspended", {"reason": command.reason})],
    )


def reinstate(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """Back to the state before the suspension (probation keeps its job limit)."""
    target = _target(outlet, command, principal)
    job_limit = outlet.job_limit if target == OutletState.PROBATION else None
    return _outcome(
        outlet,
        command,
        target,
        now,
        {"resume_status": None},
        events=[("outlet.reinstated", {"reason": command.reason, "job_limit": job_limit})],
    )


def request_revocation(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """The revocation form (撤点登记表); the outlet works as before while it is reviewed."""
    target = _target(outlet, command, principal)
    form = check_revocation_form(command.revocation, principal)
    revocation = jsonable(dict(form, filed_by=principal.user, filed_role=principal.role, filed_at=now.isoformat()))
    return _outcome(
        outlet,
        command,
        target,
        now,
        {"revocation": revocation, "resume_status": outlet.status},
        {"revocation": revocation},
    )


def _revocation_review(
    outlet: OutletRecord, command: StepCommand, principal: tenancy.Principal, now: datetime
) -> StepOutcome:
    """A review of the revocation: pass goes on; reject returns the outlet to where it was."""
    target = _target(outlet, command, principal)
    changes: dict[str, Any] = {}
    if command.decision == "reject":
        changes = {
            "resume_status": None,
            "revocation": dict(
                outlet.revocation or {},
                rejected_by=principal.user,
                rejected_at=now.isoformat(),
                rejected_at_step=command.action,
                rejection_reason=command.reason,
            ),
        }
    return _outcome(outlet, command, target, now, changes)


def revocation_center_review(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """顾客服务中心审核确认."""
    return _revocation_review(outlet, command, principal, now)


def revocation_technical_review(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """技术管理科审核确认: a technical lead."""
    return _revocation_review(outlet, command, principal, now)


def revocation_approval(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """顾客服务部部长审批: the service head; a pass starts revoking (accounts cleared first)."""
    return _revocation_review(outlet, command, principal, now)


def request_clearing(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """Ask settlement and parts again whether the revoking outlet's accounts are clear."""
    return _outcome(outlet, command, _target(outlet, command, principal), now, clearing=True)


def _table_step(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """An action with no rule beyond the table (settlement's facts taken by the service itself)."""
    return _outcome(outlet, command, _target(outlet, command, principal), now)


STEP_RULES = {
    "center_review": center_review,
    "technical_review": technical_review,
    "head_approval": head_approval,
    "issue_agreement": issue_agreement,
    "assess_probation": assess_probation,
    "suspend": suspend,
    "reinstate": reinstate,
    "request_revocation": request_revocation,
    "revocation_center_review": revocation_center_review,
    "revocation_technical_review": revocation_technical_review,
    "revocation_approval": revocation_approval,
    "request_clearing": request_clearing,
}


def take_step(
    outlet: OutletRecord,
    command: StepCommand,
    principal: tenancy.Principal,
    now: datetime,
    policy: LifecyclePolicy = LifecyclePolicy(),
) -> StepOutcome:
    """The outcome of one lifecycle step, or the error refusing it (see `decide`)."""
    return STEP_RULES.get(command.action, _table_step)(outlet, command, principal, now, policy)


# ------------------------------------------------------------------ settlement's clearing answers
def answers_pending_clearing(outlet: OutletRecord | None, request_id: str) -> bool:
    """Whether an account.cleared / account.open_items answers the clearing the outlet waits for."""
    return outlet is not None and outlet.status == OutletState.REVOKING and outlet.clearing_request_id == request_id


def accounts_cleared(outlet: OutletRecord, request_id: str, principal: tenancy.Principal, now: datetime) -> StepOutcome:
    """Nothing open: the cooperation ends (revoked) and the outlet is notified (合作终止通知)."""
    target = decide("accounts_cleared", outlet.status, principal)
    changes: dict[str, Any] = {
        "status": target,
        "clearing_status": "cleared",
        "open_items": [],
        "resume_status": None,
        "updated_at": now,
    }
    after = replace(outlet, **changes)
    text = (
        f"合作终止通知: {outlet.name} ({outlet.id}) 的特约服务协议 {(outlet.agreement or {}).get('number', '')} "
        f"已终止, 帐目已清理。 Cooperation ended; accounts cleared."
    )
    record = StepRecord(
        "accounts_cleared", None, outlet.status, target, None, [], {"request_id": request_id, "notified": True}
    )
    return StepOutcome(
        after,
        changes,
        (record,),
        (Event("outlet.revoked", outlet_event(after, now, reason=_revocation_reason(after))),),
        notice=OutletNotice(OutletState.REVOKED, text),
    )


def accounts_open(
    outlet: OutletRecord,
    request_id: str,
    open_items: Iterable[Mapping[str, Any]] | None,
    first_answer: bool,
    principal: tenancy.Principal,
    now: datetime,
    next_request_id: str | None = None,
) -> StepOutcome:
    """Open items go on the outlet file. The revocation's first answer listing only parts
    reservations is asked again at once: dispatch releases the outlet's planned visits (and parts
    their reservations) on outlet.revoking, at the same time as the first request."""
    decide("accounts_open", outlet.status, principal)
    items = jsonable(list(open_items or []))
    changes: dict[str, Any] = {"clearing_status": "open_items", "open_items": items, "updated_at": now}
    record = StepRecord(
        "accounts_open", None, outlet.status, outlet.status, None, [], {"request_id": request_id, "open_items": items}
    )
    outcome = StepOutcome(replace(outlet, **changes), changes, (record,))
    if first_answer and only_reservations(items):
        outcome = outcome.then(rerequest_clearing(outcome.outlet, now, next_request_id or new_request_id()))
    return outcome


def clearing_worth_asking_again(outlet: OutletRecord) -> bool:
    """After dispatch released a visit: the last answer listed nothing but reservations."""
    return (
        outlet.status == OutletState.REVOKING
        and outlet.clearing_status == "open_items"
        and only_reservations(outlet.open_items)
    )


def rerequest_clearing(outlet: OutletRecord, now: datetime, request_id: str) -> StepOutcome:
    asked, event = clearing_request(outlet, request_id, now)
    changes = dict(asked, updated_at=now)
    record = StepRecord(
        "clearing_rerequested",
        None,
        outlet.status,
        outlet.status,
        CLEARING_REREQUEST_REASON,
        [],
        {"previous_request_id": outlet.clearing_request_id, "request_id": request_id},
    )
    return StepOutcome(replace(outlet, **changes), changes, (record,), (event,))


def only_reservations(items: Sequence[Mapping[str, Any]] | None) -> bool:
    """Open items that are all parts reservations (dispatch's release of the outlet's visits lets
    them go): worth asking again without waiting for anyone."""
    return bool(items and all(i.get("kind") == "reservation" for i in items))
