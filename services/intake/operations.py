"""What intake does to its tables, inside the caller's unit of work: the domain decides (a
`domain.Registration`, a `domain.Outcome`), these apply it — rows, the audit entry, the rows
that copy a ticket's scope, the SLA commitments met or breached, the events. The service's
entrypoints load their input, call these and commit.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select

from services.intake import (
    archive_store,
    complaint_report,
    complaints,
    domain,
    ledger_cells,
    queries,
    routing,
    sla_watch,
)
from services.intake.models import AuditEntry, SlaDeadline, Ticket
from shared import metrics
from shared.clock import as_utc
from shared.db import utcnow
from shared.errors import Conflict

log = logging.getLogger(__name__)

SERVICE = "intake"


# ---------------------------------------------------------------- registering
def register(uow, reg: domain.Registration, principal, chains=None) -> tuple[Ticket, bool]:
    """The registered ticket, with its deadlines, audit entry and events; a reference the channel
    sent before gives that ticket instead (True: a duplicate, nothing written). A major issue goes
    to the tenant's first named manager in `chains` (complaints.first_escalation), whose
    escalation then replaces the unnamed one."""
    fields = reg.ticket
    if fields["external_ref"]:
        existing = uow.session.scalars(
            select(Ticket).where(Ticket.channel == fields["channel"], Ticket.external_ref == fields["external_ref"])
        ).first()
        if existing is not None:
            return existing, True
    ticket = Ticket(**fields)
    ticket.deadlines = [
        SlaDeadline(tenant_id=ticket.tenant_id, sla=sla, due_at=due, customer_id=ticket.customer_id)
        for sla, due in reg.deadlines.items()
    ]
    uow.session.add(ticket)
    audit(uow, ticket, principal, reg.audit)
    for sla, at in reg.met:
        meet(uow, ticket, sla, at)
    if reg.announce:
        uow.emit("ticket.registered", domain.registered_event(ticket))
    named = complaints.first_escalation(ticket, chains, ticket.registered_at) if chains else None
    for event, body in reg.events:
        if not (named and event == "ticket.escalated"):
            uow.emit(event, body)
    apply(uow, ticket, named, principal)
    return ticket, False


# ---------------------------------------------------------------- changing a ticket
def transition(uow, ticket: Ticket, cmd: dict, principal, now: datetime, policies, geocoder, chains=None) -> Ticket:
    """A staff action or case step (`domain.transition`); `route` also re-places the ticket. The
    ticket it leaves: a re-routed registered ticket's successor (see `routing`), else `ticket`."""
    if cmd["expected_version"] is not None and cmd["expected_version"] != ticket.version:
        raise Conflict(
            "the ticket changed since you read it", {"expected_version": [f"current version is {ticket.version}"]}
        )
    if cmd["action"] in complaints.STEPS:
        outcome = complaints.step(ticket, cmd, principal, now, chains)
    else:
        complaints.check_unblocked(ticket, cmd["action"])  # a grey zone waits for HQ's ruling
        outcome = domain.transition(ticket, cmd, principal.role, now, policies.directory)
        if cmd["responsibility"] and cmd["action"] in domain.CASE_STEPS:  # decided with the step
            decided = complaints.responsibility_decided(ticket, cmd["responsibility"], principal, now)
            outcome.changes.update(decided.changes)
            outcome.events.extend(decided.events)
    if cmd["action"] == "report" and outcome.audit is not None:  # 投诉处理报告: archived with the step
        made = complaint_report.snapshot(ticket, queries.audit_trail(uow.session, ticket.id), now, principal.user)
        outcome.audit = replace(outcome.audit, data={**(outcome.audit.data or {}), "report": made})
    outcome.changes.update(ledger_cells.mode_given(cmd))  # how it was served, said at resolve or close
    if cmd["action"] == "route":
        routed = route(uow, ticket, cmd, outcome, principal, policies, geocoder, now)
        if chains and routed.escalation_level is None:  # a major issue goes to its new center's managers
            apply(uow, routed, complaints.first_escalation(routed, chains, now), principal)
        return routed
    apply(uow, ticket, outcome, principal)
    return ticket


def fact_ticket(uow, payload: dict, event: str) -> Ticket | None:
    """The ticket a fact names, else None: the message id is remembered all the same (the fact
    will never apply; another tenant's ticket is not found either)."""
    ticket = uow.session.get(Ticket, payload["ticket_id"])
    if ticket is None:
        log.warning("%s for unknown ticket %s", event, payload["ticket_id"])
    return ticket


def on_fact(uow, payload: dict, event: str, rule) -> None:
    """A fact whose rule needs only the ticket and the fact: `rule(ticket, payload)`."""
    ticket = fact_ticket(uow, payload, event)
    if ticket is not None:
        apply(uow, ticket, rule(ticket, payload), uow.principal)


def apply(uow, ticket: Ticket, outcome: domain.Outcome | None, principal) -> None:
    """Apply what a rule decided, in `domain.Outcome`'s order; None: nothing to do."""
    if outcome is None:
        return
    for attr, value in outcome.changes.items():
        if attr == "assigned_outlet_id":
            set_outlet(uow, ticket, value)
        else:
            setattr(ticket, attr, value)
    for event, body in outcome.events:
        uow.emit(event, body)
    if outcome.audit is not None:
        audit(uow, ticket, principal, outcome.audit)
    for sla, at in outcome.met:
        meet(uow, ticket, sla, at)


def audit(uow, ticket: Ticket, principal, entry: domain.Audit) -> None:
    uow.session.add(
        AuditEntry(
            tenant_id=ticket.tenant_id,
            ticket=ticket,
            at=utcnow(),
            user=principal.user,
            role=principal.role,
            action=entry.action,
            from_state=entry.from_state,
            to_state=entry.to_state,
            note=entry.note,
            data=entry.data,
            assigned_outlet_id=ticket.assigned_outlet_id,
            customer_id=ticket.customer_id,
        )
    )


def set_outlet(uow, ticket: Ticket, outlet_id: str | None) -> None:
    """The ticket and the rows that copy its outlet scope (deadlines, audit) follow it together,
    so the outlet sees the whole history of a job once it is theirs."""
    ticket.assigned_outlet_id = outlet_id
    for d in ticket.deadlines:
        d.assigned_outlet_id = outlet_id
    for entry in queries.audit_rows(uow.session, ticket.id):
        entry.assigned_outlet_id = outlet_id


def route(uow, ticket: Ticket, cmd: dict, outcome: domain.Outcome, principal, policies, geocoder, now) -> Ticket:
    """HQ routes a ticket to a center (`routing`: the target must serve the customer's province,
    as the corrected address, if any, places it). A triage ticket moves there itself; a registered
    one is cancelled and a new ticket opened there. The audit entries name both centers and the
    corrected address."""
    directory = policies.directory
    routing.check_reroutable(ticket)
    geo = geocoder.parse(cmd["address"] or ticket.address)
    routing.check_target(directory, ticket, cmd["tenant_id"], geo, bool(cmd["address"]))
    candidate = routing.chosen_candidate(directory, geo, cmd["tenant_id"])
    if candidate:  # an ambiguous district name: the customer is in the candidate HQ chose
        geo = geocoder.parse(candidate)
    place = domain.place(geo, directory, uow.principal, cmd["tenant_id"])
    deadlines = domain.sla_deadlines(
        {
            "kind": ticket.kind,
            "channel": ticket.channel,
            "received_at": as_utc(ticket.received_at),
            "wished_visit_at": as_utc(ticket.wished_visit_at),
            "complaint_category": getattr(ticket, "complaint_category", None),
        },
        place.tier,
        policies.clock,
        policies.sla_policy(place.tenant_id),
    )
    if ticket.status != domain.Status.TRIAGE:
        return reroute(uow, ticket, cmd, place, deadlines, principal, now)
    record = routing.route_record(ticket, cmd, province=place.province)
    if cmd["address"]:
        ticket.address = cmd["address"]
    ticket.tenant_id = place.tenant_id
    for attr in routing.PLACEMENT_COLUMNS:
        setattr(ticket, attr, getattr(place, attr))
    ticket.geo_precision, ticket.geo_ambiguous, ticket.triage_reason = place.precision, place.ambiguous, None
    existing = {d.sla: d for d in ticket.deadlines}
    for sla, due in deadlines.items():
        if sla in existing:
            existing[sla].due_at = due
            existing[sla].tenant_id = place.tenant_id
        else:
            uow.session.add(
                SlaDeadline(
                    tenant_id=place.tenant_id, ticket=ticket, sla=sla, due_at=due, customer_id=ticket.customer_id
                )
            )
    for entry in queries.audit_rows(uow.session, ticket.id):
        entry.tenant_id = place.tenant_id
    uow.session.flush()
    outcome.audit = replace(outcome.audit, data=record)
    apply(uow, ticket, outcome, principal)
    for sla, at in routing.met_on_routing(set(), now):
        meet(uow, ticket, sla, at)
    archive_store.link(uow, ticket, None, {})  # now in a center: its archive's customer and product
    uow.emit("ticket.registered", domain.registered_event(ticket))
    return ticket


def reroute(uow, old: Ticket, cmd: dict, place, deadlines: dict, principal, now: datetime) -> Ticket:
    """A registered ticket to another center: the old one cancelled (its center's visit with it),
    a new one registered there with the old one's receipt time, commitments met and breached."""
    columns = {c.key: getattr(old, c.key) for c in Ticket.__table__.columns}
    columns["customer_record_id"] = columns["product_id"] = None  # the old center's archive stays there
    if cmd["address"]:
        columns["address"] = cmd["address"]
    fields = routing.rerouted_ticket(
        columns, place, domain.ticket_number(place.tenant_id, as_utc(old.received_at)), now
    )
    old.external_ref = None  # the channel's reference goes with the ticket that goes on
    uow.session.flush()
    done = {d.sla: d for d in old.deadlines if d.met_at is not None or d.breached_at is not None}
    audit_new = domain.Audit(
        "route",
        None,
        domain.Status.REGISTERED,
        cmd["note"],
        routing.route_record(old, cmd, province=place.province, from_ticket_id=old.id, from_number=old.number),
    )
    reg = domain.Registration(
        place, None, fields, deadlines, audit_new, routing.met_on_routing(set(done), now), True, []
    )
    new, _ = register(uow, reg, principal)
    archive_store.link(uow, new, None, {})
    for d in new.deadlines:
        if d.sla in done:
            d.met_at, d.breached_at = done[d.sla].met_at, done[d.sla].breached_at
    apply(
        uow,
        old,
        domain.Outcome(
            changes={"status": domain.Status.CANCELLED, "closed_at": now},
            events=[("ticket.closed", domain.closed_event(old, "cancelled", now))],
            audit=domain.Audit(
                "route",
                old.status,
                domain.Status.CANCELLED,
                cmd["note"],
                routing.route_record(old, cmd, province=place.province, to_ticket_id=new.id, to_number=new.number),
            ),
        ),
        principal,
    )
    return new


# ---------------------------------------------------------------- SLA commitments
def meet(uow, ticket: Ticket, sla: str, at: datetime) -> None:
    """`at` fulfils the ticket's open `sla` commitment; late, it is a breach too (once)."""
    for d in ticket.deadlines:
        verdict = domain.deadline_met(d, sla, at)
        if verdict is None:
            continue
        d.met_at = at
        metrics.sla_outcome(SERVICE, ticket.tenant_id, sla, verdict, ticket.tier)
        if verdict == "late" and d.breached_at is None:
            d.breached_at = at
            uow.emit("sla.breached", domain.breach_event(ticket, d, at))


def mark_breaches(uow, now: datetime) -> int:
    """The watchdog: open deadlines past due are breached (`domain.breach`); how many."""
    breached = 0
    for deadline, ticket in queries.overdue_deadlines(uow.session, now):
        events = domain.breach(ticket, deadline, now)
        if not events:
            continue
        deadline.breached_at = now
        breached += 1
        metrics.sla_outcome(SERVICE, ticket.tenant_id, deadline.sla, "breached", ticket.tier)
        for event, body in events:
            uow.emit(event, body)
    return breached


def mark_at_risk(uow, now: datetime, share: float) -> int:
    """The watchdog: running deadlines past `share` of their window warn once (`sla_watch.at_risk`,
    sla.at_risk); how many."""
    warned = 0
    for deadline, ticket in queries.unwarned_deadlines(uow.session, now):
        events = sla_watch.at_risk(ticket, deadline, now, share)
        if not events:
            continue
        deadline.at_risk_at = now
        warned += 1
        for event, body in events:
            uow.emit(event, body)
    return warned


def re_escalate(uow, now: datetime, chains) -> int:
    """The watchdog: escalations not acknowledged in time go to the next manager
    (`complaints.overdue_escalation`); how many were escalated again."""
    again = 0
    for ticket in queries.overdue_escalations(uow.session, now):
        outcome = complaints.overdue_escalation(ticket, chains, now)
        if outcome is not None:
            again += bool(outcome.events)
            apply(uow, ticket, outcome, uow.principal)
    return again
