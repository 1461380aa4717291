"""The directory of tenants: regional centers, their territories and outlets, and the
per-tenant policy figures (SLA thresholds, local radius) and per-product-line warranty.

Loaded from ``shared/data/tenants.yaml`` (or config ``TENANTS_FILE``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from geopy.distance import geodesic

DEFAULT_FILE = Path(__file__).resolve().parent / "data" / "tenants.yaml"


def _short(name: str | None) -> str | None:
    """湖北省 -> 湖北, 广西壮族自治区 -> 广西: compare provinces by their short name."""
    if not name:
        return name
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


@dataclass(frozen=True)
class Site:
    id: str
    name: str
    province: str
    city: str
    lat: float
    lon: float
    district: str | None = None
    adcode: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class Center(Site):
    served_provinces: tuple[str, ...] = ()
    sla_policy: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    local_radius_km: float | None = None


@dataclass(frozen=True)
class BankAccount:
    """The account an outlet is paid into (结算账户): bank branch (开户行), number (账号), holder (户名)."""

    bank: str
    account_no: str
    holder: str


@dataclass(frozen=True)
class Outlet(Site):
    center: str = ""
    kind: str = "franchised"
    grade: str | None = None
    status: str = "effective"
    legal_entity: str | None = None  # the company behind the outlet (法人单位)
    bank_account: BankAccount | None = None


def _outlet(raw: dict[str, Any]) -> Outlet:
    bank = raw.get("bank_account")
    return Outlet(**{**raw, "bank_account": BankAccount(**bank) if bank else None})


@dataclass(frozen=True)
class WarrantyTerms:
    warranty_years: int = 1
    return_days: int = 15
    exchange_days: int = 30


class TenantDirectory:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.local_radius_km = float(doc.get("local_radius_km", 60))
        self.default_sla = dict(doc.get("sla_policy_default") or {})
        self.centers: dict[str, Center] = {}
        for c in doc.get("centers", []):
            c = dict(c)
            c["served_provinces"] = tuple(c.get("served_provinces") or ())
            c["sla_policy"] = dict(c.get("sla_policy") or {})
            self.centers[c["id"]] = Center(**c)
        self.outlets: dict[str, Outlet] = {o["id"]: _outlet(o) for o in doc.get("outlets", [])}
        self.product_lines = {name: WarrantyTerms(**terms) for name, terms in (doc.get("product_lines") or {}).items()}
        self.default_warranty = WarrantyTerms(**(doc.get("default_warranty") or {}))
        self._by_province = {}
        for center in self.centers.values():
            for province in center.served_provinces:
                self._by_province[_short(province)] = center.id

    @classmethod
    @functools.lru_cache(maxsize=8)
    def load(cls, path: str | None = None) -> TenantDirectory:
        with open(path or DEFAULT_FILE, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh))

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TenantDirectory:
        return cls.load(config.get("TENANTS_FILE") or None)

    def tenant_for_province(self, province: str | None) -> str | None:
        return self._by_province.get(_short(province))

    def sla_policy_dict(self, tenant_id: str) -> dict[str, Any]:
        merged = dict(self.default_sla)
        center = self.centers.get(tenant_id)
        if center:
            merged.update(center.sla_policy)
        return merged

    def tier(
        self, tenant_id: str, province: str | None, city: str | None, lat: float | None = None, lon: float | None = None
    ) -> str | None:
        """local / in_province / out_of_province of a place relative to the serving center.

        Local: the center's own city, or within the local radius of the center. In the
        center's province: in_province. Elsewhere in its territory: out_of_province.
        """
        center = self.centers[tenant_id]
        if province is None:
            return None
        radius = center.local_radius_km if center.local_radius_km is not None else self.local_radius_km
        if city and city == center.city:
            return "local"
        if lat is not None and lon is not None and radius > 0:
            if geodesic((lat, lon), (center.lat, center.lon)).km <= radius:
                return "local"
        if _short(province) == _short(center.province):
            return "in_province"
        return "out_of_province"

    def warranty_terms(self, product_line: str | None) -> WarrantyTerms:
        return self.product_lines.get(product_line or "", self.default_warranty)

    def outlets_of(self, tenant_id: str) -> list[Outlet]:
        return [o for o in self.outlets.values() if o.center == tenant_id]
