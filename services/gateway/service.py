"""The gateway: the REST API in front of the services, authentication, one error shape, OpenAPI.

It owns people's accounts and their portal sessions (``models.py``, its own database and
migration). Each API request is authenticated from its bearer token, each portal page from its
session (``portal/``); either way the resulting principal goes into the worker's context data and
so travels with every RPC behind it, where the services' database sessions enforce it.

Each service's routes are a mixin in ``routes_<service>.py``, built on the service's contract
(``services/<service>/contracts.py``: its schemas, CSV converters and errors, never its models);
this module assembles them, and serves ``/me`` and the OpenAPI document of every route.
"""

from __future__ import annotations

import re
from decimal import Decimal

from services.gateway import schemas
from services.gateway.api import API, ROUTES, Authenticator, api
from services.gateway.models import Base
from services.gateway.portal import nav as portal_nav
from services.gateway.portal.pages_auth import AuthPages
from services.gateway.portal.pages_outlet import OutletPages
from services.gateway.routes_auth import AuthRoutes
from services.gateway.routes_certification import CertificationRoutes
from services.gateway.routes_dispatch import DispatchRoutes
from services.gateway.routes_intake import IntakeRoutes
from services.gateway.routes_parts import PartsRoutes
from services.gateway.routes_qa import QaRoutes
from services.gateway.routes_settlement import SettlementRoutes
from shared import web
from shared.db import Database
from shared.web import http, json_response


# web.ServiceBase is not imported by name: `nameko run` would take it for a service
class GatewayService(
    IntakeRoutes,
    DispatchRoutes,
    CertificationRoutes,
    PartsRoutes,
    SettlementRoutes,
    QaRoutes,
    AuthRoutes,
    AuthPages,
    OutletPages,
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

    @http("GET", "/openapi.json")
    def openapi(self, request):
        return json_response(openapi_document())


_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")
_document = None


def openapi_document():
    global _document
    if _document is not None:
        return _document
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    spec = APISpec(
        title="Field-service platform API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Multi-tenant after-sales field service. Authenticate with "
            "'Authorization: Bearer <token>' (fsm token)."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=schemas.Error)
    for method, path, meta in ROUTES:
        oa_path = _PATH_PARAM.sub(r"{\1}", path)
        op = {
            "summary": meta["summary"],
            "tags": [meta["tag"]],
            "responses": {str(meta["status"]): {"description": "OK"}},
        }
        if meta["response"] is not None:
            op["responses"][str(meta["status"])]["content"] = {meta["content"]: {"schema": meta["response"]}}
        for code, text in (
            ("400", "malformed request"),
            ("401", "missing or invalid token"),
            ("403", "not allowed for your role"),
            ("404", "not found (or not yours)"),
            ("409", "invalid transition or conflict"),
            ("422", "validation failed"),
        ):
            op["responses"][code] = {"description": text, "content": {"application/json": {"schema": "Error"}}}
        if meta["body"] is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {"schema": meta["body"]}}}
        elif method == "POST" and meta["content"] == "text/csv":
            op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
        if meta["query"] is not None:
            op["parameters"] = [{"in": "query", "schema": meta["query"]}]
        params = _PATH_PARAM.findall(path)
        if params:
            op.setdefault("parameters", []).extend(
                {"in": "path", "name": p, "required": True, "schema": {"type": "string"}} for p in params
            )
        if not meta["public"]:
            op["security"] = [{"bearer": []}]
        spec.path(path=oa_path, operations={method.lower(): op})
    _document = _plain_numbers(spec.to_dict())
    return _document


def _plain_numbers(value):
    """apispec keeps a Decimal field's bounds as Decimal, which JSON would carry as a string
    ("maximum": "100.00", not a number): make them plain numbers."""
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
