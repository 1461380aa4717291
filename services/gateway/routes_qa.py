"""Gateway routes of the qa service (a mixin of GatewayService)."""
from __future__ import annotations


class QaRoutes:
    """The qa endpoints under /api/v1; `GatewayService` inherits them."""
