"""Seeding at start-up, idempotent: the catalogue and the locations are upserted every time;
each warehouse's opening stock (期初库存) is booked once (a `SeedMark` row guards it, so two
replicas starting together book it once)."""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from services.parts import domain, ledger
from services.parts.domain import MovementKind
from services.parts.models import FaultPart, Location, Part, SeedMark
from shared import tenancy
from shared.db import utcnow

log = logging.getLogger(__name__)


def seed_reference(store, catalogue: domain.Catalogue, directory):
    principal = tenancy.service_principal("parts")
    with store.uow(principal) as uow:
        s = uow.session
        for spec in catalogue.parts.values():
            s.merge(
                Part(
                    part_no=spec.part_no,
                    name=spec.name,
                    product_line=spec.product_line,
                    kind=spec.kind,
                    fits=list(spec.fits),
                    returnable=spec.returnable,
                    unit_cost=spec.unit_cost,
                )
            )
        s.execute(delete(FaultPart))
        for line, faults in catalogue.fault_parts.items():
            for fault, needs in faults.items():
                merged = {}
                for kind, qty in needs:
                    merged[kind] = merged.get(kind, 0) + qty
                for kind, qty in merged.items():
                    s.add(FaultPart(product_line=line, fault=fault, kind=kind, quantity=qty))
        for loc in domain.locations_from(directory):
            s.merge(Location(id=loc.id, kind=loc.kind, tenant_id=loc.tenant_id, name=loc.name, parent_id=loc.parent_id))
        uow.commit()


def seed_opening_stock(store, catalogue: domain.Catalogue):
    """Book each warehouse's opening stock once."""
    principal = tenancy.service_principal("parts")
    with store.uow(principal) as uow:
        warehouses = [
            domain.LocationSpec(l.id, l.kind, l.tenant_id, l.name, l.parent_id)
            for l in uow.session.scalars(select(Location).where(Location.kind == domain.WAREHOUSE))
        ]
    for wh in warehouses:
        key = f"opening_stock:{wh.id}"
        with store.uow(principal) as uow:
            s = uow.session
            if s.get(SeedMark, key) is not None:
                continue
            now = utcnow()
            s.add(SeedMark(key=key, at=now))
            s.flush()
            scale = "hq" if wh.id == domain.HQ_WAREHOUSE else "regional"
            movement_no = domain.new_movement_no(MovementKind.RECEIPT)
            for spec in catalogue.parts.values():
                qty = catalogue.opening_quantity(spec, scale)
                if qty:
                    ledger.post(
                        s,
                        tenant_id=wh.tenant_id,
                        location_id=wh.id,
                        part_no=spec.part_no,
                        quantity=qty,
                        kind=MovementKind.RECEIPT,
                        movement_no=movement_no,
                        at=now,
                        counterpart_id=domain.FACTORY,
                        reason="opening balance (期初库存)",
                        user="seed",
                    )
            try:
                uow.commit()
            except IntegrityError:  # another replica seeded it at the same moment
                log.info("opening stock of %s seeded elsewhere", wh.id)
