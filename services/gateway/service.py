"""The gateway: the REST API in front of the services, authentication, one error shape, OpenAPI.

It owns people's accounts and their portal sessions (``models.py``, its own database and
migration). Each API request is authenticated from its bearer token, each portal page from its
session (``portal/``); either way the resulting principal goes into the worker's context data and
so travels with every RPC behind it, where the services' database sessions enforce it.

Each service's routes are a mixin in ``routes_<service>.py``, built on the service's contract
(``services/<service>/contracts.py``: its schemas, CSV converters and errors, never its models);
this module assembles them and serves ``/me``; ``docs.py`` serves the OpenAPI document of every
route and the documentation page ``/docs``.
"""

from __future__ import annotations

from services.gateway import schemas
from services.gateway.api import API, Authenticator, api
from services.gateway.docs import DocsRoutes
from services.gateway.models import Base
from services.gateway.portal import nav as portal_nav
from services.gateway.portal.pages_auth import AuthPages
from services.gateway.portal.pages_center_callbacks import CenterCallbackPages
from services.gateway.portal.pages_center_customers import CenterCustomerPages
from services.gateway.portal.pages_center_dispatch import CenterDispatchPages
from services.gateway.portal.pages_center_outlets import CenterOutletPages
from services.gateway.portal.pages_center_records import CenterRecordPages
from services.gateway.portal.pages_center_returns import CenterReturnPages
from services.gateway.portal.pages_center_tickets import CenterTicketPages
from services.gateway.portal.pages_hq_approvals import HqApprovalPages
from services.gateway.portal.pages_hq_network import HqNetworkPages
from services.gateway.portal.pages_hq_sla import HqSlaPages
from services.gateway.portal.pages_hq_triage import HqTriagePages
from services.gateway.portal.pages_inbox import InboxPages
from services.gateway.portal.pages_outlet import OutletPages
from services.gateway.portal.pages_reports import ReportPages
from services.gateway.portal.pages_warehouse import WarehousePages
from services.gateway.routes_auth import AuthRoutes
from services.gateway.routes_certification import CertificationRoutes
from services.gateway.routes_customers import CustomerRoutes
from services.gateway.routes_dispatch import DispatchRoutes
from services.gateway.routes_intake import IntakeRoutes
from services.gateway.routes_notify import NotifyRoutes
from services.gateway.routes_parts import PartsRoutes
from services.gateway.routes_qa import QaRoutes
from services.gateway.routes_reports import ReportRoutes
from services.gateway.routes_returns import ReturnRoutes
from services.gateway.routes_settlement import SettlementRoutes
from shared import web
from shared.db import Database


# web.ServiceBase is not imported by name: `nameko run` would take it for a service
class GatewayService(
    IntakeRoutes,
    CustomerRoutes,
    ReturnRoutes,
    DispatchRoutes,
    CertificationRoutes,
    PartsRoutes,
    SettlementRoutes,
    QaRoutes,
    ReportRoutes,
    NotifyRoutes,
    AuthRoutes,
    AuthPages,
    OutletPages,
    WarehousePages,
    CenterTicketPages,
    CenterDispatchPages,
    CenterCallbackPages,
    CenterRecordPages,
    CenterCustomerPages,
    CenterReturnPages,
    CenterOutletPages,
    HqApprovalPages,
    HqNetworkPages,
    HqSlaPages,
    ReportPages,
    HqTriagePages,
    InboxPages,
    DocsRoutes,
    web.ServiceBase,
):
    name = "gateway"

    auth = Authenticator()
    db = Database(Base.metadata, "services.gateway.migrations")  # accounts and portal sessions

    @staticmethod
    def html_errors(path):
        """The portal's paths answer a routing error with an HTML page; the API's with JSON."""
        return path == "/" or web.path_under(path, *portal_nav.PREFIXES)

    @api("GET", f"{API}/me", "Who the token says you are", response=schemas.Me, tag="auth")
    def me(self, request, principal):
        return {"user": principal.user, "role": principal.role, "tenant": principal.tenant, "outlet": principal.outlet}
