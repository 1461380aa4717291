"""The customer and product archive's reads and writes, inside the caller's unit of work; the
rules are `archive`'s. The session scopes every row to the caller's tenant (shared.db), so
another center's customer is simply not found.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select

from services.intake import archive
from services.intake.domain import Status
from services.intake.models import Customer, CustomerKey, InstalledProduct, Ticket
from shared.clock import LOCAL_TZ, as_utc
from shared.db import get_or_404, utcnow, within_tenant

PHONE, EXTERNAL, ALIAS = "phone", "external_id", "alias"  # CustomerKey.kind
CSV_COLUMNS = (
    "id",
    "tenant_id",
    "name",
    "company",
    "phones",
    "email",
    "addresses",
    "consent_to_contact",
    "external_ids",
    "products",
    "tickets",
    "reviewed_on",
    "review_due",
    "possible_duplicate_of",
)


def _today() -> date:
    return utcnow().astimezone(LOCAL_TZ).date()


# ---------------------------------------------------------------- linking a registered request
def link(uow, ticket: Ticket, warranty_until: date | None, cmd: dict[str, Any]) -> None:
    """Link a registered ticket to its customer and product (created when not known), matched in
    the ticket's center only. Only a ticket placed in a center: one in HQ's triage has none yet."""
    if ticket.status == Status.TRIAGE:
        return
    uow.session.flush()  # what is pending is written as the caller; the archive's rows as the center
    with within_tenant(uow.session, ticket.tenant_id):  # HQ registering or routing: that center's archive
        customer = _customer_for(uow, ticket, cmd)
        product = _product_for(uow, ticket, customer, warranty_until) if ticket.serial_no else None
        uow.session.flush()
    ticket.customer_record_id = customer.id
    ticket.product_id = product and product.id


def _customer_for(uow, ticket: Ticket, cmd: dict[str, Any]) -> Customer:
    session, now = uow.session, utcnow()
    keys = [(PHONE, archive.phone_key(ticket.phone)), (EXTERNAL, cmd.get("customer_external_id"))]
    keys = [(k, v) for k, v in keys if v]
    found = []
    for kind, value in keys:
        rows = session.execute(
            select(Customer.id, Customer.name, Customer.company)
            .join(CustomerKey, CustomerKey.customer_id == Customer.id)
            .where(CustomerKey.kind == kind, CustomerKey.value == value, Customer.merged_into.is_(None))
        ).all()
        found += [archive.Known(r.id, r.name, r.company, kind) for r in rows]
    found += _aliases(session, found)
    decision = archive.match_customer(ticket.customer_name, cmd.get("company"), found)
    if decision.customer_id is not None:
        customer = session.get(Customer, decision.customer_id)
        customer.addresses = archive.with_item(customer.addresses, ticket.address)
        customer.company = customer.company or cmd.get("company")
        customer.updated_at = now
    else:
        customer = Customer(
            id="cr_" + uuid.uuid4().hex[:24],
            tenant_id=ticket.tenant_id,
            name=ticket.customer_name,
            company=cmd.get("company"),
            phones=archive.with_item([], archive.phone_key(ticket.phone)),
            addresses=[ticket.address],
            external_ids=archive.with_item([], cmd.get("customer_external_id")),
            duplicate_of=list(decision.duplicate_of) or None,
            duplicate_reason=decision.reason,
            created_at=now,
            updated_at=now,
            reviewed_on=_today(),
        )
        session.add(customer)
    session.flush()
    known = {
        (r.kind, r.value) for r in session.scalars(select(CustomerKey).where(CustomerKey.customer_id == customer.id))
    }
    for kind, value in keys:
        if (kind, value) not in known:
            session.add(CustomerKey(tenant_id=customer.tenant_id, customer_id=customer.id, kind=kind, value=value))
    return customer


def _aliases(session, found: list[archive.Known]) -> list[archive.Known]:
    """The other names the found customers are known by: those of customers merged into them."""
    by_id = {k.id: k for k in found}
    if not by_id:
        return []
    rows = session.scalars(
        select(CustomerKey).where(CustomerKey.kind == ALIAS, CustomerKey.customer_id.in_(sorted(by_id)))
    )
    return [archive.Known(r.customer_id, r.value, by_id[r.customer_id].company, by_id[r.customer_id].by) for r in rows]


def _product_for(uow, ticket: Ticket, customer: Customer, warranty_until: date | None) -> InstalledProduct:
    session, now = uow.session, utcnow()
    product = session.scalars(select(InstalledProduct).where(InstalledProduct.serial_no == ticket.serial_no)).first()
    if product is None:
        product = InstalledProduct(
            id="pr_" + uuid.uuid4().hex[:24],
            tenant_id=ticket.tenant_id,
            customer_id=customer.id,
            serial_no=ticket.serial_no,
            created_at=now,
        )
        session.add(product)
    product.product_line = product.product_line or ticket.product_line
    product.model = product.model or ticket.model
    product.purchase_date = product.purchase_date or ticket.purchase_date
    product.warranty_until = product.warranty_until or warranty_until
    product.updated_at = now
    return product


def installed(uow, ticket: Ticket, fact: dict[str, Any]) -> None:
    """visit.completed of an install ticket: the product's installation date and outlet."""
    if ticket.product_id is None:
        return
    item = uow.session.get(InstalledProduct, ticket.product_id)
    if item is None:
        return
    changes = archive.installation(ticket.kind, item.installed_on, fact["at"], fact.get("outlet_id"))
    for attr, value in changes.items():
        setattr(item, attr, value)
    if changes:
        item.updated_at = utcnow()


# ---------------------------------------------------------------- reading
def history(session, **where: str) -> list[Ticket]:
    """The tickets of a customer (customer_record_id=...) or a product (product_id=...), oldest first."""
    column, value = next(iter(where.items()))
    return list(session.scalars(select(Ticket).where(getattr(Ticket, column) == value).order_by(Ticket.received_at)))


def customer(session, customer_id: str) -> Customer:
    return get_or_404(session, Customer, customer_id, "customer_id")


def product(session, product_id: str) -> InstalledProduct:
    return get_or_404(session, InstalledProduct, product_id, "product_id")


def products_of(session, customer_id: str) -> list[InstalledProduct]:
    return list(
        session.scalars(
            select(InstalledProduct).where(InstalledProduct.customer_id == customer_id).order_by(InstalledProduct.id)
        )
    )


def customer_page(session, q: dict[str, Any]) -> tuple[list[Customer], int]:
    """Live customers (not merged away) by name, company, phone or external id (`q`); only those
    due for their yearly review (`due_for_review`), or only those flagged (`duplicates`)."""
    stmt = select(Customer).where(Customer.merged_into.is_(None))
    if q.get("q"):
        like = f"%{q['q']}%"
        keyed = select(CustomerKey.customer_id).where(CustomerKey.value.like(like))
        stmt = stmt.where(or_(Customer.name.like(like), Customer.company.like(like), Customer.id.in_(keyed)))
    if q.get("due_for_review"):
        stmt = stmt.where(Customer.reviewed_on <= archive.review_due_before(_today()))
    if q.get("duplicates"):
        stmt = stmt.where(Customer.duplicate_of.is_not(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(Customer.name, Customer.id).limit(q["limit"]).offset(q["offset"]))
    return list(rows), total


def review_due(customer: Customer) -> bool:
    return archive.review_due(customer.reviewed_on, _today())


# ---------------------------------------------------------------- changing
def update(session, row: Customer, cmd: dict[str, Any]) -> Customer:
    """A person's update of contacts and consent: the record counts as reviewed; new phones and
    external ids become keys."""
    changes = archive.contact_update(cmd, _today())
    for attr, value in changes.items():
        setattr(row, attr, value)
    row.updated_at = utcnow()
    known = {(k.kind, k.value) for k in session.scalars(select(CustomerKey).where(CustomerKey.customer_id == row.id))}
    wanted = {(PHONE, p) for p in row.phones or []} | {(EXTERNAL, e) for e in row.external_ids or []}
    for kind, value in sorted(wanted - known):
        session.add(CustomerKey(tenant_id=row.tenant_id, customer_id=row.id, kind=kind, value=value))
    return row


def merge(session, survivor: Customer, merged: Customer, principal, note: str | None) -> Customer:
    """A person's explicit merge: the merged customer's tickets, products, keys, contacts and
    addresses go to the survivor; the merged one stays, marked with who merged it into which."""
    archive.check_merge(survivor.id, merged.id, merged.merged_into, survivor.merged_into)
    now = utcnow()
    for ticket in history(session, customer_record_id=merged.id):
        ticket.customer_record_id = survivor.id
    for item in products_of(session, merged.id):
        item.customer_id = survivor.id
    for key in session.scalars(select(CustomerKey).where(CustomerKey.customer_id == merged.id)):
        key.customer_id = survivor.id
    if merged.name != survivor.name:  # its name stays known: a later request under it links here
        session.add(
            CustomerKey(tenant_id=survivor.tenant_id, customer_id=survivor.id, kind=ALIAS, value=merged.name[:64])
        )
    for attr in ("phones", "addresses", "external_ids"):
        values = list(getattr(survivor, attr) or [])
        for value in getattr(merged, attr) or []:
            values = archive.with_item(values, value)
        setattr(survivor, attr, values)
    survivor.company = survivor.company or merged.company
    survivor.email = survivor.email or merged.email
    for row in (survivor, merged):  # the question is decided
        row.duplicate_of, row.duplicate_reason, row.updated_at = None, None, now
    merged.merged_into, merged.merged_by, merged.merged_at = survivor.id, principal.user, now
    merged.duplicate_reason = note
    return survivor


def keep_apart(row: Customer, principal, note: str | None) -> Customer:
    """A person's decision that a flagged customer is no duplicate: the flag goes, who and when stay."""
    archive.check_flagged(row.duplicate_of)
    now = utcnow()
    row.duplicate_of, row.duplicate_decided_by, row.duplicate_decided_at = None, principal.user, now
    row.duplicate_reason = note or row.duplicate_reason
    row.updated_at = now
    return row


def export_csv(session, rows: list[Customer]) -> str:
    """The center's archive as CSV (UTF-8, one row per live customer)."""
    counts = dict(
        session.execute(
            select(Ticket.customer_record_id, func.count())
            .where(Ticket.customer_record_id.is_not(None))
            .group_by(Ticket.customer_record_id)
        ).all()
    )
    serials: dict[str, list[str]] = {}
    for p in session.scalars(select(InstalledProduct).order_by(InstalledProduct.serial_no)):
        serials.setdefault(p.customer_id, []).append(p.serial_no)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for c in rows:
        writer.writerow(
            (
                c.id,
                c.tenant_id,
                c.name,
                c.company or "",
                " ".join(c.phones or []),
                c.email or "",
                " | ".join(c.addresses or []),
                "" if c.consent_to_contact is None else ("yes" if c.consent_to_contact else "no"),
                " ".join(c.external_ids or []),
                " ".join(serials.get(c.id, [])),
                counts.get(c.id, 0),
                c.reviewed_on.isoformat(),
                "yes" if review_due(c) else "no",
                " ".join(c.duplicate_of or []),
            )
        )
    return out.getvalue()


def aware(value: datetime | None) -> datetime | None:
    return as_utc(value)
