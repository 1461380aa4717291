"""The customer and product archive's rules (客户信息卡, 客户档案, 产品档案; seeds 001, 003). Plain Python.

A request is linked to an archived customer only when it is sure: the same unmasked phone with the
same name (and no other company), or the same external id, and no second candidate. In doubt it is
never merged: a new customer is created and flagged as a possible duplicate of the candidates, for
a person to decide (an explicit merge). A product is its serial number (出厂编号).

The archive is updated once a year at least (seed 001: 客户服务档案原则上每年更新一次): a record
not reviewed for a year is due for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared import tenancy
from shared.clock import LOCAL_TZ
from shared.errors import Forbidden, ValidationFailed

READERS = (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE)
MERGERS = (tenancy.HQ, tenancy.CENTER)
REVIEW_DAYS = 365  # 每年更新一次

_PHONE_NOISE = re.compile(r"[\s\-()（）]")
_PHONE = re.compile(r"^\+?\d{5,20}$")


def check_reader(role: str) -> None:
    """Only staff of a center (and HQ) read or change the archive: an outlet or a customer cannot."""
    if role not in READERS:
        raise Forbidden(f"role {role} cannot read the customer archive")


def check_center(principal: tenancy.Principal, tenant_id: str | None) -> None:
    """A center named in a query must be one the caller sees (HQ: any; a center: its own)."""
    if tenant_id and not principal.sees_tenant(tenant_id):
        raise Forbidden(f"{principal.role} cannot read center {tenant_id}", {"tenant_id": ["not your center"]})


def check_merger(role: str) -> None:
    if role not in MERGERS:
        raise Forbidden(f"role {role} cannot merge customers")


def phone_key(phone: str | None) -> str | None:
    """The phone as it is matched: digits only, without China's +86; None when masked
    (138****0000) or not a phone, so it never matches anyone."""
    if not phone:
        return None
    text = _PHONE_NOISE.sub("", phone)
    if not _PHONE.match(text):
        return None  # a mask (*, x, #) or anything else that is not a number
    text = text.lstrip("+")
    if text.startswith("86") and len(text) == 13:
        text = text[2:]
    return text


def _same(a: str | None, b: str | None) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


@dataclass(frozen=True)
class Known:
    """An archived customer found by one of the request's keys."""

    id: str
    name: str
    company: str | None
    by: str  # phone | external_id


@dataclass(frozen=True)
class CustomerMatch:
    """The decision: link to `customer_id`; or (None) create a customer, flagged as a possible
    duplicate of `duplicate_of` with `reason` when there were candidates."""

    customer_id: str | None
    duplicate_of: tuple[str, ...] = ()
    reason: str | None = None


def match_customer(name: str, company: str | None, found: list[Known]) -> CustomerMatch:
    """Link only when sure (see the module's docstring); in doubt, a new flagged customer.

    Sure: the one customer with the request's external id, unless the phone names another
    customer of the same name; else the one customer with the phone and the same name (and no
    other company). A phone several people share (kept apart by a person) still links each by
    name; two of the same name, or none, is doubt."""
    ids = tuple(sorted({k.id for k in found}))
    if not ids:
        return CustomerMatch(None)
    by_external = {k.id for k in found if k.by == "external_id"}
    named = {k.id for k in found if _same(k.name, name)}
    sure = {k.id for k in found if k.id in named and not (company and k.company and not _same(company, k.company))}
    if len(by_external) > 1:
        return CustomerMatch(None, ids, "several customers have this external id")
    if by_external:
        (known,) = by_external
        if sure - {known}:
            return CustomerMatch(None, ids, "the external id and the phone name different customers")
        return CustomerMatch(known)
    if len(sure) == 1:
        return CustomerMatch(sure.pop())
    if len(sure) > 1:
        return CustomerMatch(None, ids, "several customers of this name share this phone")
    return CustomerMatch(None, ids, "same phone, another company" if named else "same phone, another name")


def contact_update(cmd: dict[str, Any], today: date) -> dict[str, object]:
    """The columns a reviewed update sets: the fields given, the phones cleaned, and the review date
    (the record is reviewed whenever a person updates it, also to confirm it unchanged)."""
    changes: dict[str, object] = dict(cmd)  # a field given as null is cleared (e-mail, company)
    if "phones" in changes:
        keys = [phone_key(p) for p in cmd["phones"]]
        bad = [p for p, k in zip(cmd["phones"], keys, strict=True) if k is None]
        if bad:
            raise ValidationFailed("a phone is not a full number", {"phones": [f"not a full phone number: {bad[0]}"]})
        changes["phones"] = list(dict.fromkeys(k for k in keys if k))
    changes["reviewed_on"] = today
    return changes


def with_item(items: list[str] | None, item: str | None) -> list[str]:
    """A list of contacts or addresses with `item` added once (newest last)."""
    items = list(items or [])
    if item and item not in items:
        items.append(item)
    return items


def review_due_before(today: date) -> date:
    """Records last reviewed on or before this date are due for their yearly review."""
    return date.fromordinal(today.toordinal() - REVIEW_DAYS)


def review_due(reviewed_on: date | None, today: date) -> bool:
    return reviewed_on is None or reviewed_on <= review_due_before(today)


def check_merge(survivor_id: str, merged_id: str, merged_into: str | None, survivor_merged: str | None) -> None:
    """Two different live customers only."""
    if survivor_id == merged_id:
        raise ValidationFailed("a customer cannot be merged into itself", {"merged_id": ["same as survivor_id"]})
    if merged_into is not None:
        raise ValidationFailed("this customer was merged already", {"merged_id": [f"merged into {merged_into}"]})
    if survivor_merged is not None:
        raise ValidationFailed("this customer was merged already", {"survivor_id": [f"merged into {survivor_merged}"]})


def installation(kind: str, installed_on: date | None, at: datetime, outlet_id: str | None) -> dict[str, object]:
    """An install ticket's completed visit dates the product's installation and names the outlet
    that installed it (the first installation counts; a repair changes neither)."""
    if kind != "install" or installed_on is not None:
        return {}
    return {"installed_on": at.astimezone(LOCAL_TZ).date(), "installed_by_outlet_id": outlet_id}


def check_flagged(duplicate_of: list[str] | None) -> None:
    """Only a customer flagged as a possible duplicate can be kept apart."""
    if not duplicate_of:
        raise ValidationFailed("this customer is not flagged as a possible duplicate", {"customer_id": ["not flagged"]})
