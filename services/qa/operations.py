"""What QA does to its tables, one function per use case, inside the caller's unit of work.

The service's entrypoints parse and authorise, then call these. The rules they apply are the
domain's (`domain`, `scorecard`: plain functions deciding changes, follow-ups and events); the
reads that are more than a lookup are in `queries`. Functions that plan callbacks return them,
so the service counts them in its metrics.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, text

from services.qa import complaint_rules, domain, queries, reminders, reports, sampling, scorecard, tracking
from services.qa.models import (
    Callback,
    CenterFact,
    Complaint,
    Scorecard,
    ScoreFactRow,
    ServiceRecord,
    SlaBreach,
    TicketInfo,
)
from shared.clock import as_utc

UTC = UTC


# ---------------------------------------------------------------- building blocks
def callback_record(callback: Callback) -> domain.CallbackRecord:
    """What the domain's result rules read of a callback row."""
    return domain.CallbackRecord(
        id=callback.id,
        tenant_id=callback.tenant_id,
        ticket_id=callback.ticket_id,
        purpose=callback.purpose,
        stratum=callback.stratum,
        period=callback.period,
        status=callback.status,
        service_at=as_utc(callback.service_at),
        caller=callback.caller,
        mode=callback.mode,
        visit_id=callback.visit_id,
        outlet_id=callback.outlet_id,
        attempts=callback.attempts,
        parent_id=callback.parent_id,
    )


def add_callback(uow, tenant_id: str, plan: domain.NewCallback, now: datetime) -> Callback:
    callback = Callback(
        id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        plan_key=plan.plan_key,
        purpose=plan.purpose,
        stratum=plan.stratum,
        mode=domain.STRATUM_MODE.get(plan.stratum, "own"),
        caller=domain.caller_for(plan.stratum, tenant_id),
        ticket_id=plan.ticket_id,
        visit_id=plan.visit_id,
        outlet_id=plan.outlet_id,
        period=plan.period,
        service_at=plan.service_at,
        due_at=plan.due_at,
        planned_at=now,
        sample_key=plan.sample_key,
        parent_id=plan.parent_id,
        status="planned",
        attempts=0,
        negative=False,
    )
    uow.session.add(callback)
    return callback


def record_fact(uow, fact: domain.NewFact, recorded_by: str | None = None) -> ScoreFactRow | None:
    """The fact, unless one with its key is recorded already (a redelivered event, a re-check)."""
    if uow.session.scalar(select(ScoreFactRow.id).where(ScoreFactRow.fact_key == fact.fact_key)) is not None:
        return None
    row = ScoreFactRow(
        tenant_id=fact.tenant_id,
        outlet_id=fact.outlet_id,
        period=domain.local_period(fact.at),
        kind=fact.kind,
        fact_key=fact.fact_key,
        occurrence_key=fact.occurrence_key,
        ref=fact.ref,
        ticket_id=fact.ticket_id,
        at=fact.at,
        source=fact.source,
        recorded_by=recorded_by or uow.principal.user,
        note=fact.note,
        void=False,
    )
    uow.session.add(row)
    return row


def apply(uow, callback: Callback, transition: domain.Transition):
    """A callback's step as the domain decided it: its fields set, its events in the outbox."""
    for name, value in transition.changes.items():
        setattr(callback, name, value)
    for event_type, payload in transition.events:
        uow.emit(event_type, payload)


def lock_month(uow, name: str):
    """Plan one tenant-month at a time: on PostgreSQL concurrent workers would each see only their
    own new job and together overshoot the quota. (SQLite units of work already take turns.)"""
    if uow.session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
        uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# ---------------------------------------------------------------- facts from other services
def record_visit(uow, visit: dict, *, outlet_kind: str, seed: str, clock, policy, now: datetime) -> list[Callback]:
    """A completed job (``visit.completed``): recorded once, its month's callback samples topped up
    to their quotas, its ticket's seven-day tracking call planned (once per ticket), and what it
    shows of the outlet's paperwork recorded as facts."""
    if uow.session.get(ServiceRecord, visit["visit_id"]) is not None:
        return []
    at = visit["at"].astimezone(UTC)
    record = ServiceRecord(
        visit_id=visit["visit_id"],
        tenant_id=visit["tenant_id"],
        ticket_id=visit["ticket_id"],
        outlet_id=visit["outlet_id"],
        outlet_kind=outlet_kind,
        technician_id=visit.get("technician_id"),
        product_line=visit.get("product_line"),
        kind=visit.get("kind"),
        completed_at=at,
        period=domain.local_period(at),
        customer_confirmed=visit.get("customer_confirmed"),
        onsite_on_time=visit.get("onsite_on_time"),
    )
    uow.session.add(record)
    uow.session.flush()
    planned = plan_service_callbacks(uow, record, seed=seed, clock=clock, policy=policy, now=now)
    existing = uow.session.scalars(select(Callback).where(Callback.ticket_id == record.ticket_id)).all()
    track = tracking.plan_tracking(
        visit, at, [callback_record(row) for row in existing], clock=clock, policy=policy, now=now
    )
    if track is not None:
        planned.append(add_callback(uow, record.tenant_id, track, now))
    for fact in domain.visit_facts(visit, at):
        record_fact(uow, fact)
    return planned


def plan_service_callbacks(uow, record: ServiceRecord, *, seed: str, clock, policy, now: datetime) -> list[Callback]:
    """Each sampler's sample of the record's month, topped up to its quota over the whole population
    it covers in the tenant (`sampling.allocate`; the session acts for the record's tenant)."""
    lock_month(uow, f"{record.tenant_id}|{record.period}")
    planned = []
    for stratum in sampling.strata_for(record.outlet_kind):
        rate = sampling.QUOTAS[stratum]
        history = queries.sampler_history(uow.session, stratum, sampling.previous_periods(record.period))
        parts = sampling.outlet_parts(
            queries.sampler_jobs(uow.session, stratum, record.period),
            queries.sampler_selected(uow.session, stratum, record.period),
            sampling.carry(rate, history),
        )
        for visit_id in sampling.allocate(rate, parts, seed=seed, stratum=stratum, period=record.period):
            served = record if visit_id == record.visit_id else uow.session.get(ServiceRecord, visit_id)
            service_at = as_utc(served.completed_at)
            planned.append(
                add_callback(
                    uow,
                    record.tenant_id,
                    domain.NewCallback(
                        plan_key=f"service:{stratum}:{visit_id}",
                        purpose="service",
                        stratum=stratum,
                        ticket_id=served.ticket_id,
                        visit_id=visit_id,
                        outlet_id=served.outlet_id,
                        period=served.period,
                        service_at=service_at,
                        due_at=domain.sampled_callback_due(clock, policy, service_at, as_utc(record.completed_at)),
                        sample_key=sampling.sample_key(seed, stratum, visit_id)[:16],
                    ),
                    now,
                )
            )
    return planned


def record_ticket(uow, ticket: dict):
    """A registered request (``ticket.registered``): kept for the reports; a complaint opens its
    analysis; a request on a closed complaint's machine within its re-check period is a recurrence
    (also after a check that found none: the request may reach QA after the check ran)."""
    if uow.session.get(TicketInfo, ticket["ticket_id"]) is not None:
        return
    received = ticket["received_at"].astimezone(UTC)
    uow.session.add(
        TicketInfo(
            id=ticket["ticket_id"],
            tenant_id=ticket["tenant_id"],
            number=ticket["number"],
            kind=ticket["kind"],
            tier=ticket.get("tier"),
            product_line=ticket.get("product_line"),
            model=ticket.get("model"),
            serial_no=ticket.get("serial_no"),
            received_at=received,
        )
    )
    if ticket["kind"] == "complaint":
        complaint = uow.session.get(Complaint, ticket["ticket_id"])
        if complaint is None:
            complaint = Complaint(ticket_id=ticket["ticket_id"], tenant_id=ticket["tenant_id"], number=ticket["number"])
            uow.session.add(complaint)
        complaint.received_at = received
        for name in ("product_line", "model", "serial_no", "fault"):
            setattr(complaint, name, ticket.get(name))
    if ticket.get("serial_no"):  # 定期确认不良有无再发生
        for complaint in uow.session.scalars(
            select(Complaint).where(
                Complaint.serial_no == ticket["serial_no"],
                Complaint.recurrence_status.in_(("pending", "none")),
                Complaint.ticket_id != ticket["ticket_id"],
            )
        ).all():
            if complaint_rules.is_recurrence(as_utc(complaint.closed_at), as_utc(complaint.recurrence_due), received):
                complaint.recurrence_status, complaint.recurrence_ticket_id = "recurred", ticket["ticket_id"]


def record_closing(uow, closing: dict, *, recurrence_days: int, clock, policy, now: datetime) -> list[Callback]:
    """A closed request (``ticket.closed``); a complaint gets its callback by the center that took it
    within three working days (`tracking.complaint_callback`) and its recurrence re-check date."""
    closed = closing["closed_at"].astimezone(UTC)
    info = uow.session.get(TicketInfo, closing["ticket_id"])
    if info is not None:
        info.closed_at, info.outcome = closed, closing["outcome"]
        info.outlet_id = closing.get("assigned_outlet_id") or info.outlet_id
    if closing["kind"] != "complaint":
        return []
    complaint = uow.session.get(Complaint, closing["ticket_id"])
    if complaint is None:  # registered before QA listened: what the closing tells is enough
        complaint = Complaint(
            ticket_id=closing["ticket_id"], tenant_id=closing["tenant_id"], number=closing["number"], received_at=closed
        )
        uow.session.add(complaint)
    complaint.closed_at, complaint.outcome = closed, closing["outcome"]
    complaint.outlet_id = complaint.outlet_id or closing.get("assigned_outlet_id")
    if closing["outcome"] == "cancelled":
        return []
    complaint.recurrence_due = complaint_rules.recurrence_due(closed, recurrence_days)
    complaint.recurrence_status = "pending"
    planned = []
    plan = tracking.complaint_callback(dict(closing, closed_at=closed), complaint.outlet_id, clock=clock, policy=policy)
    if plan and uow.session.scalar(select(Callback.id).where(Callback.plan_key == plan.plan_key)) is None:
        planned.append(add_callback(uow, closing["tenant_id"], plan, now))
    if complaint.classified_at is not None:
        record_complaint_fact(uow, complaint)
    return planned


def record_breach(uow, breach: dict):
    """A missed SLA deadline (``sla.breached``), once per ticket and SLA, charged to whoever owns it:
    an outlet's late visit on its scorecard, a center's deadline on the center's facts."""
    exists = uow.session.scalar(
        select(SlaBreach.id).where(SlaBreach.ticket_id == breach["ticket_id"], SlaBreach.sla == breach["sla"])
    )
    if exists is not None:
        return
    due = breach["due_at"].astimezone(UTC)
    uow.session.add(
        SlaBreach(
            tenant_id=breach["tenant_id"],
            ticket_id=breach["ticket_id"],
            sla=breach["sla"],
            due_at=due,
            detected_at=breach["detected_at"].astimezone(UTC),
            outlet_id=breach.get("assigned_outlet_id"),
        )
    )
    fact = domain.breach_fact(breach, due)
    if isinstance(fact, domain.NewCenterFact):
        record_center_fact(uow, fact)
    else:
        record_fact(uow, fact)


def record_center_fact(uow, fact: domain.NewCenterFact) -> CenterFact | None:
    """A fact the center answers for, unless recorded already (a redelivered event)."""
    if uow.session.scalar(select(CenterFact.id).where(CenterFact.fact_key == fact.fact_key)) is not None:
        return None
    row = CenterFact(
        tenant_id=fact.tenant_id,
        fact_key=fact.fact_key,
        kind=fact.kind,
        sla=fact.sla,
        period=domain.local_period(fact.at),
        ref=fact.ref,
        ticket_id=fact.ticket_id,
        outlet_id=fact.outlet_id,
        at=fact.at,
        source=fact.source,
        note=fact.note,
    )
    uow.session.add(row)
    return row


# ---------------------------------------------------------------- the callback agent's work
def record_result(
    uow, callback: Callback, answers: dict, *, at: datetime, agent: str, now: datetime, policies
) -> tuple[domain.Transition, list[Callback]]:
    """The call's result as `domain.record_result` decides it: applied, its norm breaches recorded,
    its follow-up planned, and the negative callback a satisfied follow-up resolves closed."""
    transition = domain.record_result(
        callback_record(callback),
        answers,
        at=at,
        agent=agent,
        now=now,
        clock=policies.clock,
        policy=policies.sla_policy(callback.tenant_id),
    )
    apply(uow, callback, transition)
    for fact in transition.facts:
        record_fact(uow, fact)
    key = tracking.tracking_key(callback.ticket_id)
    track = uow.session.scalars(select(Callback).where(Callback.plan_key == key)).first()
    followup, adopt = tracking.followup_or_tracking(transition.followup, track and callback_record(track))
    if adopt:  # the ticket's tracking call, still to make, is the follow-up (七天内用户追踪 once)
        apply(uow, track, domain.Transition(adopt))
    planned = [add_callback(uow, callback.tenant_id, followup, now)] if followup else []
    if transition.closes_parent:
        parent = uow.session.get(Callback, callback.parent_id)
        closing = domain.resolve_by_followup(parent and callback_record(parent), callback.id, callback.satisfaction, at)
        if closing is not None:
            apply(uow, parent, closing)
    return transition, planned


def close_callback(uow, callback: Callback, outcome: str, note: str, at: datetime):
    apply(uow, callback, domain.close(callback_record(callback), outcome, note, at))


def plan_care(uow, tenant: str, month: str, *, seed: str, clock, now: datetime) -> tuple[dict, list[Callback]]:
    """每月按20%比例电话慰问: the month's care-call list of a tenant, topped up to 20% of the customers
    (tickets) served, each called once about their latest job, shared among the outlets that served
    them by largest remainder (`sampling.allocate`)."""
    served = (
        uow.session.execute(
            select(ServiceRecord).where(ServiceRecord.period == month).order_by(ServiceRecord.completed_at)
        )
        .scalars()
        .all()
    )
    latest = {record.ticket_id: record for record in served}
    existing = queries.care_selected(uow.session, month)
    customers: dict[str, list[str]] = {}
    for ticket_id, record in latest.items():
        customers.setdefault(record.outlet_id, []).append(ticket_id)
    rate = sampling.CARE_QUOTA
    history = queries.care_history(uow.session, sampling.previous_periods(month))
    parts = sampling.outlet_parts(customers, existing, sampling.carry(rate, history))
    chosen = sampling.allocate(rate, parts, seed=seed, stratum=sampling.CARE, period=month)
    due = domain.care_due(clock, month)
    planned = []
    for ticket_id in chosen:
        record = latest[ticket_id]
        planned.append(
            add_callback(
                uow,
                tenant,
                domain.NewCallback(
                    plan_key=f"care:{month}:{ticket_id}",
                    purpose="care",
                    stratum="care",
                    ticket_id=ticket_id,
                    visit_id=record.visit_id,
                    outlet_id=record.outlet_id,
                    period=month,
                    service_at=as_utc(record.completed_at),
                    due_at=due,
                ),
                now,
            )
        )
    summary = {
        "customers": len(latest),
        "planned": len(chosen),
        "listed": len(existing) + len(chosen),
        "due_at": due.isoformat(),
    }
    return summary, planned


# ---------------------------------------------------------------- complaints
def classify_complaint(
    uow, complaint: Complaint, classification: dict, *, outlet_center: str | None, user: str, now: datetime
):
    complaint.outlet_id = complaint_rules.classified_outlet(
        complaint.tenant_id, complaint.outlet_id, classification, outlet_center
    )
    complaint.cause, complaint.responsibility = classification["cause"], classification["responsibility"]
    complaint.level, complaint.department = classification["level"], classification.get("department")
    complaint.classified_by, complaint.classified_at = user, now
    record_complaint_fact(uow, complaint)


def record_complaint_fact(uow, complaint: Complaint):
    """The complaint on the outlet's customer-opinion line, or voided when reclassified."""
    kind = complaint_rules.complaint_fact_kind(complaint.responsibility, complaint.level)
    key = f"complaint:{complaint.ticket_id}"
    row = uow.session.scalars(select(ScoreFactRow).where(ScoreFactRow.fact_key == key)).first()
    if kind is None or not complaint.outlet_id:
        if row is not None:
            row.void = True
        return
    note = f"cause {complaint.cause}, {complaint.level}"
    if row is None:
        record_fact(
            uow,
            domain.NewFact(
                complaint.tenant_id,
                complaint.outlet_id,
                kind,
                key,
                key,
                f"ticket:{complaint.number}",
                as_utc(complaint.received_at),
                "complaint",
                complaint.ticket_id,
                note,
            ),
            recorded_by=complaint.classified_by,
        )
    else:
        row.kind, row.outlet_id, row.void, row.note = kind, complaint.outlet_id, False, note


def check_recurrences(uow, now: datetime) -> dict:
    """Closed complaints whose re-check period has passed: recurred (a later request on the same
    machine within it) or confirmed free of recurrence."""
    done = {"none": 0, "recurred": 0}
    for complaint in uow.session.scalars(
        select(Complaint).where(Complaint.recurrence_status == "pending", Complaint.recurrence_due <= now)
    ).all():
        again = queries.later_request_on_machine(uow.session, complaint)
        complaint.recurrence_status = "recurred" if again else "none"
        complaint.recurrence_ticket_id = again
        done[complaint.recurrence_status] += 1
    return done


def remind_due_callbacks(uow, now: datetime, lead) -> int:
    """Planned callbacks coming due within `lead` and not told of yet: callback.due to their
    caller, once each (`reminders.comes_due`); how many."""
    told = 0
    for callback in uow.session.scalars(
        select(Callback)
        .where(Callback.status.in_(domain.OPEN), Callback.due_notified_at.is_(None), Callback.due_at <= now + lead)
        .order_by(Callback.due_at)
        .limit(2000)
    ).all():
        if not reminders.comes_due(callback, now, lead):
            continue
        callback.due_notified_at = now
        info = uow.session.get(TicketInfo, callback.ticket_id)
        uow.emit("callback.due", reminders.due_event(callback, info.number if info else None))
        told += 1
    return told


# ---------------------------------------------------------------- score facts and the scorecard
def record_finding(uow, outlet, finding: dict, *, at: datetime, user: str) -> ScoreFactRow:
    """A fact a center or HQ found (inspection, file audit, letter of praise); one occurrence per ref."""
    ref = finding.get("ref") or f"finding:{uuid.uuid4().hex[:12]}"
    return record_fact(
        uow,
        domain.NewFact(
            outlet.center,
            outlet.id,
            finding["kind"],
            f"finding:{uuid.uuid4().hex}",
            f"{finding['kind']}:{ref}",
            ref,
            at,
            "finding",
            finding.get("ticket_id"),
            finding["note"],
        ),
        recorded_by=user,
    )


def score(uow, outlet_id: str, month: str, asof: datetime, thresholds: scorecard.Thresholds | None = None) -> dict:
    """The outlet's month as its facts stand at `asof` (`scorecard.monthly_card`: rated, or 未评)."""
    facts = [
        scorecard.ScoreFact(row.kind, row.occurrence_key, row.ref, as_utc(row.at), row.source, row.note)
        for row in queries.score_facts(uow.session, outlet_id, month)
    ]
    facts += scorecard.missed_callback_facts(queries.staff_callbacks_due(uow.session, outlet_id, month, asof))
    return scorecard.monthly_card(facts, queries.jobs(uow.session, outlet_id, month), thresholds)


def publish_scorecards(
    uow, outlets, month: str, *, user: str, now: datetime, thresholds: scorecard.Thresholds | None = None
) -> dict:
    """Every outlet's card of the month stored (again, if published before); the rated ones ranked
    in their center and nationwide and published with ``qa.scorecard_published``; the not rated
    (未评) stored without score or rank and not published (certification keeps their grade).
    Returns {outlet id: (outlet, card)}."""
    cards = {outlet.id: (outlet, score(uow, outlet.id, month, now, thresholds)) for outlet in outlets}
    ranks = scorecard.rank_outlets(
        [(outlet.id, outlet.center, card["score"]) for outlet, card in cards.values() if card["rated"]]
    )
    existing = {row.outlet_id: row for row in uow.session.scalars(select(Scorecard).where(Scorecard.month == month))}
    for outlet_id, (outlet, card) in cards.items():
        in_tenant, nationwide = ranks.get(outlet_id, (None, None))
        row = existing.get(outlet_id) or Scorecard(tenant_id=outlet.center, outlet_id=outlet_id, month=month)
        row.rated, row.score, row.stars, row.grade = card["rated"], card["score"], card["stars"], card["grade"]
        row.jobs, row.lines = card["jobs"], reports.jsonable(card["lines"])
        row.rank_in_tenant, row.rank_nationwide = in_tenant, nationwide
        row.published_at, row.published_by = now, user
        uow.session.add(row)
        if not card["rated"]:
            continue
        uow.emit(
            "qa.scorecard_published",
            {
                "tenant_id": outlet.center,
                "outlet_id": outlet_id,
                "month": month,
                "score": card["score"],
                "stars": card["stars"],
                "grade": card["grade"],
                "rank_in_tenant": in_tenant,
                "rank_nationwide": nationwide,
            },
        )
    return cards


def month_to_publish(session, month: str) -> bool:
    """A month QA followed (a job recorded) whose scorecards are not published yet. A month QA did
    not follow has no facts: no scorecards rather than 100s."""
    published = session.scalar(select(func.count(Scorecard.id)).where(Scorecard.month == month))
    return bool(queries.jobs(session, month=month)) and not published


# ---------------------------------------------------------------- reports
def report_rows(session, kind: str, query: dict, now: datetime) -> list[dict]:
    """The rows of a report (`reports.COLUMNS[kind]`) for a tenant (or all the caller sees) and a
    month (or from a month on)."""
    tenant_id, month, since = query.get("tenant_id"), query.get("month"), query.get("since")
    if kind == "ontime":
        return reports.ontime_rows(*queries.ontime_figures(session, tenant_id=tenant_id, month=month, since=since))
    if kind == "callbacks":
        return reports.callback_rows(
            queries.callback_figures(session, now=now, tenant_id=tenant_id, month=month, since=since)
        )
    if kind == "satisfaction":
        return reports.satisfaction_rows(
            queries.satisfaction_figures(session, tenant_id=tenant_id, month=month, since=since)
        )
    if kind == "pareto":
        complaints = queries.complaints(session, tenant_id=tenant_id, since=since or month, until=month)
        return reports.pareto_rows(complaint_rules.analyse_complaints(complaints)["pareto"])
    if kind == "ranking":
        return reports.ranking_rows(queries.ranking(session, tenant_id=tenant_id, month=month))
    raise ValueError(f"no report {kind!r}")
