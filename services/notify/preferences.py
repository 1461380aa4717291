"""Per-user preferences (个人通知设置): which channels a portal user takes each kind of notice by,
their own e-mail and phone, and their own quiet hours.

- The inbox is on for every kind unless the user switches it off for a kind (that kind no longer
  shows in their inbox; their colleagues still see it).
- E-mail and SMS are each user's own copy, in addition to the center's (outlet's, HQ's) contacts
  NOTIFY_CONTACTS names: a user who takes a kind by e-mail gets every notice of that kind their
  audience gets (a center user: their center's; an outlet user: their outlet's; HQ: HQ's), at
  their own address, planned as a notice of audience ``user``.
- Their quiet hours hold their own copies until the morning; an urgent notice (a breach, an
  escalation) goes at once all the same (`domain.not_before`).

Plain Python: the rules and the checks (ValidationFailed naming each wrong field); the table is
`models.Preference`, read and written by `operations`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.notify.domain import (
    CENTER,
    EMAIL,
    HQ,
    INBOX,
    OUTLET,
    SMS,
    USER,
    Planned,
    parse_quiet_hours,
    phone_problem,
)
from shared.errors import ValidationFailed

# the kinds a staff user may choose channels for (the customer's own SMS kinds are not theirs)
KIND_TITLES = {
    "web_forwarded": "网上报修转交",
    "ticket_registered": "新服务单",
    "job_assigned": "派工通知",
    "job_changed": "派工变更",
    "sla_at_risk": "时效预警",
    "sla_breached": "超时警告",
    "escalated": "升级通知",
    "escalated_manager": "重大问题升级（本人）",
    "callback_due": "回访提醒",
    "certificate_expiring": "证书到期提醒",
    "statement_issued": "结算单",
}
CHANNEL_TITLES = {EMAIL: "邮件", SMS: "短信", INBOX: "站内"}
DEFAULT = (INBOX,)  # no choice made: the inbox only (the audience's contacts get e-mail and SMS)
ROLE_AUDIENCE = {"center": CENTER, "outlet": OUTLET, "hq": HQ}
NEED_EMAIL = "an e-mail address is needed: a notice goes by e-mail"
NEED_PHONE = "a phone number is needed: a notice goes by SMS"
BAD_QUIET = "not HH:MM-HH:MM (e.g. 22:00-08:00), or off"
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


@dataclass(frozen=True)
class UserPrefs:
    """One user's choices (a `models.Preference` row as the rules read it)."""

    user: str
    role: str
    tenant_id: str | None = None
    outlet_id: str | None = None
    email: str | None = None
    phone: str | None = None
    quiet_hours: str | None = None  # None: the default (NOTIFY_QUIET_HOURS); "off": none
    channels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def takes(self, kind: str) -> tuple[str, ...]:
        return tuple(self.channels.get(kind, DEFAULT))

    def hidden(self) -> tuple[str, ...]:
        """The kinds switched off in the inbox."""
        return tuple(sorted(kind for kind, chosen in self.channels.items() if INBOX not in chosen))

    def hears(self, audience: str, audience_id: str) -> bool:
        """Whether notices to `audience` `audience_id` are this user's to take."""
        if ROLE_AUDIENCE.get(self.role) != audience:
            return False
        if audience == CENTER:
            return self.tenant_id == audience_id
        if audience == OUTLET:
            return self.outlet_id == audience_id
        return True


def check(body: Any, current: UserPrefs) -> UserPrefs:
    """The user's new preferences from a request `body` (fields absent stay as they are);
    ValidationFailed naming every wrong field, nothing changed then."""
    if not isinstance(body, Mapping):
        raise ValidationFailed("preferences must be a JSON object", {"_body": ["expected a JSON object"]})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(body) - {"email", "phone", "quiet_hours", "channels"})
    for name in unknown:
        errors[name] = ["unknown field"]
    email, phone, quiet = current.email, current.phone, current.quiet_hours
    if "email" in body:
        email = _text(body["email"], "email", 200, errors)
        if email and not _EMAIL.match(email):
            errors["email"] = ["not an e-mail address"]
    if "phone" in body:
        phone = _text(body["phone"], "phone", 32, errors)
        problem = phone_problem(phone) if phone else None
        if problem:
            errors["phone"] = [problem]
    if "quiet_hours" in body:
        quiet = _text(body["quiet_hours"], "quiet_hours", 16, errors)
        if quiet:
            try:
                parse_quiet_hours(quiet, "quiet_hours")
            except ValueError:
                errors["quiet_hours"] = [BAD_QUIET]
    channels = dict(current.channels)
    if "channels" in body:
        channels = _channels(body["channels"], errors)
    for chosen in channels.values():  # an address is needed where a kind goes by it
        if EMAIL in chosen and not email and "email" not in errors:
            errors["email"] = [NEED_EMAIL]
        if SMS in chosen and not phone and "phone" not in errors:
            errors["phone"] = [NEED_PHONE]
    if errors:
        raise ValidationFailed("the preferences are not valid", errors)
    return UserPrefs(current.user, current.role, current.tenant_id, current.outlet_id, email, phone, quiet, channels)


def _text(value: Any, name: str, longest: int, errors: dict[str, list[str]]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors[name] = ["must be a string or null"]
        return None
    value = value.strip()
    if len(value) > longest:
        errors[name] = [f"at most {longest} characters"]
    return value or None


def _channels(raw: Any, errors: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, Mapping):
        errors["channels"] = ["must map a notice kind to a list of channels"]
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for kind, chosen in raw.items():
        where = f"channels.{kind}"
        if kind not in KIND_TITLES:
            errors[where] = [f"unknown notice kind; one of {sorted(KIND_TITLES)}"]
        elif not isinstance(chosen, list) or not all(isinstance(c, str) for c in chosen):
            errors[where] = ["must be a list of channels (email, sms, inbox)"]
        elif set(chosen) - set(CHANNEL_TITLES):
            errors[where] = [f"unknown channel {sorted(set(chosen) - set(CHANNEL_TITLES))}; email, sms or inbox"]
        else:
            out[kind] = tuple(c for c in (EMAIL, SMS, INBOX) if c in chosen)
    return {kind: chosen for kind, chosen in out.items() if chosen != DEFAULT}


def own_copies(planned: Iterable[Planned], users: Iterable[UserPrefs]) -> list[Planned]:
    """The users' own e-mail and SMS copies of the audience notices `planned` (one per user, kind
    and channel they take it by); an address that cannot take it is planned undeliverable."""
    users = list(users)
    seen: set[tuple[str, str, str]] = set()
    out: list[Planned] = []
    for notice in planned:
        if notice.audience not in ROLE_AUDIENCE.values():
            continue
        for user in users:
            if not user.hears(notice.audience, notice.audience_id):
                continue
            for channel in (EMAIL, SMS):
                key = (user.user, notice.kind, channel)
                if channel not in user.takes(notice.kind) or key in seen:
                    continue
                seen.add(key)
                address = (user.email if channel == EMAIL else user.phone) or ""
                problem = phone_problem(address) if channel == SMS else (None if address else "no e-mail address")
                out.append(Planned(notice.kind, USER, user.user, channel, address, notice.urgent, problem))
    return out


def as_json(prefs: UserPrefs) -> dict[str, Any]:
    """What GET answers: every kind with the channels the user takes it by."""
    return {
        "user": prefs.user,
        "email": prefs.email,
        "phone": prefs.phone,
        "quiet_hours": prefs.quiet_hours,
        "channels": {kind: list(prefs.takes(kind)) for kind in KIND_TITLES},
    }
