"""The gateway's route machinery: authentication, the `api` decorator, request helpers.

Every service's routes are a mixin class in ``services/gateway/routes_<service>.py`` built
with `api`; `GatewayService` inherits them all (nameko finds inherited entrypoints and
dependencies), so the route tables grow side by side without touching one file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from shared import rpc, tenancy
from shared.auth import DEV_SECRET, issue_token, max_ttl, principal_from_header
from shared.errors import BadRequest, PayloadTooLarge
from shared.validation import TOO_DEEP, field_error, load, text_problem
from shared.web import error_response, http, json_response

API = "/api/v1"
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
ROUTES = []  # (method, path, meta) for the OpenAPI document


class Authenticator(DependencyProvider):
    """Turns the request's bearer token into the worker's principal."""

    def setup(self):
        config = self.container.config
        self.secret = config.get("AUTH_SECRET") or DEV_SECRET  # only with FSM_DEV=1 (SecretGuard)
        self.max_ttl = max_ttl(config)
        self.max_body = max_body_bytes(config)

    def get_dependency(self, worker_ctx):
        secret, ttl, max_body = self.secret, self.max_ttl, self.max_body

        class Bound:
            @staticmethod
            def login(request):
                principal = principal_from_header(secret, request.headers.get("Authorization"), ttl)
                tenancy.put_principal(worker_ctx, principal)
                return principal

            @staticmethod
            def token_for(principal, seconds):
                """A bearer token for `principal` from the same signer as ``fsm token``, living
                `seconds` but never beyond TOKEN_MAX_TTL_SECONDS; (token, its lifetime)."""
                seconds = max(1, min(int(seconds), ttl))
                return issue_token(secret, principal, ttl_seconds=seconds, max_ttl_seconds=ttl), seconds

            @staticmethod
            def act_as(principal):
                """The portal's way in: the principal of a signed-in person's account goes where a
                token's goes, so every RPC behind the page carries it (services/gateway/portal)."""
                tenancy.put_principal(worker_ctx, principal)
                return principal

            @staticmethod
            def limit_body(request):
                """413 for a body over MAX_BODY_BYTES: by its Content-Length before it is read, and a
                chunked one (no Content-Length) while it is read, stopping one byte past the limit."""
                too_large = PayloadTooLarge(
                    f"request body is larger than {max_body} bytes",
                    {"_body": [f"larger than {max_body} bytes (MAX_BODY_BYTES)"]},
                )
                length = request.content_length
                if length is not None and length > max_body:
                    raise too_large
                if length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
                    stream, data = request.environ["wsgi.input"], bytearray()
                    while len(data) <= max_body:
                        chunk = stream.read(min(65536, max_body + 1 - len(data)))
                        if not chunk:
                            break
                        data += chunk
                    if len(data) > max_body:
                        raise too_large
                    # what was read is the body from now on, with its length (werkzeug reads that)
                    request.environ["wsgi.input"] = io.BytesIO(bytes(data))
                    request.environ["CONTENT_LENGTH"] = str(len(data))
                    request.environ.pop("HTTP_TRANSFER_ENCODING", None)

            @staticmethod
            def call_id():
                return worker_ctx.call_id

            @staticmethod
            def idempotency(request, principal):
                """An ``Idempotency-Key`` makes the RPCs behind this request repeatable: the
                services record the key (per user) with the work, and the same key with the
                same request returns the first answer (see shared.rpc)."""
                key = request.headers.get("Idempotency-Key")
                if key is None:
                    return
                parts = (request.method, request.path, request.query_string or b"", request.get_data())
                Bound.repeatable(key, parts, principal, "Idempotency-Key")

            @staticmethod
            def repeatable(key, parts, principal, field):
                """Make the RPCs behind this request repeatable under `key` (named `field` in an
                error), the request being `parts` (a portal form carries its key in a field)."""
                key = key.strip()
                if not key or len(key) > 200 or not key.isprintable() or not key.isascii():
                    raise BadRequest(f"invalid {field}", {field: ["1 to 200 printable ASCII characters"]})
                fingerprint = hashlib.sha256()
                for part in parts:
                    fingerprint.update(part if isinstance(part, bytes) else part.encode("utf-8"))
                    fingerprint.update(b"\0")
                who = principal.user if principal is not None else "-"
                worker_ctx.data[rpc.IDEMPOTENCY_KEY] = f"{who}:{key}"
                worker_ctx.data[rpc.IDEMPOTENCY_HASH] = fingerprint.hexdigest()

        return Bound()


def max_body_bytes(config) -> int:
    """The largest request body the gateway reads (config MAX_BODY_BYTES, env FSM_MAX_BODY_BYTES)."""
    value = config.get("MAX_BODY_BYTES")
    return int(value) if value not in (None, "") else DEFAULT_MAX_BODY_BYTES


def api(
    method,
    path,
    summary,
    *,
    body=None,
    response=None,
    query=None,
    status=200,
    public=False,
    content="application/json",
    tag="tickets",
    accepted=None,
):
    """Declare an API route: authenticated, JSON in and out, errors in the one shape. `accepted`:
    the schema of a 202 the route may answer instead (work started in the background; the
    route returns that Response itself, with a Location header)."""

    def decorate(fn):
        ROUTES.append(
            (
                method,
                path,
                {
                    "summary": summary,
                    "operation_id": fn.__name__,  # the OpenAPI operationId: unique, the methods share a class
                    "body": body,
                    "response": response,
                    "query": query,
                    "status": status,
                    "public": public,
                    "content": content,
                    "tag": tag,
                    "accepted": accepted,
                },
            )
        )

        def handler(self, request, **kwargs):
            try:
                self.auth.limit_body(request)
                principal = None if public else self.auth.login(request)
                if method in ("POST", "PUT", "PATCH", "DELETE"):
                    self.auth.idempotency(request, principal)
                result = fn(self, request, principal, **kwargs)
            except Exception as exc:  # one error shape for every route
                return error_response(exc, self.auth.call_id())
            if isinstance(result, Response):
                return result
            return json_response(result, status=status)

        handler.__name__ = fn.__name__
        handler.__doc__ = fn.__doc__
        return http(method, path)(handler)

    return decorate


def json_body(request):
    if not request.data:
        raise BadRequest("request body is empty", {"_body": ["expected a JSON object"]})
    try:
        body = json.loads(request.get_data().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"request body is not UTF-8: {exc.reason} at byte {exc.start}", {"_body": ["expected UTF-8 JSON"]}
        ) from None
    except RecursionError:
        raise BadRequest(f"request body is {TOO_DEEP}", {"_body": [f"JSON {TOO_DEEP}"]}) from None
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", {"_body": ["not valid JSON"]}) from None
    problem = text_problem(body)
    if problem:
        where, message = problem
        if message == TOO_DEEP:
            raise BadRequest(f"request body is {TOO_DEEP}", {"_body": [f"JSON {TOO_DEEP}"]})
        # PostgreSQL cannot store NUL in text, and no database or encoder takes a lone surrogate:
        # refuse them here, naming the field, not as a 500 later
        raise field_error(where if isinstance(body, dict) else ("_body",) + where, message)
    return body


def csv_text(request):
    """The request body as CSV text: UTF-8 (a BOM is dropped), not empty; else 400 naming the body."""
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"CSV is not UTF-8 text: {exc.reason} at byte {exc.start}", {"_body": ["expected UTF-8 CSV"]}
        ) from None
    if not text.strip():
        raise BadRequest("empty CSV", {"_body": ["expected CSV with a header row"]})
    return text


def csv_rows(request):
    """The CSV body's data rows as dicts keyed by the header row; 400 naming the body when the
    text is not CSV (a bare carriage return inside a field is a line break, as in any export)."""
    text = csv_text(request)
    try:
        return list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise BadRequest(f"request body is not valid CSV: {exc}", {"_body": [f"not valid CSV: {exc}"]}) from None


def query_args(request):
    return {k: v for k, v in request.args.items()}


def load_query(schema, data):
    return load(schema, data)
