"""HTTP for every service: each binds its own port (config HTTP_PORTS), serves
``/health`` and ``/metrics``, and answers errors in one JSON shape.

nameko's WebServer reads one address for the whole process; with all services in one
``nameko run`` they would collide, so the server here takes the port of its service.
"""
from __future__ import annotations

import json
import logging

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer
from werkzeug.wrappers import Response

from shared import metrics
from shared.config import http_port
from shared.errors import DomainError, as_domain_error
from shared.logs import LogContext

log = logging.getLogger(__name__)


class ServiceWebServer(WebServer):
    @property
    def bind_addr(self):
        config = self.container.config
        return (config.get("HTTP_HOST") or "0.0.0.0", http_port(config, self.container.service_name))

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]


def json_response(body, status=200, headers=None):
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    mimetype="application/json", headers=headers)


def error_response(exc, call_id=None):
    err = as_domain_error(exc)
    if not isinstance(exc, DomainError):
        log.exception("unhandled error", exc_info=exc)
    body = {"error": err.to_dict()}
    if call_id:
        body["error"]["call_id"] = call_id
    headers = None
    retry_after = getattr(err, "retry_after", None)
    if err.http_status == 503 and retry_after:
        headers = {"Retry-After": str(retry_after)}
    return json_response(body, status=err.http_status, headers=headers)


class JsonHttpHandler(HttpRequestHandler):
    server = ServiceWebServer()

    def response_from_exception(self, exc):
        return error_response(exc)


http = JsonHttpHandler.decorator


class ServiceBase:
    """Mixed into every service: health, metrics, instrumentation and log context."""

    instrumentation = metrics.Instrumentation()
    log_context = LogContext()

    @http("GET", "/health")
    def health(self, request):
        return json_response({"service": self.name, "status": "ok"})

    @http("GET", "/metrics")
    def metrics_endpoint(self, request):
        body, content_type = metrics.render(request.headers.get("Accept"), service=self.name)
        return Response(body, status=200, content_type=content_type)
