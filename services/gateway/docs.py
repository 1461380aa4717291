"""The gateway's API documentation: the OpenAPI 3 document of every route (``/openapi.json``)
and the page that shows it (``/docs``: Swagger UI, from the npm package swagger-ui-dist in
ASSETS_DIR, see `shared.web.Assets`).

The document is built from the routes themselves (`services.gateway.api.ROUTES`: each one's
schemas of body, query and answer, its status and content type) with apispec, so a route
cannot be served undocumented. Every operation has an ``operationId`` (the route's method name),
an answer schema, and its error answers, all of the one `Error` shape; the main calls carry
examples (`services.gateway.examples`).
"""

from __future__ import annotations

import copy
import re
from decimal import Decimal

from marshmallow import Schema, fields
from werkzeug.wrappers import Response

from services.gateway import examples, schemas
from services.gateway.api import ROUTES
from services.settlement.contracts import Money
from shared import web
from shared.web import http, json_response

TITLE = "Field-service platform API"
_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")
BINARY = {"type": "string", "format": "binary"}

# Every error answer: (status, component name, description). 409 is left out of reads, 413 out of
# routes without a body, 429 (the sign-in's throttle) out of routes that need a token.
ERRORS = (
    ("400", "BadRequest", "Malformed request: not JSON, not UTF-8, not CSV, or a bad header"),
    ("401", "Unauthorized", "Missing, invalid or expired bearer token"),
    ("403", "Forbidden", "Not allowed for your role"),
    ("404", "NotFound", "Not found (or another tenant's: it does not exist for you)"),
    ("409", "Conflict", "Invalid workflow step, concurrent change, or a reused Idempotency-Key"),
    ("413", "PayloadTooLarge", "Request body over MAX_BODY_BYTES"),
    ("422", "ValidationFailed", "A field is wrong: every wrong field is named in `fields`"),
    ("429", "TooManyRequests", "Too many attempts; try again after Retry-After seconds"),
    ("503", "ServiceUnavailable", "The service behind the route or the broker cannot be reached; try again"),
)
TAGS = (
    ("auth", "Who you are"),
    ("tickets", "Service requests (受理): registration, workflow, CSV import"),
    ("ledger", "The service ledger (服务信息台帐)"),
    ("customers", "The customer and product archive (客户档案, 产品档案): cards, history, review, merge, export"),
    ("returns", "Returns (15 天包退), exchanges (30 天包换) and refunds or compensations (退赔款) paid by settlement"),
    ("sla", "SLA deadlines"),
    ("dispatch", "The dispatch board, plans and on-site visits"),
    ("technicians", "Technicians, their import and daily routes"),
    ("certification", "Outlets' lifecycle, training, exams, certificates, network planning"),
    ("parts", "Spare parts: stock, reservations, issue, old-part returns (RMA), reconciliation"),
    ("settlement", "Fee claims, audits, monthly statements, payments, tariffs"),
    ("qa", "Callbacks, complaints, scorecards, the centers' assessments, the regions' grades and reports"),
    ("notify", "Notices to people: the portal inbox, e-mail and SMS delivery status"),
)

IDEMPOTENT = (
    "Repeatable: with an `Idempotency-Key: <1-200 printable ASCII characters>` header the work is done "
    "once; the same key with the same request returns the first answer, with another request it is 409."
)

_document = None


def openapi_document() -> dict:
    """The OpenAPI 3.0 document of every route in ROUTES (built once)."""
    global _document
    if _document is None:
        _document = _build()
    return _document


def _build() -> dict:
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin

    plugin = MarshmallowPlugin(schema_name_resolver=_schema_namer())
    spec = APISpec(
        title=TITLE,
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[plugin],
        info={
            "description": "Multi-tenant after-sales field service. Authenticate with "
            "`Authorization: Bearer <token>` (`fsm token`). Every error has one shape, `Error`. "
            "Every POST, PUT, PATCH and DELETE takes an `Idempotency-Key` header: the same key with "
            "the same request returns the first answer and does the work once."
        },
        tags=[{"name": name, "description": text} for name, text in TAGS],
    )
    plugin.converter.add_attribute_function(_decimal_bounds)
    plugin.converter.add_attribute_function(_decimal_text)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=schemas.Error)
    for code, name, text in ERRORS:
        response = {"description": text, "content": {"application/json": {"schema": "Error"}}}
        if code in ("429", "503"):
            response["headers"] = {
                "Retry-After": {"description": "Seconds to wait before trying again", "schema": {"type": "integer"}}
            }
        spec.components.response(name, response)
    for method, path, meta in ROUTES:
        op = _operation(method, path, meta, plugin)
        spec.path(path=_PATH_PARAM.sub(r"{\1}", path), operations={method.lower(): op})
    return spec.to_dict()


def _operation(method: str, path: str, meta: dict, plugin) -> dict:
    example = examples.EXAMPLES.get(meta["operation_id"], {})
    op = {
        "operationId": meta["operation_id"],
        "summary": meta["summary"],
        "tags": [meta["tag"]],
        "responses": {str(meta["status"]): _answer(method, meta, example.get("response"), plugin)},
    }
    if meta.get("accepted") is not None:
        op["responses"]["202"] = {
            "description": "Accepted: made in the background; follow the job at its Location",
            "headers": {"Location": {"description": "the job's URL", "schema": {"type": "string"}}},
            "content": {"application/json": {"schema": meta["accepted"]}},
        }
    if meta["body"] is not None:
        media = {"schema": meta["body"]}
        if "request" in example:
            media["example"] = example["request"]
        op["requestBody"] = {"required": True, "content": {"application/json": media}}
    elif method == "POST" and meta["content"] == "text/csv":
        op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    if meta["query"] is not None:
        op["parameters"] = [{"in": "query", "schema": meta["query"]}]
    params = _PATH_PARAM.findall(path)
    if params:
        op.setdefault("parameters", []).extend(
            {"in": "path", "name": p, "required": True, "schema": {"type": "string"}} for p in params
        )
    for code, name, _ in ERRORS:
        if (code == "429" and not meta["public"]) or (code == "409" and method == "GET"):
            continue
        if code == "413" and "requestBody" not in op:
            continue
        op["responses"][code] = name
    if not meta["public"]:
        op["security"] = [{"bearer": []}]
    if method in ("POST", "PUT", "PATCH", "DELETE"):
        # described, not declared as a parameter: a fuzzer would try every key on every write
        op["description"] = IDEMPOTENT
    return op


def _answer(method: str, meta: dict, example, plugin) -> dict:
    """The success answer: its JSON schema, or the file types the route sends (a CSV import
    takes CSV and answers JSON)."""
    kinds = meta["content"] if isinstance(meta["content"], tuple) else (meta["content"],)
    if method == "POST" and kinds == ("text/csv",):
        kinds = ("application/json",)
    content = {}
    for kind in kinds:
        if kind == "application/json":
            content[kind] = {"schema": _schema(meta["response"], plugin)}
            if example is not None:
                content[kind]["example"] = example
        else:
            content[kind] = {"schema": {"type": "string"} if kind.startswith("text/") else BINARY}
    return {"description": "OK" if meta["status"] == 200 else "Created", "content": content}


def _schema(schema, plugin):
    """A route's answer schema for apispec: a Schema as it is; a dict (a map of schemas: the
    values of ``additionalProperties``, which apispec does not resolve) copied, its Schemas
    turned into references."""
    if not isinstance(schema, dict):
        return schema
    schema = copy.copy(schema)
    if _schema_class(schema.get("additionalProperties")) is not None:
        schema["additionalProperties"] = plugin.converter.resolve_nested_schema(schema["additionalProperties"])
    return schema


def _decimal_text(self, field, ret, **kwargs) -> dict:
    """Decimals carried as text are strings: a Decimal field with ``as_string`` (apispec says number)
    and Money (yuan to the fen, "123.45"; it takes a number too)."""
    if isinstance(field, Money) or (isinstance(field, fields.Decimal) and field.as_string):
        return {"type": "string", "format": "decimal", "example": "123.45"}
    return {}


def _decimal_bounds(self, field, ret, **kwargs) -> dict:
    """A Decimal field's bounds as JSON numbers: apispec writes them through the field, as Decimal,
    which JSON would carry as strings ("maximum": "100.00"), making the document invalid."""
    return {k: int(v) if v == v.to_integral_value() else float(v) for k, v in ret.items() if isinstance(v, Decimal)}


def _schema_namer():
    """Component names: the schema class's name, qualified by its service where two services have
    a schema of the same name (dispatch's and certification's TechnicianOut)."""
    seen: dict[str, set[type]] = {}

    def collect(schema) -> None:
        cls = _schema_class(schema)
        if cls is None or cls in seen.get(cls.__name__, set()):
            return
        seen.setdefault(cls.__name__, set()).add(cls)
        for field in cls._declared_fields.values():
            inner = field.inner if isinstance(field, fields.List) else field
            if isinstance(inner, fields.Nested):
                collect(
                    inner.nested() if callable(inner.nested) and not isinstance(inner.nested, type) else inner.nested
                )

    for _, _, meta in ROUTES:
        for key in ("body", "query", "response"):
            collect(meta[key])

    def name(schema) -> str:
        cls = _schema_class(schema)
        plain = cls.__name__.removesuffix("Schema") or cls.__name__
        if len(seen.get(cls.__name__, ())) < 2:
            return plain
        service = cls.__module__.split(".")[1] if cls.__module__.startswith("services.") else "shared"
        return service.capitalize() + plain

    return name


def _schema_class(schema):
    if isinstance(schema, type) and issubclass(schema, Schema):
        return schema
    if isinstance(schema, Schema):
        return type(schema)
    return None


# ---------------------------------------------------------------------- the page at /docs
DOCS_PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{TITLE}</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script src="docs/init.js"></script>
</body>
</html>
"""

DOCS_INIT = """window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  displayOperationId: true,
  persistAuthorization: true,
  docExpansion: "list",
  defaultModelsExpandDepth: 0
});
"""
SWAGGER_UI = "swagger-ui-dist"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")


class DocsRoutes:
    """``/openapi.json`` and the documentation page ``/docs`` with its assets; `GatewayService`
    inherits them. Public: reading the API's description needs no token."""

    assets = web.Assets()

    @http("GET", "/openapi.json")
    def openapi(self, request):
        return json_response(openapi_document())

    @http("GET", "/docs")
    def docs(self, request):
        self.assets.require(SWAGGER_UI, *SWAGGER_FILES)  # a clear error, not a blank page, if not installed
        return Response(DOCS_PAGE, mimetype="text/html")

    @http("GET", "/docs/init.js")
    def docs_init(self, request):
        return Response(DOCS_INIT, mimetype="text/javascript")

    @http("GET", "/docs/assets/<path:name>")
    def docs_asset(self, request, name):
        return self.assets.response(request, SWAGGER_UI, name)
