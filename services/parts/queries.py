"""What parts answers: the read side of its entrypoints, each a query over the caller's session
(which scopes every row to what the caller may see) turned into the dicts the RPCs return.

Nothing here writes. The service loads the query with its schema and passes it in; the
rules the answers apply (ageing, overdue, the balance check) are `domain`'s.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from sqlalchemy import case, func, select

from services.parts import domain, ledger
from services.parts.domain import DEFECTIVE, ReservationStatus, RmaStatus
from services.parts.models import (
    Location,
    Movement,
    Part,
    Reconciliation,
    RejectedReceipt,
    Reservation,
    Rma,
    Scan,
    StockBalance,
)
from services.parts.operations import location
from shared.db import as_utc
from shared.errors import NotFound


# ---------------------------------------------------------------- shapes of the answers
def iso(value):
    value = as_utc(value)
    return value.isoformat() if value is not None else None


def amount_text(value):
    """A money amount as the API gives it: a decimal string, or None."""
    return None if value is None else str(value)


def part_out(p) -> dict:
    return {
        "part_no": p.part_no,
        "name": p.name,
        "product_line": p.product_line,
        "kind": p.kind,
        "fits": list(p.fits),
        "returnable": p.returnable,
        "unit_cost": amount_text(p.unit_cost),
    }


def movement_out(m: Movement) -> dict:
    return {
        "movement_no": m.movement_no,
        "kind": m.kind,
        "location_id": m.location_id,
        "counterpart_id": m.counterpart_id,
        "part_no": m.part_no,
        "condition": m.condition,
        "quantity": m.quantity,
        "reason": m.reason,
        "ref": m.ref,
        "serials": m.serials or [],
        "occurred_at": iso(m.occurred_at),
        "user": m.user,
    }


def reservation_out(r: Reservation) -> dict:
    return {
        "id": r.id,
        "tenant_id": r.tenant_id,
        "visit_id": r.visit_id,
        "ticket_id": r.ticket_id,
        "outlet_id": r.outlet_id,
        "warehouse_id": r.warehouse_id,
        "part_no": r.part_no,
        "quantity": r.quantity,
        "status": r.status,
        "source": r.source,
        "created_at": iso(r.created_at),
        "issued_at": iso(r.issued_at),
        "movement_no": r.movement_no,
    }


def rma_out(r: Rma, now) -> dict:
    until = as_utc(r.warehouse_received_at) or now
    age, bucket = domain.ageing(as_utc(r.created_at), until)
    return {
        "rma_no": r.rma_no,
        "tenant_id": r.tenant_id,
        "outlet_id": r.outlet_id,
        "warehouse_id": r.warehouse_id,
        "part_no": r.part_no,
        "quantity": r.quantity,
        "removed_serial": r.removed_serial,
        "new_serial": r.new_serial,
        "visit_id": r.visit_id,
        "ticket_id": r.ticket_id,
        "unit_cost": amount_text(r.unit_cost),
        "status": r.status,
        "created_at": iso(r.created_at),
        "due_at": iso(r.due_at),
        "overdue": domain.is_overdue(r.status, as_utc(r.due_at), now),
        "overdue_notified_at": iso(r.overdue_at),
        "shipped_at": iso(r.shipped_at),
        "waybill_no": r.waybill_no,
        "carrier": r.carrier,
        "shipped_by": r.shipped_by,
        "age_days": age,
        "ageing": bucket,
        "warehouse_received_at": iso(r.warehouse_received_at),
        "warehouse_location_id": r.warehouse_location_id,
        "warehouse_serial": r.warehouse_serial,
        "warehouse_quantity": r.warehouse_quantity,
        "late": r.late,
        "factory_received_at": iso(r.factory_received_at),
        "factory_serial": r.factory_serial,
        "inspection": r.inspection,
        "inspected_at": iso(r.inspected_at),
        "inspection_note": r.inspection_note,
    }


def reconciliation_out(r: Reconciliation) -> dict:
    return {
        "location_id": r.location_id,
        "location_kind": r.location_kind,
        "tenant_id": r.tenant_id,
        "month": r.month,
        "figures": r.figures,
        "discrepancies": r.discrepancies,
        "discrepancy_count": r.discrepancy_count,
        "run_at": iso(r.run_at),
    }


def _page(session, stmt, count_column, order_by, q):
    """(total, rows of this page) of `stmt`."""
    total = session.scalar(stmt.with_only_columns(func.count(count_column)))
    rows = session.scalars(stmt.order_by(*order_by).limit(q["limit"]).offset(q["offset"])).all()
    return total, rows


def _where_equal(stmt, model, q, keys):
    for key in keys:
        if q[key]:
            stmt = stmt.where(getattr(model, key) == q[key])
    return stmt


# ---------------------------------------------------------------- catalogue and locations
def catalogue_parts(catalogue: domain.Catalogue, q: dict) -> dict:
    """The parts that fit a line (and model); with a fault, its class and what it needs."""
    parts = catalogue.fitting(q["product_line"], q["model"])
    out = {"parts": [part_out(p) for p in sorted(parts, key=lambda p: p.part_no)]}
    if q["fault"]:
        out["fault_class"] = catalogue.fault_class(q["product_line"], q["fault"])
        out["needs"] = [
            {"part_no": n, "quantity": qty} for n, qty in catalogue.needs(q["product_line"], q["model"], q["fault"])
        ]
    return out


def visible_locations(session, principal) -> list[dict]:
    rows = session.scalars(select(Location).order_by(Location.id)).all()
    return [
        {"id": r.id, "kind": r.kind, "tenant_id": r.tenant_id, "name": r.name, "parent_id": r.parent_id}
        for r in rows
        if domain.may_see_location(principal, r)
    ]


def location_specs(session, principal) -> dict[str, domain.LocationSpec]:
    """Every location the caller may see, detached from the session (for a reconciliation)."""
    return {
        l.id: domain.LocationSpec(l.id, l.kind, l.tenant_id, l.name, l.parent_id)
        for l in session.scalars(select(Location))
        if domain.may_see_location(principal, l)
    }


def visible_outlet(session, principal, outlet_id: str):
    """The outlet, if the caller may see it; else NotFound (as for a location that does not exist)."""
    loc = location(session, outlet_id, "outlet_id")
    if not domain.may_see_location(principal, loc) or loc.kind != domain.OUTLET:
        raise NotFound(f"outlet {outlet_id} not found")
    return loc


# ---------------------------------------------------------------- stock and movements
def stock(session, q: dict) -> dict:
    stmt = select(StockBalance, Part).join(Part, Part.part_no == StockBalance.part_no)
    stmt = _where_equal(stmt, StockBalance, q, ("location_id", "part_no", "condition"))
    if q["product_line"]:
        stmt = stmt.where(Part.product_line == q["product_line"])
    if not q["include_zero"]:
        stmt = stmt.where(StockBalance.on_hand > 0)
    total = session.scalar(stmt.with_only_columns(func.count(StockBalance.part_no)))
    rows = session.execute(
        stmt.order_by(StockBalance.location_id, StockBalance.part_no, StockBalance.condition)
        .limit(q["limit"])
        .offset(q["offset"])
    ).all()
    items = [
        {
            "location_id": b.location_id,
            "tenant_id": b.tenant_id,
            "part_no": b.part_no,
            "name": p.name,
            "condition": b.condition,
            "on_hand": b.on_hand,
            "reserved": b.reserved,
            "available": b.on_hand - b.reserved,
            "unit_cost": amount_text(p.unit_cost),
            "value": amount_text(p.unit_cost * b.on_hand),
        }
        for b, p in rows
    ]
    return {"items": items, "total": total, "limit": q["limit"], "offset": q["offset"]}


def movements(session, q: dict) -> dict:
    stmt = _where_equal(select(Movement), Movement, q, ("location_id", "part_no", "kind"))
    if q["month"]:
        start, end = domain.parse_month(q["month"])
        stmt = stmt.where(Movement.occurred_at >= start, Movement.occurred_at < end)
    total, rows = _page(session, stmt, Movement.id, (Movement.occurred_at.desc(), Movement.id.desc()), q)
    return {"items": [movement_out(m) for m in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}


def balance_check(session, principal, location_id: str | None) -> dict:
    """The stored balances the caller may see next to the same balances summed from movements."""
    if location_id:
        loc = location(session, location_id)
        if not domain.may_see_location(principal, loc):
            raise NotFound(f"location {location_id} not found")
    stored = {
        (b.location_id, b.part_no, b.condition): b.on_hand
        for b in session.scalars(
            select(StockBalance).where(*([StockBalance.location_id == location_id] if location_id else []))
        )
    }
    from_movements = ledger.recomputed_balances(session, [location_id] if location_id else None)
    rows = domain.balance_rows(stored, from_movements)
    return {"rows": rows, "mismatches": [r for r in rows if r["balance"] != r["from_movements"]]}


# ---------------------------------------------------------------- reservations
def reservations(session, q: dict) -> dict:
    stmt = _where_equal(select(Reservation), Reservation, q, ("outlet_id", "visit_id", "status"))
    total, rows = _page(session, stmt, Reservation.id, (Reservation.created_at.desc(), Reservation.id), q)
    return {"items": [reservation_out(r) for r in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}


def reservation(session, reservation_id) -> Reservation:
    res = session.get(Reservation, reservation_id) if isinstance(reservation_id, str) else None
    if res is None:
        raise NotFound(f"reservation {reservation_id} not found")
    return res


# ---------------------------------------------------------------- returns (RMA) and scans
def rmas(session, q: dict, now) -> dict:
    stmt = _where_equal(select(Rma), Rma, q, ("outlet_id", "status", "visit_id"))
    if q["overdue"] is True:
        stmt = stmt.where(Rma.status == RmaStatus.OPEN, Rma.due_at < now)
    elif q["overdue"] is False:
        stmt = stmt.where((Rma.status != RmaStatus.OPEN) | (Rma.due_at >= now))
    total, rows = _page(session, stmt, Rma.rma_no, (Rma.created_at.desc(), Rma.rma_no), q)
    return {"items": [rma_out(r, now) for r in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}


def rma_row(session, rma_no) -> Rma:
    row = session.get(Rma, rma_no) if isinstance(rma_no, str) and rma_no else None
    if row is None:
        raise NotFound(f"RMA {rma_no} not found")
    return row


def rma(session, rma_no, now) -> dict:
    """One RMA with the movements that carried its old part."""
    row = rma_row(session, rma_no)
    out = rma_out(row, now)
    out["movements"] = [
        movement_out(m)
        for m in session.scalars(select(Movement).where(Movement.ref.in_([row.rma_no])).order_by(Movement.id))
    ]
    return out


def rma_ageing(session, now) -> list[dict]:
    """Open returns per outlet by age bucket (账龄)."""
    rows = session.execute(
        select(Rma.outlet_id, Rma.created_at, Rma.due_at, Rma.unit_cost, Rma.quantity).where(
            Rma.status == RmaStatus.OPEN
        )
    ).all()
    table = domain.ageing_table(
        [
            domain.OpenReturn(outlet, as_utc(created), as_utc(due), cost, qty)
            for outlet, created, due, cost, qty in rows
        ],
        now,
    )
    return [dict(entry, value=amount_text(entry["value"])) for entry in table]


def open_returns_by_tenant(session, now) -> dict[str, tuple[int, int]]:
    """Per tenant: (old parts still on their way back, of those past their due date)."""
    overdue = func.sum(case((Rma.due_at < now, 1), else_=0))
    rows = session.execute(
        select(Rma.tenant_id, func.count(), overdue).where(Rma.status == RmaStatus.OPEN).group_by(Rma.tenant_id)
    ).all()
    return {tenant: (int(n), int(late or 0)) for tenant, n, late in rows}


def scan_out(scan: Scan) -> dict:
    return {
        "scan_id": scan.scan_id,
        "kind": scan.kind,
        "location_id": scan.location_id,
        "rma_no": scan.rma_no,
        "outcome": scan.outcome,
        "detail": scan.detail,
        "received_at": iso(scan.received_at),
    }


def scan_status(session, scan_id) -> dict:
    scan = session.get(Scan, scan_id) if isinstance(scan_id, str) else None
    if scan is None:
        raise NotFound(f"scan {scan_id} not found (not yet processed?)")
    return scan_out(scan)


def scans(session, q: dict) -> dict:
    """Receipts as scanned or booked by hand, newest first (a warehouse: its own)."""
    stmt = _where_equal(select(Scan), Scan, q, ("kind", "outcome", "location_id"))
    total, rows = _page(session, stmt, Scan.scan_id, (Scan.received_at.desc(), Scan.scan_id), q)
    return {"items": [scan_out(s) for s in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}


def rejected_receipts(session, q: dict) -> dict:
    stmt = select(RejectedReceipt)
    if q["unresolved"]:
        stmt = stmt.where(RejectedReceipt.resolved_at.is_(None))
    total, rows = _page(session, stmt, RejectedReceipt.scan_id, (RejectedReceipt.received_at.desc(),), q)
    return {
        "items": [
            {
                "scan_id": r.scan_id,
                "location_id": r.location_id,
                "rma_no": r.rma_no,
                "reason": r.reason,
                "payload": r.payload,
                "received_at": iso(r.received_at),
                "resolved_at": iso(r.resolved_at),
                "resolution": r.resolution,
            }
            for r in rows
        ],
        "total": total,
        "limit": q["limit"],
        "offset": q["offset"],
    }


# ---------------------------------------------------------------- an outlet's open items (clearing)
def outlet_open_items(session, outlet_id: str) -> list[dict]:
    """Stock on hand, open RMAs and open reservations of an outlet, with their value."""
    items = []
    rows = session.execute(
        select(StockBalance, Part)
        .join(Part, Part.part_no == StockBalance.part_no)
        .where(StockBalance.location_id == outlet_id, StockBalance.on_hand > 0)
        .order_by(StockBalance.part_no)
    ).all()
    for bal, p in rows:
        if bal.condition == DEFECTIVE:
            continue  # old parts waiting to go back are listed by their RMA below
        items.append(
            {
                "kind": "stock",
                "ref": p.part_no,
                "description": f"{bal.on_hand} × {p.name} on hand",
                "amount": (p.unit_cost * bal.on_hand).quantize(Decimal("0.01")),
            }
        )
    for rma in session.scalars(
        select(Rma).where(Rma.outlet_id == outlet_id, Rma.status == RmaStatus.OPEN).order_by(Rma.created_at)
    ):
        items.append(
            {
                "kind": "rma",
                "ref": rma.rma_no,
                "description": f"old part {rma.part_no} {rma.removed_serial or ''} not returned "
                f"(due {domain.as_local_date(rma.due_at)})".replace("  ", " "),
                "amount": (rma.unit_cost * rma.quantity).quantize(Decimal("0.01")),
            }
        )
    res_rows = session.execute(
        select(Reservation, Part)
        .join(Part, Part.part_no == Reservation.part_no)
        .where(Reservation.outlet_id == outlet_id, Reservation.status.in_(ReservationStatus.OPEN))
        .order_by(Reservation.created_at)
    ).all()
    for res, p in res_rows:
        items.append(
            {
                "kind": "reservation",
                "ref": res.id,
                "description": f"{res.quantity} × {p.name} {res.status} at {res.warehouse_id}",
                "amount": (p.unit_cost * res.quantity).quantize(Decimal("0.01")),
            }
        )
    return items


# ---------------------------------------------------------------- reconciliations (对账)
def _reconciliation_stmt(q: dict):
    stmt = select(Reconciliation)
    if q.get("month"):
        stmt = stmt.where(Reconciliation.month == q["month"])
    if q.get("location_id"):
        stmt = stmt.where(Reconciliation.location_id == q["location_id"])
    if q.get("with_discrepancies") is True:
        stmt = stmt.where(Reconciliation.discrepancy_count > 0)
    return stmt


def reconciliations(session, q: dict) -> dict:
    total, rows = _page(
        session,
        _reconciliation_stmt(q),
        Reconciliation.id,
        (Reconciliation.month.desc(), Reconciliation.location_id),
        q,
    )
    return {"items": [reconciliation_out(r) for r in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}


def all_reconciliations(session, q: dict) -> list[dict]:
    """Every stored reconciliation the query selects (an export is not paged)."""
    return [
        reconciliation_out(r)
        for r in session.scalars(_reconciliation_stmt(q).order_by(Reconciliation.month, Reconciliation.location_id))
    ]


# ---------------------------------------------------------------- exports of reconciliations
SUMMARY_COLUMNS = ("month", "location_id", "location_kind", "tenant_id") + domain.FIGURES + ("discrepancy_count",)
DETAIL_COLUMNS = ("month", "location_id", "kind", "part_no", "quantity", "ref", "detail", "outlet_id")


def export_rows(rows) -> tuple[list[dict], list[dict]]:
    """A summary line per location and month, and a detail line per discrepancy."""
    summary, details = [], []
    for r in rows:
        line = {k: r.get(k) for k in ("month", "location_id", "location_kind", "tenant_id", "discrepancy_count")}
        line.update({k: (r["figures"] or {}).get(k, 0) for k in domain.FIGURES})
        summary.append(line)
        for d in r["discrepancies"] or []:
            details.append({"month": r["month"], "location_id": r["location_id"], **d})
    return summary, details


def export_csv(summary, details) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(("section",) + SUMMARY_COLUMNS)
    for line in summary:
        writer.writerow(("summary",) + tuple(line.get(c) for c in SUMMARY_COLUMNS))
    writer.writerow(())
    writer.writerow(("section",) + DETAIL_COLUMNS)
    for d in details:
        writer.writerow(("discrepancy",) + tuple(d.get(c) for c in DETAIL_COLUMNS))
    return buf.getvalue()


def export_xlsx(summary, details) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    ws.append(list(SUMMARY_COLUMNS))
    for line in summary:
        ws.append([line.get(c) for c in SUMMARY_COLUMNS])
    ws2 = wb.create_sheet("discrepancies")
    ws2.append(list(DETAIL_COLUMNS))
    for d in details:
        ws2.append([d.get(c) for c in DETAIL_COLUMNS])
    for sheet in (ws, ws2):
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
