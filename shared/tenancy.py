"""The principal (who is calling) and how it travels between services.

The principal is put into nameko's context data under ``principal`` by the gateway
(from the caller's token) or by a service acting on its own (timers, event handlers).
Nameko copies context data into the headers of every RPC and event it sends, so the
receiving worker sees the same principal. `shared.db` reads it to scope every query.

The other keys an RPC puts into the context data are here too (`shared.rpc` sets and reads them,
`shared.db` records the request a unit of work carries out), so neither imports the other.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from shared.errors import Unauthorized

CONTEXT_KEY = "principal"

# context keys that describe one RPC hop only (set by `shared.rpc`): never passed on to the next RPC or event
REQUEST_ID = "rpc_request_id"  # this request's id: the caller's idempotency key or call id, target, call number
REQUEST_HASH = "rpc_request_hash"  # the fingerprint of the request's body (another body under the same id: Conflict)
DEADLINE = "rpc_deadline"  # when the caller stops waiting (epoch seconds)
IDEMPOTENCY_KEY = "idempotency_key"  # the gateway's caller's Idempotency-Key (with who sent it)
IDEMPOTENCY_HASH = "idempotency_hash"  # the fingerprint of that caller's body
REQUEST_CLAIMED = "rpc_request_claimed"  # set once a unit of work recorded the request it carries out
HOP_ONLY_KEYS = frozenset({REQUEST_ID, REQUEST_HASH, DEADLINE, IDEMPOTENCY_KEY, IDEMPOTENCY_HASH, REQUEST_CLAIMED})

HQ = "hq"
CENTER = "center"
OUTLET = "outlet"
WAREHOUSE = "warehouse"
CUSTOMER = "customer"
SERVICE = "service"  # a service acting on its own: timers, event handlers, imports

USER_ROLES = (HQ, CENTER, OUTLET, WAREHOUSE, CUSTOMER)
ROLES = USER_ROLES + (SERVICE,)

# A duty narrows what a center (or HQ) user may sign off, beside the role's tenancy:
# the technical lead (技术负责人) checks outlets' fee claims and does technical reviews.
TECHNICAL_LEAD = "technical_lead"
# the head of HQ's service department (顾客服务部部长) approves outlets and their revocation
SERVICE_HEAD = "service_head"
DUTIES = (TECHNICAL_LEAD, SERVICE_HEAD)


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user with a role, bound to a tenant (regional center) where the role needs one.

    - hq: every tenant
    - center: one tenant
    - outlet: one outlet's jobs inside one tenant
    - warehouse: one warehouse inside one tenant (or HQ's warehouse with tenant None)
    - customer: one customer's own tickets
    - service: internal; with a tenant it acts inside that tenant only, without one on all
    """

    user: str
    role: str
    tenant: str | None = None
    outlet: str | None = None
    warehouse: str | None = None
    customer: str | None = None
    duty: str | None = None  # one of DUTIES (center or hq users only); None: none

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise Unauthorized(f"unknown role {self.role!r}")
        if not self.user:
            raise Unauthorized("principal without a user")
        if self.role in (CENTER, OUTLET) and not self.tenant:
            raise Unauthorized(f"role {self.role} needs a tenant")
        if self.role == OUTLET and not self.outlet:
            raise Unauthorized("role outlet needs an outlet id")
        if self.role == WAREHOUSE and not self.warehouse:
            raise Unauthorized("role warehouse needs a warehouse id")
        if self.role == CUSTOMER and not self.customer:
            raise Unauthorized("role customer needs a customer id")
        if self.duty is not None and (self.duty not in DUTIES or self.role not in (CENTER, HQ)):
            raise Unauthorized(f"duty {self.duty!r} not allowed for role {self.role}")

    @property
    def all_tenants(self) -> bool:
        return self.role == HQ or (self.role == SERVICE and self.tenant is None)

    def sees_tenant(self, tenant_id: str | None) -> bool:
        return self.all_tenants or (tenant_id is not None and tenant_id == self.tenant)

    def encode(self) -> str:
        return json.dumps(
            {k: v for k, v in asdict(self).items() if v is not None}, sort_keys=True, separators=(",", ":")
        )

    @classmethod
    def decode(cls, raw: object) -> Principal:
        if isinstance(raw, Principal):
            return raw
        if isinstance(raw, (bytes, str)):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise Unauthorized("malformed principal") from None
        if not isinstance(raw, dict):
            raise Unauthorized("malformed principal")
        # unchecked values: __post_init__ refuses what is not a principal
        fields: dict[str, Any] = {
            k: raw.get(k) for k in ("user", "role", "tenant", "outlet", "warehouse", "customer", "duty")
        }
        return cls(**fields)

    def acting_for(self, tenant: str | None) -> Principal:
        """The service principal a handler uses for a fact that belongs to `tenant`."""
        return Principal(user=f"{self.role}:{self.user}", role=SERVICE, tenant=tenant)

    def with_tenant(self, tenant: str | None) -> Principal:
        return replace(self, tenant=tenant)


def service_principal(service_name: str, tenant: str | None = None) -> Principal:
    return Principal(user=service_name, role=SERVICE, tenant=tenant)


def principal_from_context(context_data: Mapping[str, Any]) -> Principal | None:
    raw = context_data.get(CONTEXT_KEY)
    if raw is None:
        return None
    return Principal.decode(raw)


def put_principal(worker_ctx: Any, principal: Principal) -> None:
    """Make `principal` the one this worker acts as and passes on to every RPC and event."""
    worker_ctx.data[CONTEXT_KEY] = principal.encode()
