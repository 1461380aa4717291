"""COMPLAINT_ESCALATION, read in one place: each tenant's named managers for a major quality or
safety issue (seeds 001, 004: 主管副总, 直至总经理), in order, and the minutes each has to
acknowledge. Intake escalates to them (services.intake.complaints); notify writes to them
(services.notify.people), so the manager intake waits for is the one notify reaches.

``{"ack_minutes": 120, "tenants": {"C01": [{"level": "vp", "title": "主管副总", "name": "王副总",
"user": "c01-vp", "email": "vp@c01.example.com", "phone": ["13800009001"]}, {"level": "gm", ...}]},
"default": [...]}`` -- a mapping, or the same as JSON text (the environment); empty: nobody named.
Each manager needs ``level``, ``name`` and ``user``; ``title`` is optional; ``email`` and ``phone``
are a string or a list of strings.

Plain Python; ValueError naming the key that is wrong (``COMPLAINT_ESCALATION.tenants.C01[0]
needs level, name and user``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.config import json_setting

KEY = "COMPLAINT_ESCALATION"
DEFAULT_ACK_MINUTES = 120
FIELDS = ("ack_minutes", "tenants", "default")


@dataclass(frozen=True)
class Manager:
    """One level of a tenant's escalation chain: e.g. 主管副总 (level "vp"), then 总经理 ("gm")."""

    level: str
    title: str  # as configured; "" when none
    name: str
    user: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Title and name as an escalation names the manager (the level when no title is given)."""
        return f"{self.title or self.level} {self.name}"


@dataclass(frozen=True)
class EscalationChains:
    """The parsed setting: the tenants' chains, the default chain (a tenant not named), and the
    minutes a manager has to acknowledge before the next level is asked."""

    chains: dict[str, tuple[Manager, ...]]
    default: tuple[Manager, ...] = ()
    ack_minutes: int = DEFAULT_ACK_MINUTES

    @classmethod
    def parse(cls, raw: Any) -> EscalationChains:
        if raw in (None, ""):
            return cls({})
        raw = json_setting(raw, KEY)
        if not isinstance(raw, Mapping) or set(raw) - set(FIELDS):
            raise ValueError(f"{KEY} must be a mapping of ack_minutes, tenants, default")
        minutes = raw.get("ack_minutes", DEFAULT_ACK_MINUTES)
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
            raise ValueError(f"{KEY}.ack_minutes must be a whole number of minutes, at least 1")
        tenants = raw.get("tenants") or {}
        if not isinstance(tenants, Mapping):
            raise ValueError(f"{KEY}.tenants must map a tenant id to its managers")
        chains = {str(t): _chain(levels, f"tenants.{t}") for t, levels in tenants.items()}
        return cls(chains, _chain(raw.get("default") or [], "default"), minutes)

    def of(self, tenant_id: str) -> tuple[Manager, ...]:
        """The tenant's chain, else the default one (empty: nobody named)."""
        return self.chains.get(tenant_id, self.default)

    def by_user(self) -> dict[str, Manager]:
        """Every named manager of every chain by user name (the default's first, so a user also
        named in a tenant's chain is that entry)."""
        out = {m.user: m for m in self.default}
        for chain in self.chains.values():
            out.update((m.user, m) for m in chain)
        return out


def _chain(levels: Any, where: str) -> tuple[Manager, ...]:
    if not isinstance(levels, list):
        raise ValueError(f"{KEY}.{where} must be a list of managers")
    out = []
    for i, m in enumerate(levels):
        at = f"{where}[{i}]"
        if not isinstance(m, Mapping) or not all(isinstance(m.get(k), str) and m[k] for k in ("level", "name", "user")):
            raise ValueError(f"{KEY}.{at} needs level, name and user")
        title = str(m.get("title") or "")
        out.append(Manager(m["level"], title, m["name"], m["user"], _listed(m, "email", at), _listed(m, "phone", at)))
    return tuple(out)


def _listed(manager: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = manager.get(key) or ()
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"{KEY}.{where}.{key} must be a string or a list of strings")
    found = tuple(item.strip() for item in items if item.strip())
    if key == "email" and any("@" not in item or "<" in item for item in found):
        raise ValueError(f"{KEY}.{where}.email: not an e-mail address")
    return found
