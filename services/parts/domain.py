"""The rules of parts (配件): catalogue matching, what a fault needs, who may move which stock,
RMA due dates and ageing (旧件返厂), the steps of a return's chain and the shape of a monthly
reconciliation (对账). Plain Python: no nameko, no session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from shared import tenancy
from shared.clock import LOCAL_TZ
from shared.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed

if TYPE_CHECKING:
    from shared.tenants import TenantDirectory
    from shared.workcal import ChinaCalendar

CATALOGUE_FILE = Path(__file__).resolve().parent / "data" / "catalogue.yaml"
HQ_TENANT = "HQ"
HQ_WAREHOUSE = "WH-HQ"
FACTORY = "FACTORY"
DEFAULT_RMA_DUE_DAYS = 30

GOOD, DEFECTIVE = "good", "defective"
WAREHOUSE, OUTLET, FACTORY_KIND = "warehouse", "outlet", "factory"


class MovementKind:
    RECEIPT = "receipt"  # into a warehouse from the factory or a supplier (入库)
    TRANSFER = "transfer"  # warehouse to warehouse (调拨)
    ISSUE = "issue"  # warehouse to outlet (备件发放)
    CONSUMPTION = "consumption"  # used on a visit (and the removed old part taken in)
    RETURN = "return"  # old part moving back: outlet → warehouse → factory (旧件返厂)
    SCRAP = "scrap"  # written off (报废)
    ADJUSTMENT = "adjustment"  # stock count correction, always with a reason

    ALL = (RECEIPT, TRANSFER, ISSUE, CONSUMPTION, RETURN, SCRAP, ADJUSTMENT)


class RmaStatus:
    OPEN = "open"  # removed at the customer's, on its way back
    AT_WAREHOUSE = "received_warehouse"  # receipt at the regional warehouse
    AT_FACTORY = "received_factory"  # receipt at the factory's returns desk
    INSPECTED = "inspected"  # the factory's verdict is in: closed


INSPECTION_RESULTS = ("defect_confirmed", "no_fault_found", "wrong_part", "damaged_in_transit")


class ReservationStatus:
    RESERVED = "reserved"
    SHORT = "short"  # not enough at the warehouse: a backorder, nothing held
    ISSUED = "issued"
    CONSUMED = "consumed"
    RELEASED = "released"

    OPEN = (RESERVED, SHORT)


class Discrepancy:
    CONSUMED_NOT_RETURNED = "consumed_not_returned"
    RETURNED_NOT_ISSUED = "returned_not_issued"
    SERIAL_MISMATCH = "serial_mismatch"
    QUANTITY_MISMATCH = "quantity_mismatch"

    ALL = (CONSUMED_NOT_RETURNED, RETURNED_NOT_ISSUED, SERIAL_MISMATCH, QUANTITY_MISMATCH)


# ---------------------------------------------------------------- catalogue
@dataclass(frozen=True)
class PartSpec:
    part_no: str
    name: str
    product_line: str
    kind: str
    fits: tuple[str, ...]
    returnable: bool
    unit_cost: Decimal


@dataclass
class Catalogue:
    parts: dict[str, PartSpec] = field(default_factory=dict)  # part_no -> PartSpec
    # product_line -> fault -> [(kind, qty)]
    fault_parts: dict[str, dict[str, list[tuple[str, int]]]] = field(default_factory=dict)
    # warehouse kind (hq | regional) -> returnable | consumable -> quantity
    opening_stock: dict[str, dict[str, int]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalogue:
        with open(path or CATALOGUE_FILE, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh)
        parts: dict[str, PartSpec] = {}
        for p in doc.get("parts", []):
            spec = PartSpec(
                p["part_no"],
                p["name"],
                p["product_line"],
                p["kind"],
                tuple(p["fits"]),
                bool(p["returnable"]),
                Decimal(str(p["unit_cost"])),
            )
            if spec.part_no in parts:
                raise ValueError(f"duplicate part number {spec.part_no}")
            parts[spec.part_no] = spec
        fault_parts = {
            line: {fault: [(k, int(q)) for k, q in (needs or [])] for fault, needs in faults.items()}
            for line, faults in (doc.get("fault_parts") or {}).items()
        }
        return cls(parts, fault_parts, dict(doc.get("opening_stock") or {}))

    def fitting(self, product_line: str | None, model: str | None, kind: str | None = None) -> list[PartSpec]:
        return [
            p
            for p in self.parts.values()
            if (product_line is None or p.product_line == product_line)
            and (model is None or model in p.fits)
            and (kind is None or p.kind == kind)
        ]

    def fault_class(self, product_line: str | None, fault: str | None) -> str | None:
        """The known fault class a free-text fault names (the longest class the text contains)."""
        if not fault or product_line is None or product_line not in self.fault_parts:
            return None
        text = fault.strip()
        matches = [f for f in self.fault_parts[product_line] if f in text]
        return max(matches, key=len) if matches else None

    def needs(self, product_line: str | None, model: str | None, fault: str | None) -> list[tuple[str, int]]:
        """The parts (part_no, quantity) a visit for this fault on this model takes along."""
        cls = self.fault_class(product_line, fault)
        if cls is None or product_line is None:  # a fault class is only found for a known line
            return []
        out: list[tuple[str, int]] = []
        for kind, qty in self.fault_parts[product_line][cls]:
            candidates = self.fitting(product_line, model, kind) if model else []
            if len(candidates) >= 1:
                out.append((sorted(c.part_no for c in candidates)[0], qty))
        return out

    def opening_quantity(self, part: PartSpec, warehouse_kind: str) -> int:
        figures = self.opening_stock.get(warehouse_kind) or {}
        return int(figures.get("returnable" if part.returnable else "consumable", 0))


# ---------------------------------------------------------------- locations
@dataclass(frozen=True)
class LocationSpec:
    id: str
    kind: str
    tenant_id: str
    name: str
    parent_id: str | None = None


class StockLocation(Protocol):
    """A location as the rules read it: a LocationSpec, or the service's stored Location row."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def tenant_id(self) -> str: ...


def warehouse_of(tenant_id: str) -> str:
    return HQ_WAREHOUSE if tenant_id in (None, HQ_TENANT) else f"WH-{tenant_id}"


def locations_from(directory: TenantDirectory) -> list[LocationSpec]:
    """HQ's warehouse, one regional warehouse per center, every outlet's store, the factory."""
    out = [
        LocationSpec(HQ_WAREHOUSE, WAREHOUSE, HQ_TENANT, "总部配件库"),
        LocationSpec(FACTORY, FACTORY_KIND, HQ_TENANT, "工厂旧件返厂接收处", None),
    ]
    for center in directory.centers.values():
        name = center.name.replace("区域服务中心", "") + "区域配件库"
        out.append(LocationSpec(warehouse_of(center.id), WAREHOUSE, center.id, name, HQ_WAREHOUSE))
    for outlet in directory.outlets.values():
        out.append(LocationSpec(outlet.id, OUTLET, outlet.center, outlet.name, warehouse_of(outlet.center)))
    return out


# ---------------------------------------------------------------- who may do what
def may_see_location(principal: tenancy.Principal, loc: StockLocation) -> bool:
    if principal.all_tenants:
        return True
    role = principal.role
    if role == tenancy.WAREHOUSE:
        return loc.id == principal.warehouse
    if role == tenancy.OUTLET:
        return loc.id == principal.outlet
    if role in (tenancy.CENTER, tenancy.SERVICE):
        return loc.tenant_id == principal.tenant
    return False


def check_issue(principal: tenancy.Principal, warehouse: StockLocation, outlet: StockLocation) -> None:
    """备件发放: a warehouse issues from its own stock, a center within its tenant, HQ anywhere."""
    if warehouse.kind != WAREHOUSE:
        raise ValidationFailed(
            "parts are issued from a warehouse", {"warehouse_id": [f"{warehouse.id} is a {warehouse.kind}"]}
        )
    if outlet.kind != OUTLET:
        raise ValidationFailed("parts are issued to an outlet", {"outlet_id": [f"{outlet.id} is a {outlet.kind}"]})
    if principal.role == tenancy.HQ or (principal.role == tenancy.SERVICE and principal.tenant is None):
        return
    if principal.role == tenancy.WAREHOUSE and warehouse.id == principal.warehouse:
        return
    if principal.role == tenancy.CENTER and warehouse.tenant_id == principal.tenant == outlet.tenant_id:
        return
    raise Forbidden(f"role {principal.role} may not issue from {warehouse.id} to {outlet.id}")


def check_request(principal: tenancy.Principal, outlet: StockLocation) -> None:
    """An outlet requests parts for itself; its center (dispatcher) or HQ may request for it."""
    if outlet.kind != OUTLET:
        raise ValidationFailed("parts are requested for an outlet", {"outlet_id": [f"{outlet.id} is a {outlet.kind}"]})
    if principal.all_tenants:
        return
    if principal.role == tenancy.OUTLET and principal.outlet == outlet.id:
        return
    if principal.role in (tenancy.CENTER, tenancy.SERVICE) and principal.tenant == outlet.tenant_id:
        return
    raise Forbidden(f"role {principal.role} may not request parts for {outlet.id}")


def check_ship(principal: tenancy.Principal, outlet: StockLocation, status: str, shipped: bool) -> None:
    """寄回: the outlet that holds an old part says it sent it (its center or HQ may say so for it),
    once, while the return is still open (not yet received anywhere)."""
    if not (
        principal.all_tenants
        or (principal.role == tenancy.OUTLET and principal.outlet == outlet.id)
        or (principal.role == tenancy.CENTER and principal.tenant == outlet.tenant_id)
    ):
        raise Forbidden(f"role {principal.role} may not ship returns of {outlet.id}")
    if status != RmaStatus.OPEN:
        raise InvalidTransition("the return was already received", {"rma_no": [f"the return is {status}"]})
    if shipped:
        raise Conflict("the return was already shipped", {"waybill_no": ["already shipped"]})


def check_stock_keeper(principal: tenancy.Principal, loc: StockLocation) -> None:
    """Receipts into and adjustments of a location: its warehouse keeper, its center, HQ."""
    if principal.all_tenants:
        return
    if principal.role == tenancy.WAREHOUSE and loc.id == principal.warehouse:
        return
    if principal.role == tenancy.CENTER and loc.tenant_id == principal.tenant and loc.kind != FACTORY_KIND:
        return
    raise Forbidden(f"role {principal.role} may not book stock at {loc.id}")


def check_reconcile(principal: tenancy.Principal) -> None:
    if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.WAREHOUSE, tenancy.SERVICE):
        raise Forbidden(f"role {principal.role} cannot run a reconciliation")


def check_serials(quantity: int, serials: Iterable[str] | None) -> list[str]:
    serials = [s.strip() for s in (serials or []) if s and s.strip()]
    if serials and len(serials) != quantity:
        raise ValidationFailed("one serial per unit", {"serials": [f"{len(serials)} serials for {quantity} units"]})
    if len(set(serials)) != len(serials):
        raise ValidationFailed("duplicate serials", {"serials": ["each serial once"]})
    return serials


def check_adjustment(quantity: int, reason: str | None) -> None:
    if not quantity:
        raise ValidationFailed("an adjustment moves something", {"quantity": ["must not be 0"]})
    if not reason or not reason.strip():
        raise ValidationFailed("an adjustment needs a reason", {"reason": ["required"]})


def check_receiving_location(loc: StockLocation) -> None:
    """New stock (入库) comes in at a warehouse."""
    if loc.kind != WAREHOUSE:
        raise ValidationFailed("new stock is received at a warehouse", {"location_id": [f"{loc.id} is a {loc.kind}"]})


def check_transfer(source: StockLocation, target: StockLocation) -> None:
    """A transfer (调拨) is between warehouses; an outlet gets its parts by issue."""
    if source.kind != WAREHOUSE or target.kind != WAREHOUSE:
        raise ValidationFailed(
            "transfers are between warehouses (use issue for an outlet)", {"to_location_id": ["must be a warehouse"]}
        )


def check_overdue_runner(principal: tenancy.Principal) -> None:
    if principal.role not in (tenancy.HQ, tenancy.SERVICE):
        raise Forbidden("only HQ runs the overdue check by hand")


def check_resolver(principal: tenancy.Principal) -> None:
    """Who settles a rejected scan: the warehouse, its center, HQ."""
    if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.WAREHOUSE):
        raise Forbidden(f"role {principal.role} cannot resolve rejected receipts")


def merge_lines(lines: Iterable[Mapping[str, Any]]) -> list[tuple[str, int]]:
    """A request's lines, one per part (quantities of a part named twice added), in first-named order."""
    merged: dict[str, int] = {}
    for line in lines:
        merged[line["part_no"]] = merged.get(line["part_no"], 0) + line["quantity"]
    return list(merged.items())


# ---------------------------------------------------------------- facts about visits (from dispatch)
def is_stale(last_applied_at: datetime | None, fact_at: datetime) -> bool:
    """A dispatch fact older than the last one applied to the visit (scheduled and released travel
    on separate queues, so a re-plan may overtake the release it follows)."""
    return last_applied_at is not None and fact_at < last_applied_at


def release_applies(need_status: str, need_outlet_id: str | None, released_from: str | None, stale: bool) -> bool:
    """Whether `visit.released` takes back what is reserved for a visit: not when it is stale,
    not after the visit was completed (its parts are used), not when it names another outlet
    than the one the visit is at now (a later re-plan moved it)."""
    if stale or need_status == "completed":
        return False
    return not (need_outlet_id and released_from and need_outlet_id != released_from)


# ---------------------------------------------------------------- returns (旧件返厂)
def new_rma_no(at: datetime, tenant_id: str) -> str:
    return f"RMA-{tenant_id}-{at.astimezone(LOCAL_TZ):%y%m%d}-{uuid.uuid4().hex[:6].upper()}"


def new_movement_no(kind: str) -> str:
    return f"{kind[:3].upper()}-{uuid.uuid4().hex[:12]}"


def rma_due(consumed_at: datetime, days: int, calendar: ChinaCalendar | None = None) -> datetime:
    """Due at the end of the working day `days` calendar days after the part came out
    (moved on to the next working day when that day is a holiday or weekend)."""
    day = consumed_at.astimezone(LOCAL_TZ).date() + timedelta(days=int(days))
    if calendar is not None:
        try:
            day = calendar.next_workday_on_or_after(day)
        except LookupError:  # a year the calendar does not know: keep the calendar day
            pass
    return datetime.combine(day, time(23, 59, 59), LOCAL_TZ).astimezone(UTC)


AGEING_BUCKETS = ((30, "0-30"), (60, "31-60"), (90, "61-90"))


def ageing(created_at: datetime, until: datetime) -> tuple[int, str]:
    """Days an old part has been on its way back and its ageing bucket (账龄)."""
    days = max(0, (until - created_at).days)
    for limit, label in AGEING_BUCKETS:
        if days <= limit:
            return days, label
    return days, ">90"


def is_overdue(rma_status: str, due_at: datetime, now: datetime) -> bool:
    return rma_status == RmaStatus.OPEN and due_at < now


@dataclass(frozen=True)
class OpenReturn:
    """An old part still on its way back, as the ageing table counts it."""

    outlet_id: str
    created_at: datetime
    due_at: datetime
    unit_cost: Decimal
    quantity: int


def ageing_table(returns: Iterable[OpenReturn], now: datetime) -> list[dict[str, Any]]:
    """Open returns per outlet (账龄): how many, how many overdue, their value, by age bucket."""
    table: dict[str, dict[str, Any]] = {}
    for r in returns:
        _, bucket = ageing(r.created_at, now)
        entry = table.setdefault(
            r.outlet_id,
            {
                "outlet_id": r.outlet_id,
                "open": 0,
                "overdue": 0,
                "value": Decimal("0.00"),
                "buckets": {b: 0 for _, b in AGEING_BUCKETS} | {">90": 0},
            },
        )
        entry["open"] += 1
        entry["overdue"] += r.due_at < now
        entry["buckets"][bucket] += 1
        entry["value"] += r.unit_cost * r.quantity
    return sorted(table.values(), key=lambda e: e["outlet_id"])


@dataclass(frozen=True)
class ReceiptStep:
    stage: str  # warehouse | factory | inspection
    late: bool = False


def receipt_step(
    rma_status: str | None, location_kind: str, due_at: datetime | None, received_at: datetime, kind: str = "rma"
) -> ReceiptStep:
    """Which step of the chain a receipt is, or why it cannot be applied (ValueError with the reason)."""
    if rma_status is None:
        raise ValueError("unknown RMA")
    if kind == "inspection":
        if rma_status != RmaStatus.AT_FACTORY:
            raise ValueError(f"inspection needs the part at the factory (RMA is {rma_status})")
        return ReceiptStep("inspection")
    if location_kind == WAREHOUSE:
        if rma_status != RmaStatus.OPEN:
            raise ValueError(f"RMA already {rma_status}")
        return ReceiptStep("warehouse", late=due_at is not None and received_at > due_at)
    if location_kind == FACTORY_KIND:
        if rma_status == RmaStatus.OPEN:
            raise ValueError("RMA not yet received at a warehouse (chain is outlet → warehouse → factory)")
        if rma_status != RmaStatus.AT_WAREHOUSE:
            raise ValueError(f"RMA already {rma_status}")
        return ReceiptStep("factory")
    raise ValueError(f"an RMA is received at a warehouse or the factory, not at a {location_kind}")


# ---------------------------------------------------------------- months and reconciliation
def parse_month(month: str) -> tuple[datetime, datetime]:
    """A month 'YYYY-MM' in local time (Asia/Shanghai) as [start, end) in UTC."""
    try:
        year, mon = (int(x) for x in str(month).split("-"))
        start = date(year, mon, 1)
    except (ValueError, TypeError):
        raise ValidationFailed("invalid month", {"month": ["must be YYYY-MM"]}) from None
    end = date(year + (mon == 12), mon % 12 + 1, 1)
    to_utc: Callable[[date], datetime] = lambda d: datetime.combine(d, time(0), LOCAL_TZ).astimezone(UTC)  # noqa: E731
    return to_utc(start), to_utc(end)


def month_of(at: datetime) -> str:
    return f"{at.astimezone(LOCAL_TZ):%Y-%m}"


FIGURES = (
    "opening",
    "received",
    "issued",
    "consumed",
    "returned",
    "forwarded",
    "scrapped",
    "adjusted",
    "closing",
    "on_hand",
    "defective_on_hand",
    "open_rmas",
)


def locations_to_reconcile(
    visible: Mapping[str, LocationSpec], location_id: str | None, tenant_id: str | None
) -> dict[str, LocationSpec]:
    """Of the locations the caller sees ({id: LocationSpec}), the warehouses and outlets a
    reconciliation covers: the one named, else those of the tenant named, else all."""
    if location_id:
        if location_id not in visible:
            raise NotFound(f"location {location_id} not found", {"location_id": ["unknown location"]})
        visible = {location_id: visible[location_id]}
    if tenant_id:
        visible = {k: v for k, v in visible.items() if v.tenant_id == tenant_id}
    chosen = {k: v for k, v in visible.items() if v.kind in (OUTLET, WAREHOUSE)}
    if not chosen:
        raise NotFound("no location to reconcile", {"location_id": ["none visible"]})
    return chosen


def reconciliation_summary(month: str, reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer to a reconciliation run: counts, and each location's report."""
    return {
        "month": month,
        "locations": len(reports),
        "with_discrepancies": sum(1 for r in reports if r["discrepancy_count"]),
        "discrepancies": sum(r["discrepancy_count"] for r in reports),
        "reports": [
            {
                k: r[k]
                for k in (
                    "location_id",
                    "location_kind",
                    "tenant_id",
                    "figures",
                    "discrepancy_count",
                    "by_kind",
                    "discrepancies",
                )
            }
            for r in reports
        ],
    }


def balance_rows(
    stored: Mapping[tuple[str, str, str], int], from_movements: Mapping[tuple[str, str, str], int]
) -> list[dict[str, Any]]:
    """Each stored balance {(location, part, condition): on_hand} next to the sum of its
    movements; the two must agree (a row where they differ is a ledger fault)."""
    return [
        {
            "location_id": k[0],
            "part_no": k[1],
            "condition": k[2],
            "balance": stored[k],
            "from_movements": from_movements.get(k, 0),
        }
        for k in sorted(stored)
    ]


def as_local_date(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:  # SQLite gives naive UTC
        at = at.replace(tzinfo=UTC)
    return at.astimezone(LOCAL_TZ).date().isoformat()


def reconciliation_report(
    location: StockLocation, month: str, figures: Mapping[str, int | None], discrepancies: list[dict[str, Any]]
) -> dict[str, Any]:
    """One location's month as it is stored, exported and published."""
    by_kind = {k: 0 for k in Discrepancy.ALL}
    for d in discrepancies:
        by_kind[d["kind"]] += 1
    return {
        "location_id": location.id,
        "location_kind": location.kind,
        "tenant_id": location.tenant_id,
        "month": month,
        "figures": {k: int(figures.get(k, 0) or 0) for k in FIGURES},
        "discrepancies": discrepancies,
        "discrepancy_count": len(discrepancies),
        "by_kind": {k: v for k, v in by_kind.items() if v},
    }


def discrepancy(
    kind: str, part_no: str, quantity: int, ref: str | None, detail: str, outlet_id: str | None = None
) -> dict[str, Any]:
    """One finding of a reconciliation; `outlet_id` the outlet it concerns (none for a warehouse's
    own, such as a serial changed on the way to the factory)."""
    assert kind in Discrepancy.ALL
    return {
        "kind": kind,
        "part_no": part_no,
        "quantity": int(quantity),
        "ref": ref,
        "detail": detail,
        "outlet_id": outlet_id,
    }
