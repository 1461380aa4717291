"""The named people notices go to in person (通知到人): the managers of each center's escalation
chain for major quality and safety issues (seeds 001, 004: 主管副总, 直至总经理), as intake reads
them from COMPLAINT_ESCALATION — one configuration, so the manager intake waits for is the one
notify writes to. Each manager may carry ``email`` and ``phone`` (a string or a list) beside
``level``, ``title``, ``name`` and ``user``; intake ignores them.

Plain Python: parses the configuration into `domain.Contact` per user (the key of the ``user``
audience); ValueError naming the key that is wrong.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from services.notify.domain import CHANNELS, Contact

KEY = "COMPLAINT_ESCALATION"


def managers(raw: Any) -> dict[str, Contact]:
    """Every named manager of every chain (the tenants' and the default), by user name."""
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"{KEY} is not JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ValueError(f"{KEY} must be a mapping of ack_minutes, tenants, default")
    chains: list[tuple[str, Any]] = [("default", raw.get("default") or [])]
    tenants = raw.get("tenants") or {}
    if not isinstance(tenants, Mapping):
        raise ValueError(f"{KEY}.tenants must map a tenant id to its managers")
    chains += [(f"tenants.{tenant}", levels) for tenant, levels in tenants.items()]
    out: dict[str, Contact] = {}
    for where, levels in chains:
        if not isinstance(levels, list):
            raise ValueError(f"{KEY}.{where} must be a list of managers")
        for i, manager in enumerate(levels):
            if not isinstance(manager, Mapping) or not manager.get("user"):
                raise ValueError(f"{KEY}.{where}[{i}] needs level, name and user")
            out[str(manager["user"])] = Contact(
                _listed(manager, "email", f"{where}[{i}]"),
                _listed(manager, "phone", f"{where}[{i}]"),
                CHANNELS,
                None,
                name=" ".join(str(manager.get(k) or "").strip() for k in ("title", "name")).strip(),
            )
    return out


def _listed(manager: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = manager.get(key) or ()
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{KEY}.{where}.{key} must be a string or a list of strings")
    found = tuple(item.strip() for item in items if item.strip())
    if key == "email" and any("@" not in item or "<" in item for item in found):
        raise ValueError(f"{KEY}.{where}.email: not an e-mail address")
    return found
