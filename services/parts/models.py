"""Parts' tables.

Reference data (the catalogue, the locations) is not tenant data. Everything about stock, its
movements, reservations, returns and reconciliations belongs to a tenant (`TenantScoped`): an
outlet principal sees its own location's rows, a warehouse principal its own warehouse's rows.
HQ's warehouse and the factory belong to the pseudo-tenant ``HQ``.

Stock is a ledger: `Movement` rows are the truth (one row per location leg, signed quantity);
`StockBalance` is the running sum kept in the same transaction, guarded by CHECK constraints so
that no update can take it below zero (or reserve more than is on hand).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import TenantScoped

HQ_TENANT = "HQ"


class Base(DeclarativeBase):
    pass


class Part(Base):
    """A catalogue entry (配件): which product line and models it fits, returnable or not, unit cost."""

    __tablename__ = "parts"

    part_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    product_line: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    fits: Mapped[list] = mapped_column(JSON)
    returnable: Mapped[bool] = mapped_column(Boolean)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))


class FaultPart(Base):
    """Which part kinds a fault class of a product line needs (for reserving on a scheduled visit)."""

    __tablename__ = "fault_parts"

    product_line: Mapped[str] = mapped_column(String(64), primary_key=True)
    fault: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Location(Base):
    """A stock location: HQ warehouse, a regional warehouse (配件库), an outlet's store, the factory."""

    __tablename__ = "locations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # warehouse | outlet | factory
    tenant_id: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(128))
    parent_id: Mapped[str | None] = mapped_column(String(32))  # outlet -> its regional warehouse


class SeedMark(Base):
    """Seeding steps already done (opening stock is booked once, even with replicas)."""

    __tablename__ = "seed_marks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class StockBalance(TenantScoped, Base):
    """Quantity on hand and reserved of one part at one location, by condition (good / defective)."""

    __tablename__ = "stock_balances"
    __scope__ = {"outlet": "location_id", "warehouse": "location_id"}
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="ck_balance_on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="ck_balance_reserved_not_negative"),
        CheckConstraint("reserved <= on_hand", name="ck_balance_reserved_within_on_hand"),
    )

    location_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    part_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    condition: Mapped[str] = mapped_column(String(16), primary_key=True, default="good")
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)


class Movement(TenantScoped, Base):
    """One leg of a stock movement at one location: receipt, transfer, issue, consumption, return,
    scrap or adjustment (with a reason). Legs of one movement share `movement_no`."""

    __tablename__ = "movements"
    __scope__ = {"outlet": "location_id", "warehouse": "location_id"}
    __table_args__ = (
        Index("ix_movement_month", "occurred_at", "location_id"),
        Index("ix_movement_location_part", "location_id", "part_no"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    movement_no: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[str] = mapped_column(String(32))
    counterpart_id: Mapped[str | None] = mapped_column(String(32))
    part_no: Mapped[str] = mapped_column(String(32))
    condition: Mapped[str] = mapped_column(String(16), default="good")
    quantity: Mapped[int] = mapped_column(Integer)  # signed: + into the location, - out of it
    reason: Mapped[str | None] = mapped_column(String(256))
    ref: Mapped[str | None] = mapped_column(String(64))  # visit, reservation, RMA, scan
    serials: Mapped[list | None] = mapped_column(JSON)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user: Mapped[str | None] = mapped_column(String(64))


class IssuedSerial(TenantScoped, Base):
    """A serial-numbered unit issued to an outlet (备件发放), and the visit that consumed it."""

    __tablename__ = "issued_serials"
    __scope__ = {"outlet": "outlet_id", "warehouse": "warehouse_id"}
    __table_args__ = (
        UniqueConstraint("part_no", "serial", name="uq_issued_serial"),
        Index("ix_issued_serial_outlet", "outlet_id", "part_no"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    part_no: Mapped[str] = mapped_column(String(32))
    serial: Mapped[str] = mapped_column(String(64))
    outlet_id: Mapped[str] = mapped_column(String(32))
    warehouse_id: Mapped[str] = mapped_column(String(32))
    movement_no: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    consumed_visit_id: Mapped[str | None] = mapped_column(String(32))


class TicketFact(TenantScoped, Base):
    """What parts needs to know of a ticket (from intake's ticket.registered)."""

    __tablename__ = "ticket_facts"
    __scope__ = {}

    ticket_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[str | None] = mapped_column(String(32))
    product_line: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    serial_no: Mapped[str | None] = mapped_column(String(64))
    fault: Mapped[str | None] = mapped_column(Text)
    warranty: Mapped[str | None] = mapped_column(String(16))


class VisitNeed(TenantScoped, Base):
    """A scheduled visit parts has heard of, and whether its parts are reserved yet."""

    __tablename__ = "visit_needs"
    __scope__ = {"outlet": "outlet_id"}

    visit_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(32), index=True)
    outlet_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # waiting_ticket | reserved | no_parts | completed | released
    # the time of the last dispatch fact applied (visit.scheduled or visit.released): older ones are stale
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Reservation(TenantScoped, Base):
    """Parts held at a warehouse for a visit or an outlet's request, then issued to the outlet."""

    __tablename__ = "reservations"
    __scope__ = {"outlet": "outlet_id", "warehouse": "warehouse_id"}
    __table_args__ = (Index("ix_reservation_visit", "visit_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    visit_id: Mapped[str | None] = mapped_column(String(32))
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    outlet_id: Mapped[str] = mapped_column(String(32))
    warehouse_id: Mapped[str] = mapped_column(String(32))
    part_no: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # reserved | short | issued | consumed | released
    source: Mapped[str] = mapped_column(String(16))  # visit | request
    requested_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    movement_no: Mapped[str | None] = mapped_column(String(32))


class Consumption(TenantScoped, Base):
    """A part used on a visit as the outlet recorded it at check-out (new and removed serials)."""

    __tablename__ = "consumptions"
    __scope__ = {"outlet": "outlet_id"}
    __table_args__ = (
        UniqueConstraint("visit_id", "line", name="uq_consumption_line"),
        Index("ix_consumption_outlet_at", "outlet_id", "consumed_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[str] = mapped_column(String(32))
    line: Mapped[int] = mapped_column(Integer)
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    outlet_id: Mapped[str] = mapped_column(String(32))
    part_no: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer)  # units taken from the outlet's stock
    new_serial: Mapped[str | None] = mapped_column(String(64))
    removed_serial: Mapped[str | None] = mapped_column(String(64))
    consumed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(String(256))
    rma_no: Mapped[str | None] = mapped_column(String(32))


class Rma(TenantScoped, Base):
    """A return authorisation (旧件返厂) for a removed returnable part: outlet → regional
    warehouse → factory, with a receipt at each step and the factory's inspection."""

    __tablename__ = "rmas"
    __scope__ = {"outlet": "outlet_id", "warehouse": "warehouse_id"}
    __table_args__ = (Index("ix_rma_status_due", "status", "due_at"), Index("ix_rma_outlet", "outlet_id"))

    rma_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    outlet_id: Mapped[str] = mapped_column(String(32))
    warehouse_id: Mapped[str] = mapped_column(String(32))
    part_no: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(Integer)
    removed_serial: Mapped[str | None] = mapped_column(String(64))
    new_serial: Mapped[str | None] = mapped_column(String(64))
    visit_id: Mapped[str | None] = mapped_column(String(32))
    ticket_id: Mapped[str | None] = mapped_column(String(32))
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    status: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    overdue_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # the outlet's word that it sent the old part (寄回): waybill and carrier; the warehouse's
    # receipt (a scan) is what moves the part and the RMA's status
    shipped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    waybill_no: Mapped[str | None] = mapped_column(String(64))
    carrier: Mapped[str | None] = mapped_column(String(32))
    shipped_by: Mapped[str | None] = mapped_column(String(64))
    warehouse_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warehouse_location_id: Mapped[str | None] = mapped_column(String(32))
    warehouse_serial: Mapped[str | None] = mapped_column(String(64))
    warehouse_quantity: Mapped[int | None] = mapped_column(Integer)
    late: Mapped[bool | None] = mapped_column(Boolean)
    factory_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    factory_serial: Mapped[str | None] = mapped_column(String(64))
    inspection: Mapped[str | None] = mapped_column(String(24))
    inspected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    inspection_note: Mapped[str | None] = mapped_column(String(256))


class Scan(TenantScoped, Base):
    """Every scanner / returns-desk message by its scan id: the same scan twice counts once."""

    __tablename__ = "scans"
    __scope__ = {"warehouse": "location_id"}

    scan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[str] = mapped_column(String(32))
    rma_no: Mapped[str | None] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))  # accepted | rejected
    detail: Mapped[str | None] = mapped_column(String(256))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RejectedReceipt(TenantScoped, Base):
    """A receipt that could not be applied (unknown RMA, wrong step): kept for review, never lost."""

    __tablename__ = "rejected_receipts"
    __scope__ = {"warehouse": "location_id"}

    scan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    location_id: Mapped[str] = mapped_column(String(32))
    rma_no: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(256))
    payload: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(String(256))


class Reconciliation(TenantScoped, Base):
    """One location's month (对账): issued vs consumed vs returned vs on hand, and its discrepancies."""

    __tablename__ = "reconciliations"
    __scope__ = {"outlet": "location_id", "warehouse": "location_id"}
    __table_args__ = (UniqueConstraint("location_id", "month", name="uq_reconciliation_month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    location_id: Mapped[str] = mapped_column(String(32))
    location_kind: Mapped[str] = mapped_column(String(16))
    month: Mapped[str] = mapped_column(String(7))
    figures: Mapped[dict] = mapped_column(JSON)
    discrepancies: Mapped[list] = mapped_column(JSON)
    discrepancy_count: Mapped[int] = mapped_column(Integer)
    run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReplacementRequest(TenantScoped, Base):
    """An exchange's replacement machine asked by intake (退换机, return.replacement_requested):
    issued at once from the center's warehouse, or waiting for a good unit there and issued when
    one is received (machines.py, replacements.py). One per return case."""

    __tablename__ = "replacement_requests"
    __scope__ = {"warehouse": "location_id"}
    __table_args__ = (Index("ix_replacement_waiting", "location_id", "part_no", "status"),)

    return_case_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(String(32))
    location_id: Mapped[str] = mapped_column(String(32))
    part_no: Mapped[str] = mapped_column(String(32))
    wanted_serial: Mapped[str | None] = mapped_column(String(64))  # the unit the center named, if any
    status: Mapped[str] = mapped_column(String(16))  # waiting | issued | cancelled
    requested_by: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    short_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str | None] = mapped_column(String(64))
    movement_no: Mapped[str | None] = mapped_column(String(32))
    serial: Mapped[str | None] = mapped_column(String(64))  # the unit sent, when known
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(String(64))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
