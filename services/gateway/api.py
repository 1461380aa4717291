"""The gateway's route machinery: authentication, the `api` decorator, request helpers.

Every service's routes are a mixin class in ``services/gateway/routes_<service>.py`` built
with `api`; `GatewayService` inherits them all (nameko finds inherited entrypoints and
dependencies), so the route tables grow side by side without touching one file.
"""
from __future__ import annotations

import json

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Response

from shared import tenancy
from shared.auth import principal_from_header
from shared.errors import BadRequest
from shared.validation import load
from shared.web import error_response, http, json_response

API = "/api/v1"
ROUTES = []  # (method, path, meta) for the OpenAPI document


class Authenticator(DependencyProvider):
    """Turns the request's bearer token into the worker's principal."""

    def setup(self):
        self.secret = self.container.config.get("AUTH_SECRET") or "dev-only-secret-change-me-in-production-0123456789"

    def get_dependency(self, worker_ctx):
        secret = self.secret

        class Bound:
            @staticmethod
            def login(request):
                principal = principal_from_header(secret, request.headers.get("Authorization"))
                tenancy.put_principal(worker_ctx, principal)
                return principal

            @staticmethod
            def call_id():
                return worker_ctx.call_id

        return Bound()


def api(method, path, summary, *, body=None, response=None, query=None, status=200, public=False,
        content="application/json", tag="tickets"):
    """Declare an API route: authenticated, JSON in and out, errors in the one shape."""

    def decorate(fn):
        ROUTES.append((method, path, {"summary": summary, "body": body, "response": response, "query": query,
                                      "status": status, "public": public, "content": content, "tag": tag}))

        def handler(self, request, **kwargs):
            try:
                principal = None if public else self.auth.login(request)
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
        return json.loads(request.get_data(as_text=True))
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}", {"_body": ["not valid JSON"]}) from None


def query_args(request):
    return {k: v for k, v in request.args.items()}


def load_query(schema, data):
    return load(schema, data)


_load = load_query


