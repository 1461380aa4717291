"""What intake tells a caller before they act (nothing is changed): the workflow steps allowed
from a ticket's state, where each SLA deadline stands, and what registering a request would
decide (placement, tier, warranty, deadlines).

Plain Python over `domain`'s own rules, so a screen offers exactly what `domain.transition` and
`domain.register` would accept: the allowed steps are the ones whose checks pass, the preview is
`domain.place` and `decide_warranty` on the request as typed so far.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.intake import complaints, domain, routing
from services.intake.warranty import decide_warranty
from shared import tenancy
from shared.clock import LOCAL_TZ, as_utc
from shared.errors import InvalidTransition, ValidationFailed
from shared.tenants import TenantDirectory

# ---------------------------------------------------------------- the steps allowed
# what a step needs besides the action (the rest of `domain.transition`'s checks)
STEP_NEEDS = {"assign_outlet": ("outlet_id",), "route": ("tenant_id",)}
# steps the services take themselves from their facts; a person may take them too, but a screen
# offers them only where no fact will (the visit's check-in starts it, its check-out resolves it)
BY_FACTS = ("schedule", "start_visit")


@dataclass(frozen=True)
class Step:
    """One workflow step the caller may take now: a ticket action or a complaint case step."""

    action: str
    kind: str  # "ticket" | "case"
    to_state: str | None  # the ticket status (None: unchanged) or the case state it leads to
    needs: tuple[str, ...] = ()
    by_facts: bool = False


def allowed_steps(ticket: Any, role: str, user: str | None = None) -> list[Step]:
    """Every step `role` (as `user`) may take from the ticket's status and case state, in the
    workflow's order: the case steps first (a complaint's eleven), then complaint handling's
    (`complaints.STEPS`: responsibility, hand-over, countermeasure, acknowledging an escalation),
    then the ticket actions. A grey-zone case is offered none of the steps it waits at."""
    steps = []
    if ticket.case_state is not None:
        for action in domain.CASE_STEPS:
            try:
                complaints.check_unblocked(ticket, action)
                target = domain.check_case_step(action, ticket.case_state, role)
            except InvalidTransition:
                continue
            steps.append(Step(action, "case", target))
    for action, rule in complaints.STEPS.items():
        try:
            complaints.check_step(action, ticket, role, user)
        except InvalidTransition:
            continue
        kept = ticket.case_state if rule.kind == "case" else None
        steps.append(Step(action, rule.kind, kept, tuple(n for n in rule.needs if n != "note")))
    for action in domain.TICKET_ACTIONS:
        try:
            complaints.check_unblocked(ticket, action)
            status = domain.check_ticket_action(action, ticket.status, role)
            if action == "route":
                routing.check_reroutable(ticket)  # a registered ticket its center started on stays
        except InvalidTransition:
            continue
        steps.append(Step(action, "ticket", status, STEP_NEEDS.get(action, ()), action in BY_FACTS))
    return steps


# ---------------------------------------------------------------- where a deadline stands
AT_RISK_SHARE = 0.25  # the last quarter of the time a commitment allows...
AT_RISK_AT_LEAST = timedelta(hours=2)  # ...or the last two hours, whichever is longer


class DeadlineState:
    MET = "met"  # met in time
    MET_LATE = "met_late"  # met, after it was due
    OPEN = "open"  # running, not yet close
    AT_RISK = "at_risk"  # running, in its last stretch
    BREACHED = "breached"  # past due, not met
    VOID = "void"  # the ticket ended before it was due; it no longer runs


def deadline_state(deadline: Any, received_at: datetime, ticket_open: bool, now: datetime) -> str:
    """Where `deadline` stands at `now`: met (in time or late), breached, at risk (in the last
    AT_RISK_SHARE of the time from the request's receipt, at least AT_RISK_AT_LEAST), open; a
    deadline of a ticket that ended unmet and not breached is void."""
    due = as_utc(deadline.due_at)
    if deadline.met_at is not None:
        return DeadlineState.MET_LATE if as_utc(deadline.met_at) > due else DeadlineState.MET
    if deadline.breached_at is not None or (ticket_open and now > due):
        return DeadlineState.BREACHED
    if not ticket_open:
        return DeadlineState.VOID
    stretch = max((due - as_utc(received_at)) * AT_RISK_SHARE, AT_RISK_AT_LEAST)
    return DeadlineState.AT_RISK if now >= due - stretch else DeadlineState.OPEN


# ---------------------------------------------------------------- what registering would decide
def preview(
    request: dict[str, Any], geo_result: Any, principal: tenancy.Principal, now: datetime, policies: Any
) -> dict[str, Any]:
    """What `domain.register` would decide for the request as typed so far: where the address
    is (province, city, district, ambiguity and its candidates), which center and SLA tier, the
    warranty for the product line and purchase date, and the deadlines a ticket of `kind` would
    get now. A part that cannot be told yet is None; a refusal register would give (an address in
    another center's territory, a purchase date after today) is in ``errors`` by field."""
    directory: TenantDirectory = policies.directory
    errors: dict[str, list[str]] = {}
    out: dict[str, Any] = {"placement": None, "warranty": None, "deadlines": {}, "errors": errors}
    placement = None
    if request.get("address"):
        g = geo_result
        try:
            placement = domain.place(g, directory, principal, request.get("tenant_id"))
        except ValidationFailed as exc:
            errors.update({k: list(v) for k, v in (exc.fields or {}).items()})
        out["placement"] = {
            "province": g.province,
            "city": g.city,
            "district": g.district,
            "precision": g.precision,
            "ambiguous": bool(g.ambiguous),
            "candidates": [dict(c) for c in g.candidates],
            "tenant_id": placement.tenant_id if placement else None,
            "tier": placement.tier if placement else None,
            "triage_reason": placement.triage_reason if placement else None,
        }
    today = now.astimezone(LOCAL_TZ).date()
    purchase: date | None = request.get("purchase_date")
    if purchase is not None or request.get("product_line"):
        terms = directory.warranty_terms(request.get("product_line"))
        try:
            w = decide_warranty(terms, purchase, today)
        except ValidationFailed as exc:
            errors.update({k: list(v) for k, v in (exc.fields or {}).items()})
        else:
            out["warranty"] = {
                "status": w.status,
                "remedy": w.remedy,
                "reason": w.reason,
                "expires_on": w.expires_on,
                "warranty_years": terms.warranty_years,
            }
    if request.get("kind") and placement is not None and placement.tenant_id != domain.TRIAGE_TENANT:
        tenant = placement.tenant_id
        timing = dict(request, received_at=now, channel=request.get("channel") or "hotline")
        deadlines = domain.sla_deadlines(timing, placement.tier, policies.clock, policies.sla_policy(tenant))
        out["deadlines"] = {sla: due for sla, due in sorted(deadlines.items(), key=lambda kv: kv[1])}
    return out
