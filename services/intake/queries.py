"""What intake reads: ticket lists and the service ledger (台帐), the SLA summary, an audit trail,
the open deadlines past due, and what the fact rules need to know of the audit trail. Every
query runs in the caller's session, which scopes it to the caller's tenant, outlet or customer.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy import Select, case, exists, func, or_, select

from services.intake import domain, outlook
from services.intake import ledger_cells as cells
from services.intake.models import AuditEntry, SlaDeadline, Ticket
from services.intake.sla_report import DeadlineFact
from shared.clock import as_utc


def tickets(q: dict) -> Select:
    """The tickets a list query (schemas.ListQuery) asks for, unordered."""
    stmt = select(Ticket)
    for key in ("status", "kind", "tier", "tenant_id", "channel"):
        if q.get(key):
            stmt = stmt.where(getattr(Ticket, key) == q[key])
    if q.get("received_from"):
        stmt = stmt.where(Ticket.received_at >= q["received_from"])
    if q.get("received_to"):
        stmt = stmt.where(Ticket.received_at < q["received_to"])
    if q.get("outlet_id"):
        stmt = stmt.where(Ticket.assigned_outlet_id == q["outlet_id"])
    if q.get("due_before"):  # work still due: open tickets only (a closed one's deadlines no longer run)
        stmt = stmt.where(
            Ticket.status.in_(domain.OPEN_STATUSES),
            exists().where(
                SlaDeadline.ticket_id == Ticket.id,
                SlaDeadline.met_at.is_(None),
                SlaDeadline.due_at < q["due_before"],
            ),
        )
    if q.get("q"):
        like = f"%{q['q']}%"
        stmt = stmt.where(
            or_(
                Ticket.number.like(like),
                Ticket.customer_name.like(like),
                Ticket.serial_no.like(like),
                Ticket.phone.like(like),
            )
        )
    return stmt


def ticket_page(session, q: dict) -> tuple[list[Ticket], int]:
    """One page of the tickets, newest received first (``order=due``: open tickets by their
    earliest deadline not yet met, then the others newest first), and how many there are in all."""
    stmt = tickets(q)
    # count over the entity itself: a count over a subquery escapes the tenant scope
    total = session.scalar(stmt.with_only_columns(func.count(Ticket.id)))
    if q.get("order") == "due":
        earliest = (
            select(func.min(SlaDeadline.due_at))
            .where(SlaDeadline.ticket_id == Ticket.id, SlaDeadline.met_at.is_(None))
            .scalar_subquery()
        )
        running = case((Ticket.status.in_(domain.OPEN_STATUSES), earliest), else_=None)
        order = (running.is_(None), running, Ticket.received_at.desc(), Ticket.id)
    else:
        order = (Ticket.received_at.desc(), Ticket.id)
    rows = session.scalars(stmt.order_by(*order).limit(q["limit"]).offset(q["offset"])).all()
    return list(rows), total


def audit_trail(session, ticket_id: str) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket_id).order_by(AuditEntry.id)))


def complaint_report(session, ticket_id: str) -> dict | None:
    """The latest complaint handling report archived with the case's `report` step, else None."""
    for entry in reversed(audit_trail(session, ticket_id)):
        if entry.action == "report" and entry.data and entry.data.get("report"):
            return entry.data["report"]
    return None


def audit_rows(session, ticket_id: str):
    """The ticket's audit rows in any order (to move them along with the ticket's scope)."""
    return session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket_id))


def visit_scheduled_times(session, ticket_id: str, visit_id: str) -> list[datetime]:
    """When `visit_id` was scheduled for the ticket (the facts' own times, as audited)."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.ticket_id == ticket_id, AuditEntry.action == "visit_scheduled")
        .order_by(AuditEntry.id)
    )
    return [
        datetime.fromisoformat(a.data["at"])
        for a in entries
        if (a.data or {}).get("visit_id") == visit_id and a.data.get("at")
    ]


def return_visit_completed(session, ticket_id: str, callback_id: str) -> bool:
    """Whether a visit was completed after the (latest) negative callback `callback_id`."""
    entries = audit_trail(session, ticket_id)
    negative = max(
        (a.id for a in entries if a.action == "callback_negative" and (a.data or {}).get("callback_id") == callback_id),
        default=None,
    )
    return negative is not None and any(a.id > negative and a.action == "visit_completed" for a in entries)


def overdue_deadlines(session, now: datetime, limit: int = 1000) -> list[tuple[SlaDeadline, Ticket]]:
    """Open tickets' deadlines past due, neither met nor breached yet."""
    return list(
        session.execute(
            select(SlaDeadline, Ticket)
            .join(SlaDeadline.ticket)
            .where(
                SlaDeadline.met_at.is_(None),
                SlaDeadline.breached_at.is_(None),
                SlaDeadline.due_at < now,
                Ticket.status.in_(domain.OPEN_STATUSES),
            )
            .limit(limit)
        ).all()
    )


def unwarned_deadlines(session, now: datetime, limit: int = 2000) -> list[tuple[SlaDeadline, Ticket]]:
    """Open tickets' deadlines still running (not due, met, breached nor warned of), soonest due
    first: those `sla_watch.at_risk` may warn of."""
    return list(
        session.execute(
            select(SlaDeadline, Ticket)
            .join(SlaDeadline.ticket)
            .where(
                SlaDeadline.met_at.is_(None),
                SlaDeadline.breached_at.is_(None),
                SlaDeadline.at_risk_at.is_(None),
                SlaDeadline.due_at > now,
                Ticket.status.in_(domain.OPEN_STATUSES),
            )
            .order_by(SlaDeadline.due_at)
            .limit(limit)
        ).all()
    )


def overdue_escalations(session, now: datetime, limit: int = 1000) -> list[Ticket]:
    """Tickets whose escalation to a named manager was not acknowledged by its due time."""
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.escalation_ack_due.is_not(None), Ticket.escalation_acked_at.is_(None))
            .where(Ticket.escalation_ack_due < now)
            .limit(limit)
        )
    )


def open_breaches(session) -> dict[str, int]:
    """Per tenant: deadlines breached (past due, unmet) of tickets still open."""
    rows = session.execute(
        select(SlaDeadline.tenant_id, func.count())
        .join(SlaDeadline.ticket)
        .where(
            SlaDeadline.breached_at.is_not(None),
            SlaDeadline.met_at.is_(None),
            Ticket.status.in_(domain.OPEN_STATUSES),
        )
        .group_by(SlaDeadline.tenant_id)
    ).all()
    return {tenant: int(n) for tenant, n in rows}


def sla_summary(session) -> dict:
    """Per tenant: tickets by SLA tier (open or not) and the earliest open on-site deadlines."""
    counts = session.execute(
        select(Ticket.tenant_id, Ticket.tier, func.count()).group_by(Ticket.tenant_id, Ticket.tier)
    ).all()
    earliest = session.execute(
        select(Ticket.tenant_id, Ticket.number, SlaDeadline.due_at, Ticket.tier)
        .join(SlaDeadline.ticket)
        .where(SlaDeadline.sla == "onsite", SlaDeadline.met_at.is_(None), Ticket.status.in_(domain.OPEN_STATUSES))
        .order_by(SlaDeadline.due_at)
    ).all()
    summary: dict = {}
    for tenant, tier, n in counts:
        entry = summary.setdefault(tenant, {"by_tier": {}, "earliest_onsite": []})
        entry["by_tier"][tier or "unplaced"] = n
    for tenant, number, due, tier in earliest:
        entry = summary.setdefault(tenant, {"by_tier": {}, "earliest_onsite": []})
        if len(entry["earliest_onsite"]) < 3:
            entry["earliest_onsite"].append({"number": number, "due_at": as_utc(due).isoformat(), "tier": tier})
    return summary


def sla_facts(session, since: datetime, until: datetime, sla: str | None, now: datetime) -> list[DeadlineFact]:
    """The deadlines due in [since, until) (one commitment, or all) with where each stands now."""
    stmt = (
        select(SlaDeadline, Ticket.tenant_id, Ticket.tier, Ticket.status, Ticket.received_at)
        .join(SlaDeadline.ticket)
        .where(SlaDeadline.due_at >= since, SlaDeadline.due_at < until)
    )
    if sla:
        stmt = stmt.where(SlaDeadline.sla == sla)
    return [
        DeadlineFact(
            tenant,
            tier,
            as_utc(d.due_at),
            outlook.deadline_state(d, as_utc(received), status in domain.OPEN_STATUSES, now),
        )
        for d, tenant, tier, status, received in session.execute(stmt).all()
    ]


# ---------------------------------------------------------------- the service ledger (服务信息台帐)
LEDGER_COLUMNS = [
    ("number", "工单号"),
    ("tenant_id", "服务中心"),
    ("customer_name", "客户"),
    ("address", "地址"),
    ("phone", "电话"),
    ("model", "型号"),
    ("serial_no", "出厂编号"),
    ("purchase_date", "购买日期"),
    ("fault", "反映问题"),
    ("kind", "要求"),
    ("received_at", "受理时间"),
    ("onsite_at", "上门时间"),
    ("closed_at", "完成时间"),
    ("service_mode", "服务方式"),
    ("work_done", "服务内容"),
    ("technician_name", "服务人员"),
    ("callback", "回访记录"),
    ("channel", "受理渠道"),
    ("status", "状态"),
    ("warranty", "保修/自费"),
    ("owner_user", "首问负责人"),
    ("assigned_outlet_id", "服务网点"),
]
# the cells that are more than a column (services.intake.ledger_cells)
LEDGER_CELLS = {"service_mode": cells.service_mode, "callback": cells.callback_record}


def ledger(session, q: dict) -> list[dict]:
    """One page of the ledger, oldest received first: one row per ticket, as the seed's columns."""
    rows = session.scalars(tickets(q).order_by(Ticket.received_at, Ticket.id).limit(q["limit"]).offset(q["offset"]))
    return [ledger_row(t) for t in rows]


def ledger_row(t) -> dict:
    row = {}
    for column, _ in LEDGER_COLUMNS:
        value = LEDGER_CELLS[column](t) if column in LEDGER_CELLS else getattr(t, column)
        if isinstance(value, datetime):
            value = cells.local_text(value)
        elif value is not None and not isinstance(value, (str, int, float)):
            value = value.isoformat()
        row[column] = value
    return row


def ledger_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[c for c, _ in LEDGER_COLUMNS])
    writer.writerow({c: label for c, label in LEDGER_COLUMNS})
    writer.writerows(rows)
    return buf.getvalue()
