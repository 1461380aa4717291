"""Tariffs (结算标准): versioned, HQ default plus per-tenant overrides, and the lookup of the
tariff in force on a day. Plain Python: the service stores versions in its database, the
bench and the unit tests build them straight from the YAML.

A `Tariff` is the merge of HQ's version in force on the day with the tenant's version in
force on that day (if any). Each value remembers the version that supplied it, so every
priced amount can cite ``"<version id>:<entry path>"`` (its tariff line).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import yaml

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "tariff_default.yaml"

# entries a version must carry (HQ's) or may override (a tenant's)
REQUIRED = (
    "labour",
    "visit_fee",
    "transport_bands",
    "travel_allowance_per_day",
    "travel_km_per_day",
    "parts_handling_fee",
    "grade_coefficient",
    "self_paid_outlet_share",
    "sla_deductions",
    "late_part_return_fee",
    "part_return_grace_days",
    "unreturned_part_value",
)
MERGED_DICTS = ("labour", "grade_coefficient", "sla_deductions")
LABOUR_KINDS = ("install", "maintenance", "repair")


class TariffError(ValueError):
    """A tariff document or version that cannot be used; `fields` names what is wrong."""

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


@dataclass(frozen=True)
class TariffVersion:
    id: str
    tenant: str | None
    valid_from: date
    valid_to: date | None
    body: dict

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def _as_date(value, name, fields):
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        fields[name] = ["must be a date YYYY-MM-DD"]
        return None


def parse_version(raw: dict) -> TariffVersion:
    """A version from its document form; raises TariffError naming each bad entry."""
    fields = {}
    if not isinstance(raw, dict):
        raise TariffError("a tariff version must be a mapping", {"_schema": ["must be a mapping"]})
    vid = raw.get("id")
    if not vid or not isinstance(vid, str):
        fields["id"] = ["required"]
    tenant = raw.get("tenant")
    valid_from = _as_date(raw.get("valid_from"), "valid_from", fields)
    valid_to = _as_date(raw.get("valid_to"), "valid_to", fields)
    if valid_from is None and "valid_from" not in fields:
        fields["valid_from"] = ["required"]
    if valid_from and valid_to and valid_to < valid_from:
        fields["valid_to"] = ["before valid_from"]
    body = {k: v for k, v in raw.items() if k not in ("id", "tenant", "valid_from", "valid_to")}
    unknown = sorted(set(body) - set(REQUIRED))
    for key in unknown:
        fields[key] = ["unknown tariff entry"]
    if tenant is None:
        for key in REQUIRED:
            if key not in body:
                fields[key] = ["required in an HQ version"]
    _check_amounts(body, fields)
    if fields:
        raise TariffError(f"invalid tariff version {vid!r}", fields)
    return TariffVersion(vid, tenant, valid_from, valid_to, body)


def _check_amounts(body, fields):
    def amount(path, value):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            fields[path] = ["must be a number"]
            return
        try:
            if Decimal(str(value)) < 0:
                fields[path] = ["must not be negative"]
        except ArithmeticError:
            fields[path] = ["must be a number"]

    for key in (
        "visit_fee",
        "travel_allowance_per_day",
        "parts_handling_fee",
        "late_part_return_fee",
        "unreturned_part_value",
        "self_paid_outlet_share",
    ):
        if key in body:
            amount(key, body[key])
    if "self_paid_outlet_share" in body and "self_paid_outlet_share" not in fields:
        if Decimal(str(body["self_paid_outlet_share"])) > 1:
            fields["self_paid_outlet_share"] = ["must be between 0 and 1"]
    for key in ("travel_km_per_day", "part_return_grace_days"):
        if key in body and (not isinstance(body[key], int) or body[key] <= 0):
            fields[key] = ["must be a positive integer"]
    if "labour" in body:
        if not isinstance(body["labour"], dict):
            fields["labour"] = ["must map product lines to kinds"]
        else:
            for line, kinds in body["labour"].items():
                if not isinstance(kinds, dict):
                    fields[f"labour.{line}"] = ["must map kinds to fees"]
                    continue
                for kind, fee in kinds.items():
                    if kind not in LABOUR_KINDS:
                        fields[f"labour.{line}.{kind}"] = [f"kind must be one of {', '.join(LABOUR_KINDS)}"]
                    elif isinstance(fee, dict):
                        for cls, v in fee.items():
                            amount(f"labour.{line}.{kind}.{cls}", v)
                    else:
                        amount(f"labour.{line}.{kind}", fee)
    if "transport_bands" in body:
        bands = body["transport_bands"]
        if not isinstance(bands, list) or not bands:
            fields["transport_bands"] = ["must be a non-empty list"]
        else:
            last = -1
            for i, band in enumerate(bands):
                if not isinstance(band, dict) or "fee" not in band:
                    fields[f"transport_bands.{i}"] = ["needs up_to_km and fee"]
                    continue
                amount(f"transport_bands.{i}.fee", band["fee"])
                up = band.get("up_to_km")
                if up is None and i != len(bands) - 1:
                    fields[f"transport_bands.{i}.up_to_km"] = ["only the last band is open-ended"]
                elif up is not None and (not isinstance(up, (int, float)) or up <= last):
                    fields[f"transport_bands.{i}.up_to_km"] = ["must increase"]
                else:
                    last = up if up is not None else last
            if bands[-1].get("up_to_km") is not None:
                fields["transport_bands"] = ["the last band must be open-ended (up_to_km: null)"]
    for key in ("grade_coefficient", "sla_deductions"):
        if key in body:
            if not isinstance(body[key], dict):
                fields[key] = ["must be a mapping"]
            else:
                for k, v in body[key].items():
                    amount(f"{key}.{k}", v)


@dataclass
class Tariff:
    """The tariff in force for one tenant on one day: values and the version each came from."""

    day: date
    tenant: str | None
    values: dict
    sources: dict = field(default_factory=dict)  # top-level (or "labour.<line>") key -> version id
    versions: tuple = ()
    _lines: dict = field(default_factory=dict, repr=False)
    _decs: dict = field(default_factory=dict, repr=False)

    def source(self, *path) -> str:
        key = path[0]
        if key in MERGED_DICTS and len(path) > 1:
            return self.sources.get(f"{key}.{path[1]}", self.sources.get(key))
        return self.sources[key]

    def line_id(self, *path) -> str:
        hit = self._lines.get(path)
        if hit is None:
            hit = self._lines[path] = f"{self.source(*path)}:{'/'.join(str(p) for p in path)}"
        return hit

    def dec(self, *path) -> Decimal:
        hit = self._decs.get(path)
        if hit is None:
            value = self.values
            for p in path:
                value = value[p]
            hit = self._decs[path] = Decimal(str(value))
        return hit

    # ---------------------------------------------------------------- lookups
    def labour(self, product_line: str | None, kind: str, fault_class: str):
        """(fee, tariff line id) for the labour of `kind` on `product_line`."""
        lines = self.values["labour"]
        line = product_line if product_line in lines else "_default"
        fee = lines[line][kind]
        if isinstance(fee, dict):
            cls = fault_class if fault_class in fee else "general"
            return self.dec("labour", line, kind, cls), self.line_id("labour", line, kind, cls)
        return self.dec("labour", line, kind), self.line_id("labour", line, kind)

    def transport(self, km: float | None):
        """(fee, tariff line id, band label) for a one-way distance."""
        km = km or 0.0
        lower = 0
        for i, band in enumerate(self.values["transport_bands"]):
            up = band.get("up_to_km")
            if up is None or km <= up:
                label = f"{lower}-{up} km" if up is not None else f">{lower} km"
                return self.dec("transport_bands", i, "fee"), self.line_id("transport_bands", i), label
            lower = up
        raise TariffError("no transport band", {"transport_bands": ["no open-ended band"]})

    def travel_days(self, km: float | None) -> int:
        """Days of travel allowance an out-of-province visit earns: ceil(km / km per day), ≥ 1."""
        per_day = int(self.values["travel_km_per_day"])
        return max(1, math.ceil((km or 0.0) / per_day))

    def grade_coefficient(self, grade: str | None):
        grades = self.values["grade_coefficient"]
        g = grade if grade in grades else "B"
        return self.dec("grade_coefficient", g), self.line_id("grade_coefficient", g), g

    def sla_deduction(self, sla: str):
        table = self.values["sla_deductions"]
        return Decimal(str(table.get(sla, 0))), self.line_id(
            "sla_deductions", sla
        ) if sla in table else f"{self.source('sla_deductions')}:sla_deductions/{sla}"


class TariffBook:
    """All tariff versions; `in_force(tenant, day)` merges HQ's with the tenant's."""

    def __init__(self, versions, fault_classes: dict, kinds: dict):
        self.versions = list(versions)
        self.fault_classes = {k: tuple(v) for k, v in (fault_classes or {}).items()}
        self.kinds = dict(kinds or {})
        self._cache = {}
        self._fault_cache = {}

    @classmethod
    def from_document(cls, doc: dict) -> TariffBook:
        versions = [parse_version(v) for v in doc.get("versions") or []]
        return cls(versions, doc.get("fault_classes"), doc.get("kinds"))

    @classmethod
    @functools.lru_cache(maxsize=4)
    def load(cls, path: str | None = None) -> TariffBook:
        with open(path or DEFAULT_FILE, encoding="utf-8") as fh:
            return cls.from_document(yaml.safe_load(fh))

    def check_overlap(self, new: TariffVersion):
        """A new version may not overlap another of the same scope (HQ or the tenant)."""
        for v in self.versions:
            if v.tenant != new.tenant or v.id == new.id:
                continue
            end_a = v.valid_to or date.max
            end_b = new.valid_to or date.max
            if v.valid_from <= end_b and new.valid_from <= end_a:
                raise TariffError(
                    f"overlaps version {v.id}",
                    {"valid_from": [f"{v.id} is in force {v.valid_from}..{v.valid_to or 'open'}"]},
                )

    def _version(self, tenant, day):
        for v in self.versions:
            if v.tenant == tenant and v.covers(day):
                return v
        return None

    def in_force(self, tenant: str | None, day: date) -> Tariff:
        key = (tenant, day)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        base = self._version(None, day)
        if base is None:
            raise TariffError(f"no HQ tariff in force on {day.isoformat()}", {"date": ["no tariff in force"]})
        values = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.body.items()}
        sources = {k: base.id for k in values}
        for line in values["labour"]:
            sources[f"labour.{line}"] = base.id
        used = [base.id]
        override = self._version(tenant, day) if tenant else None
        if override is not None:
            used.append(override.id)
            for k, v in override.body.items():
                if k in MERGED_DICTS and isinstance(v, dict):
                    merged = dict(values[k])
                    for sub, subv in v.items():
                        merged[sub] = subv
                        sources[f"{k}.{sub}"] = override.id
                    values[k] = merged
                else:
                    values[k] = v
                    sources[k] = override.id
        tariff = Tariff(day, tenant, values, sources, tuple(used))
        self._cache[key] = tariff
        return tariff

    def fault_class(self, fault: str | None) -> str:
        """The fault class (故障分类) of a ticket's fault text: first keyword match, else general."""
        text = fault or ""
        hit = self._fault_cache.get(text)
        if hit is None:
            hit = next((cls for cls, words in self.fault_classes.items() if any(w in text for w in words)), "general")
            if len(self._fault_cache) < 10000:
                self._fault_cache[text] = hit
        return hit

    def labour_kind(self, ticket_kind: str | None) -> str:
        return self.kinds.get(ticket_kind or "repair", "repair")
