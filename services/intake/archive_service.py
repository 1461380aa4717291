"""Intake's entrypoints of the customer and product archive (客户档案, 产品档案), a mixin of the
intake service: load, let `archive` decide, read and write with `archive_store`, commit, dump."""

from __future__ import annotations

from contextlib import nullcontext

from services.intake import archive
from services.intake import archive_store as store
from services.intake.archive_schemas import (
    CustomerCsvQuery,
    CustomerOut,
    CustomerPatch,
    CustomerQuery,
    DuplicatesQuery,
    HistoryItem,
    KeepApart,
    MergeCustomers,
    ProductOut,
)
from shared.db import AwareView, within_tenant
from shared.rpc import rpc
from shared.validation import load

_customer_out = CustomerOut()
_product_out = ProductOut()
_history = HistoryItem()


class ArchiveEntrypoints:
    """The archive's RPCs; `IntakeService` inherits them (its `db` dependency)."""

    @rpc
    def get_customer(self, customer_id):
        """A customer with its products and full service history (its tickets, oldest first)."""
        archive.check_reader(self.db.principal.role)
        with self.db.uow() as uow:
            row = store.customer(uow.session, customer_id)
            return dict(
                _dump_customer(row),
                products=[_product_out.dump(p) for p in store.products_of(uow.session, row.id)],
                history=_history_of(uow.session, customer_record_id=row.id),
            )

    @rpc
    def get_product(self, product_id):
        """An installed product with its customer and service history."""
        archive.check_reader(self.db.principal.role)
        with self.db.uow() as uow:
            item = store.product(uow.session, product_id)
            owner = store.customer(uow.session, item.customer_id)
            return dict(
                _product_out.dump(item),
                customer=_dump_customer(owner),
                history=_history_of(uow.session, product_id=item.id),
            )

    @rpc
    def list_customers(self, query=None):
        """The center's customers, searched; `due_for_review`: those due for the yearly update."""
        q = load(CustomerQuery(), query or {})
        archive.check_reader(self.db.principal.role)
        archive.check_center(self.db.principal, q["tenant_id"])
        with self.db.uow() as uow, _one_center(uow.session, q["tenant_id"]):
            rows, total = store.customer_page(uow.session, q)
            return {
                "items": [_dump_customer(c) for c in rows],
                "total": total,
                "limit": q["limit"],
                "offset": q["offset"],
            }

    @rpc
    def customers_due_for_review(self, query=None):
        """The yearly update reminder (seed 001): customers not reviewed for a year."""
        return self.list_customers(dict(query or {}, due_for_review=True))

    @rpc
    def duplicate_customers(self, query=None):
        """Customers flagged as possible duplicates, for a person to merge or leave apart."""
        load(DuplicatesQuery(), query or {})  # a `duplicates` flag here is an unknown field
        return self.list_customers(dict(query or {}, duplicates=True))

    @rpc
    def update_customer(self, customer_id, payload):
        cmd = load(CustomerPatch(), payload or {})
        archive.check_reader(self.db.principal.role)
        with self.db.uow() as uow:
            row = store.update(uow.session, store.customer(uow.session, customer_id), cmd)
            uow.commit()
            return _dump_customer(row)

    @rpc
    def merge_customers(self, payload):
        cmd = load(MergeCustomers(), payload or {})
        principal = self.db.principal
        archive.check_merger(principal.role)
        with self.db.uow() as uow:
            survivor = store.customer(uow.session, cmd["survivor_id"])
            merged = store.customer(uow.session, cmd["merged_id"])
            row = store.merge(uow.session, survivor, merged, principal, cmd["note"])
            uow.commit()
            return _dump_customer(row)

    @rpc
    def keep_customer_apart(self, customer_id, payload=None):
        """A person decides a flagged customer is no duplicate: it leaves the duplicates list."""
        cmd = load(KeepApart(), payload or {})
        principal = self.db.principal
        archive.check_merger(principal.role)
        with self.db.uow() as uow:
            row = store.keep_apart(store.customer(uow.session, customer_id), principal, cmd["note"])
            uow.commit()
            return _dump_customer(row)

    @rpc
    def customers_csv(self, query=None):
        """The center's archive as CSV (HQ's: one center's with `tenant_id`, else every center's)."""
        q = load(CustomerCsvQuery(), query or {})
        archive.check_reader(self.db.principal.role)
        archive.check_center(self.db.principal, q["tenant_id"])
        with self.db.uow() as uow, _one_center(uow.session, q["tenant_id"]):
            rows, _ = store.customer_page(uow.session, {"limit": None, "offset": 0})
            return store.export_csv(uow.session, rows)


def _one_center(session, tenant_id):
    """HQ reading one center: the session acts inside it (the one tenancy mechanism, no filter here)."""
    return within_tenant(session, tenant_id) if tenant_id else nullcontext()


def _dump_customer(row):
    return dict(_customer_out.dump(AwareView(row)), review_due=store.review_due(row))


def _history_of(session, **where):
    return [_history.dump(AwareView(t)) for t in store.history(session, **where)]
