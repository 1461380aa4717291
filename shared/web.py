"""HTTP for every service: each binds its own port (config HTTP_PORTS), serves
``/health`` and ``/metrics``, and answers errors in one JSON shape.

nameko's WebServer reads one address for the whole process; with all services in one
``nameko run`` they would collide, so the server here takes the port of its service.
Its routing errors (no route for the path: 404; a method the path does not take: 405 with
``Allow``) are in the same JSON shape as every other error, unless the service's
``html_errors(path)`` says the path is an HTML page's (the portal's).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import eventlet
from nameko.extensions import DependencyProvider
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from shared import clock, metrics
from shared.auth import SecretGuard
from shared.config import REPO_ROOT, http_port
from shared.errors import AssetsMissing, DomainError, NotFound, ServiceUnavailable, as_domain_error
from shared.logs import LogContext
from shared.stopping import CleanStop, begin_stopping, is_stopping, on_stopping
from shared.workcal import ChinaCalendar, calendar_dir, outlook

log = logging.getLogger(__name__)

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


class ServiceWebServer(WebServer):  # type: ignore[misc]  # nameko is untyped: its base is Any
    def get_wsgi_app(self) -> WsgiApp:
        return _JsonErrorsApp(self)

    @property
    def bind_addr(self) -> tuple[str, int]:
        config = self.container.config
        return (config.get("HTTP_HOST") or "0.0.0.0", http_port(config, self.container.service_name))

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def setup(self) -> None:
        super().setup()
        on_stopping(self.container, self.stop_accepting)

    def stop_accepting(self) -> None:
        """When the service begins to stop (shared.stopping): no new connection (the listening
        socket is closed), and each open one is closed after its current request."""
        self._is_accepting = False
        if self._serv is not None:
            self._serv.keepalive = False
        if self._gt is not None:
            self._gt.kill()
        if self._sock is not None:
            self._sock.close()

    def stop(self) -> None:
        # nameko's fails on a server never started (a service stopped while it starts)
        self.stop_accepting()
        super(WebServer, self).stop()  # ProviderCollector's and SharedExtension's


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, default=str)
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: escaped (\ud800) it is still valid JSON
            text = json.dumps(body, default=str)
    return Response(text, status=status, mimetype="application/json", headers=headers)


def error_response(exc: BaseException, call_id: str | None = None) -> Response:
    err = as_domain_error(exc)
    if not isinstance(exc, DomainError):
        log.exception("unhandled error", exc_info=exc)
    body: dict[str, Any] = {"error": err.to_dict()}
    if call_id:
        body["error"]["call_id"] = call_id
    headers = None
    retry_after = getattr(err, "retry_after", None)
    if err.http_status in (429, 503) and retry_after:
        headers = {"Retry-After": str(retry_after)}
    return json_response(body, status=err.http_status, headers=headers)


class _JsonErrorsApp(WsgiApp):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """nameko's WSGI app (match the route, hand the request to its entrypoint), with werkzeug's
    routing errors (HTML pages) answered in the JSON error shape."""

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ, shallow=True)  # shallow: as nameko's, nothing reads the body yet
        adapter = self.url_map.bind_to_environ(environ)
        try:
            provider, values = adapter.match()
            request.path_values = values  # type: ignore[attr-defined]  # nameko reads it (werkzeug has no such field)
            response = provider.handle_request(request)
        except HTTPException as exc:
            # answered here, by no worker: counted here (the route label bounded, `unmatched`)
            metrics.http_unmatched(self.server.container.service_name, exc.code or 500)
            html_errors = getattr(self.server.container.service_cls, "html_errors", None)
            if (exc.code is not None and exc.code < 400) or (html_errors is not None and html_errors(request.path)):
                return exc(environ, start_response)  # a redirect (merged slashes), or an HTML page's error
            response = routing_error_response(exc, request)
        return response(environ, start_response)


def routing_error_response(exc: HTTPException, request: Request) -> Response:
    """A werkzeug HTTP error raised before any entrypoint ran (no route for the path, a method the
    path does not take) in the one JSON error shape; a 405 lists the methods it takes in ``Allow``."""
    status = exc.code or 500
    allowed = sorted(getattr(exc, "valid_methods", None) or ())
    if status == 404:
        code, message = "not_found", f"no route {request.method} {request.path}"
    elif status == 405:
        code, message = (
            "method_not_allowed",
            f"{request.path} does not take {request.method}; it takes {', '.join(allowed)}",
        )
    else:
        code, message = (exc.name or "error").lower().replace(" ", "_"), exc.description or exc.name or "error"
    headers = {"Allow": ", ".join(allowed)} if allowed else None
    return json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def path_under(path: str, *prefixes: str) -> bool:
    """True if `path` is one of `prefixes` or lies below one ("/portal" takes "/portal/x", not "/portals")."""
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class JsonHttpHandler(HttpRequestHandler):  # type: ignore[misc]  # nameko is untyped: its base is Any
    server = ServiceWebServer()

    def response_from_exception(self, exc: BaseException) -> Response:
        return error_response(exc)

    def handle_request(self, request: Request) -> Response:
        if is_stopping(self.container):  # a request on a connection still open: no new worker
            return error_response(ServiceUnavailable("the service is stopping; try again", retry_after=1))
        response: Response = super().handle_request(request)
        return response

    def stop(self) -> None:
        begin_stopping(self.container)
        super().stop()


# nameko's registering decorator hands back the method itself
http: Callable[..., Callable[[_Handler], _Handler]] = JsonHttpHandler.decorator


def readiness(container: Any) -> dict[str, dict[str, Any]]:
    """{check: {"ok": bool, "detail": str}} for the database(s) and the broker of `container`."""
    from sqlalchemy import text

    from shared.broker import broker_connected
    from shared.db import Database

    checks: dict[str, dict[str, Any]] = {}
    for dep in container.dependencies:
        if isinstance(dep, Database) and dep.store is not None:
            try:
                with dep.store.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                checks["database"] = {"ok": True, "detail": dep.store.engine.dialect.name}
            except Exception as exc:  # any failure to reach it is "not ready", said plainly
                checks["database"] = {"ok": False, "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}
    connected = broker_connected(container)
    checks["broker"] = {"ok": connected, "detail": "connected" if connected else "disconnected or reconnecting"}
    checks["calendar"] = outlook(ChinaCalendar.default(), clock.now()).as_check()  # a warning, never unready
    return checks


def assets_dir(config: dict[str, Any]) -> Path:
    """Where the front-end packages installed by npm are (Swagger UI for /docs, htmx for the
    portal): config ASSETS_DIR (env FSM_ASSETS_DIR), default the repository's node_modules
    (`make venv` runs npm ci); a container image points it at its own copy."""
    configured = config.get("ASSETS_DIR") or os.environ.get("FSM_ASSETS_DIR")
    return Path(configured) if configured else REPO_ROOT / "node_modules"


class AssetFiles:
    """The files of the npm packages under one assets directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def package(self, package: str) -> Path:
        """The package's directory; AssetsMissing (a 500 that says how to install it) if absent."""
        path = self.root / package
        if not path.is_dir():
            raise AssetsMissing(
                f"the front-end package {package} is not installed in {self.root}: run `make venv` "
                f"(npm ci) or set FSM_ASSETS_DIR (config ASSETS_DIR) to a node_modules folder that has it",
                {"ASSETS_DIR": [f"{path} is missing"]},
            )
        return path

    def require(self, package: str, *names: str) -> None:
        """AssetsMissing unless the package and each of `names` in it are there."""
        base = self.package(package)
        missing = [name for name in names if not (base / name).is_file()]
        if missing:
            raise AssetsMissing(
                f"the front-end package {package} in {self.root} lacks {', '.join(missing)}: reinstall it (npm ci)",
                {"ASSETS_DIR": [f"{base / name} is missing" for name in missing]},
            )

    def response(self, request: Request, package: str, name: str) -> Response:
        """The file `name` of `package` (never outside it), cached by the browser for an hour;
        404 in the JSON shape if there is no such file."""
        from werkzeug.security import safe_join
        from werkzeug.utils import send_file

        base = self.package(package)
        path = safe_join(str(base), name)
        if path is None or not os.path.isfile(path):
            raise NotFound(f"no file {name} in {package}")
        return send_file(path, request.environ, max_age=3600)


class Assets(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """``assets = Assets()``: the front-end files in ASSETS_DIR (see `assets_dir`). A missing
    directory is logged when the service starts and answered as a clear 500 when asked for."""

    def setup(self) -> None:
        self.files = AssetFiles(assets_dir(self.container.config))
        if not self.files.root.is_dir():
            log.warning("front-end assets directory %s is missing: run `make venv` (npm ci)", self.files.root)

    def get_dependency(self, worker_ctx: Any) -> AssetFiles:
        return self.files


class CalendarWatch(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """Keeps the process's working calendar (``ChinaCalendar.default()``: the SLA clock's, the
    planners') on the holiday schedules of config CALENDAR_DIR, and current: every
    CALENDAR_RELOAD_SECONDS (60) it re-reads the folder if a file there was added, replaced or
    removed (``fsm calendar import``, a ConfigMap update), so no restart is needed."""

    def setup(self) -> None:
        self.calendar = ChinaCalendar.default()
        self.calendar.use_directory(calendar_dir(self.container.config))
        self.interval = float(self.container.config.get("CALENDAR_RELOAD_SECONDS") or 60)
        self._thread: Any = None

    def start(self) -> None:
        self.calendar.refresh()
        self._thread = self.container.spawn_managed_thread(self._watch, identifier="calendar_watch")

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.kill()
            self._thread = None

    def kill(self) -> None:
        self.stop()

    def _watch(self) -> None:
        while True:
            eventlet.sleep(self.interval)
            try:
                self.calendar.refresh()
            except Exception:  # a folder that cannot be read now: keep what was read, try again
                log.exception("calendar: cannot re-read %s", self.calendar.directory)


class ContainerRef(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """The worker's own service container (for health checks that look at its dependencies)."""

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.container


class ServiceBase:
    """Mixed into every service: health, metrics, instrumentation and log context."""

    secret_guard = SecretGuard()  # refuses to start with the development secret unless FSM_DEV=1
    instrumentation = metrics.Instrumentation()
    log_context = LogContext()
    container_ref = ContainerRef()
    calendar_watch = CalendarWatch()  # the holiday schedules, re-read when they change
    clean_stop = CleanStop()  # SIGTERM and Ctrl-C stop the process within 10 s (shared.stopping)
    name: str  # each service's nameko name, set by the service class

    @staticmethod
    def html_errors(path: str) -> bool:
        """True for a path whose routing errors (404, 405) are HTML pages rather than the JSON
        error shape: none of a service's own. A service with HTML pages (the portal) overrides
        it, e.g. ``return path == "/" or web.path_under(path, "/login", "/portal")``."""
        return False

    @http("GET", "/health")
    def health(self, request: Request) -> Response:
        """The same as /health/live (kept for existing probes and scripts)."""
        return json_response({"service": self.name, "status": "ok"})

    @http("GET", "/health/live")
    def health_live(self, request: Request) -> Response:
        """The process answers: restart it only if this fails."""
        return json_response({"service": self.name, "status": "ok"})

    @http("GET", "/health/ready")
    def health_ready(self, request: Request) -> Response:
        """Ready for traffic: its database answers and its broker connection is up (not while
        reconnecting). 503 with the failing check otherwise. A check with ``"warning": true``
        (the calendar's: days ahead in a year without a holiday schedule) is listed under
        ``warnings`` and keeps the service ready."""
        checks = readiness(self.container_ref)
        ok = all(c["ok"] for c in checks.values())
        body: dict[str, Any] = {"service": self.name, "status": "ready" if ok else "not_ready", "checks": checks}
        warnings = sorted(name for name, c in checks.items() if c.get("warning"))
        if warnings:
            body["warnings"] = warnings
        return json_response(
            body,
            status=200 if ok else 503,
            headers=None if ok else {"Retry-After": "5"},
        )

    @http("GET", "/metrics")
    def metrics_endpoint(self, request: Request) -> Response:
        """The service's samples; its state gauges (queues, outbox, and the service's own
        `refresh_gauges()` where it has one) are read first (`metrics.refresh`)."""
        metrics.refresh(self.container_ref, getattr(self, "refresh_gauges", None))
        body, content_type = metrics.render(request.headers.get("Accept"), service=self.name)
        return Response(body, status=200, content_type=content_type)
