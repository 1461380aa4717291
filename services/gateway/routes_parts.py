"""Gateway routes of the parts service (a mixin of GatewayService)."""
from __future__ import annotations


class PartsRoutes:
    """The parts endpoints under /api/v1; `GatewayService` inherits them."""
