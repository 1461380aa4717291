"""Gateway routes of the certification service (a mixin of GatewayService)."""
from __future__ import annotations


class CertificationRoutes:
    """The certification endpoints under /api/v1; `GatewayService` inherits them."""
