"""Nameko dependencies that hand each worker a shared, read-only domain helper."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from shared.geo import ChinaGeocoder
from shared.sla import SlaClock, SlaPolicy
from shared.tenants import TenantDirectory
from shared.workcal import ChinaCalendar


class Geocoder(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    def setup(self) -> None:
        self.geocoder = ChinaGeocoder()

    def get_dependency(self, worker_ctx: Any) -> ChinaGeocoder:
        return self.geocoder


class Policies:
    """The tenant directory, the SLA clock and each tenant's SLA policy."""

    def __init__(self, directory: TenantDirectory) -> None:
        self.directory = directory
        self.clock = SlaClock(ChinaCalendar.default())
        self._policies: dict[str, SlaPolicy] = {}

    def sla_policy(self, tenant_id: str | None) -> SlaPolicy:
        key = tenant_id or ""
        if key not in self._policies:
            merged = self.directory.sla_policy_dict(tenant_id) if tenant_id else dict(self.directory.default_sla)
            self._policies[key] = SlaPolicy.from_dict(merged)
        return self._policies[key]


class PolicyProvider(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    def setup(self) -> None:
        self.policies = Policies(TenantDirectory.from_config(self.container.config))

    def get_dependency(self, worker_ctx: Any) -> Policies:
        return self.policies
