"""Structured JSON logs that carry the service, tenant, user and call id of the worker."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from nameko.extensions import DependencyProvider

from shared import tenancy

_local = threading.local()  # greenlet-local once eventlet has monkey-patched threading

_STANDARD = set(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {"message", "asctime"}


def current_context() -> dict[str, Any]:
    return getattr(_local, "ctx", None) or {}


def bind(**fields: Any) -> None:
    ctx = dict(current_context())
    ctx.update({k: v for k, v in fields.items() if v is not None})
    _local.ctx = ctx


def clear() -> None:
    _local.ctx = {}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(current_context())
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class LogContext(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """Binds service, entrypoint, call id and the principal's tenant/user for each worker."""

    def worker_setup(self, worker_ctx: Any) -> None:
        try:
            principal = tenancy.principal_from_context(worker_ctx.data)
        except Exception:
            principal = None
        clear()
        bind(
            service=worker_ctx.service_name,
            entrypoint=worker_ctx.entrypoint.method_name,
            call_id=worker_ctx.call_id,
            tenant=getattr(principal, "tenant", None),
            user=getattr(principal, "user", None),
            role=getattr(principal, "role", None),
        )

    def worker_teardown(self, worker_ctx: Any) -> None:
        clear()


def bind_principal(principal: tenancy.Principal) -> None:
    bind(tenant=principal.tenant, user=principal.user, role=principal.role)
