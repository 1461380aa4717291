"""Gateway routes of the settlement service (a mixin of GatewayService)."""
from __future__ import annotations


class SettlementRoutes:
    """The settlement endpoints under /api/v1; `GatewayService` inherits them."""
