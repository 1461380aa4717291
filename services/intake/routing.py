"""HQ's routing of a ticket to a regional center (分派到区域中心): which centers may take it, whether
a chosen center may, and what the routing records.

Plain Python over the tenant directory and the geocoder's answer (`shared.geo.GeoResult`):

- **Candidates.** The centers serving the customer's province: the province the address was
  placed in, or, for a district name that several provinces have (an ambiguous address), every
  candidate's province. No province and no candidates: no center yet, the address must be corrected.
- **The rule.** A center that serves none of those provinces is refused (``tenant_id`` named),
  unless HQ gives a corrected address that places the customer in its territory; a corrected
  address placed in another center's territory is refused too (``address`` named).
- **When.** A ticket in HQ triage is routed (the same ticket moves to the center). A ticket already
  registered with a center may be re-routed while that center has not started on it: status
  ``registered`` (not accepted, no visit planned), no outlet assigned, a complaint case not past
  its acceptance (`REROUTABLE`). The old center's ticket is then cancelled and a new ticket opened in
  the new center (new number, same receipt time, so the SLA clock keeps running from the
  customer's request): the other services learn of both through the usual events
  (``ticket.closed``, ``ticket.registered``), each row staying in one tenant.
- **The record.** Both audit entries name the target center, the center it came from and the
  corrected address (件件有去向).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from shared.errors import InvalidTransition, ValidationFailed
from shared.tenants import TenantDirectory

TRIAGE = "triage"
REGISTERED = "registered"
# the case states a complaint may be re-routed in: accepted (投诉受理), nothing decided yet
REROUTABLE_CASE_STATES = (None, "accepted")
# columns a re-routed ticket does not carry over: who and where are new, its work starts anew
FRESH_COLUMNS = (
    "id",
    "number",
    "version",
    "status_before_scheduled",
    "onsite_at",
    "closed_at",
    "assigned_outlet_id",
    # a major issue is escalated anew to the new center's own managers (complaints.first_escalation)
    "escalation_level",
    "escalation_manager",
    "escalated_at",
    "escalation_ack_due",
    "escalation_acked_by",
    "escalation_acked_at",
)
PLACEMENT_COLUMNS = ("province", "city", "district", "adcode", "lat", "lon", "tier")


def candidate_provinces(geo: Any) -> list[str]:
    """The customer's province as the address tells it: the one it was placed in, or each
    candidate's of an ambiguous district name, in the geocoder's order."""
    if geo.province:
        return [geo.province]
    seen: list[str] = []
    for candidate in geo.candidates or ():
        province = candidate.get("province")
        if province and province not in seen:
            seen.append(province)
    return seen


def candidates(directory: TenantDirectory, geo: Any) -> list[tuple[str, str]]:
    """(center, province): each center serving a province the customer may be in (see
    `candidate_provinces`), once, with the first such province."""
    found: dict[str, str] = {}
    for province in candidate_provinces(geo):
        center = directory.tenant_for_province(province)
        if center and center not in found:
            found[center] = province
    return list(found.items())


def candidate_centers(directory: TenantDirectory, geo: Any) -> list[str]:
    """The centers serving the customer's province (see `candidates`)."""
    return [center for center, _ in candidates(directory, geo)]


def check_reroutable(ticket: Any) -> None:
    """A registered ticket may go to another center only while its center has not started on it."""
    if ticket.status == TRIAGE:
        return
    if ticket.status != REGISTERED or ticket.assigned_outlet_id or ticket.case_state not in REROUTABLE_CASE_STATES:
        raise InvalidTransition(
            f"cannot route a ticket that is {ticket.status}",
            {"action": ["a ticket can be re-routed only while registered, with no outlet and no case step taken"]},
        )


def check_target(directory: TenantDirectory, ticket: Any, target: str | None, geo: Any, corrected: bool) -> None:
    """Refuse a target center that is unknown, the ticket's own, or serves none of the customer's
    provinces (`geo`: the corrected address's when `corrected`, else the ticket's)."""
    if not target:
        raise ValidationFailed("route needs a tenant", {"tenant_id": ["required for route"]})
    if target not in directory.centers:
        raise ValidationFailed("unknown center", {"tenant_id": [f"no center {target!r}"]})
    if target == ticket.tenant_id:
        raise ValidationFailed("the ticket is with that center already", {"tenant_id": [f"already with {target}"]})
    candidates = candidate_centers(directory, geo)
    if target in candidates:
        return
    provinces = candidate_provinces(geo)
    where = "/".join(provinces)
    if provinces:
        wrong = f"center {target} does not serve {where}: choose a candidate or correct the address"
    else:
        wrong = f"center {target}: the customer's province is not known: correct the address"
    fields = {"tenant_id": [wrong]}
    if corrected:
        fields["address"] = [
            f"the corrected address is in {where}, outside the center's territory"
            if provinces
            else "the corrected address names no province"
        ]
    raise ValidationFailed(f"center {target} does not serve the customer's province", fields)


def chosen_candidate(directory: TenantDirectory, geo: Any, target: str) -> str | None:
    """For an ambiguous address, the text to place the customer with: the first candidate district
    in the target's territory (province, city, district); None when the address was placed."""
    if geo.province or not geo.candidates:
        return None
    for candidate in geo.candidates:
        if directory.tenant_for_province(candidate.get("province")) == target:
            return "".join(candidate.get(k) or "" for k in ("province", "city", "district"))
    return None


def route_record(ticket: Any, cmd: dict[str, Any], **more: Any) -> dict[str, Any]:
    """What a routing's audit entry keeps: the target center, where it came from, the corrected
    address (None: the ticket's own), the attachments, and `more` (the province the customer was
    placed in, the ticket it became or came from)."""
    return {
        "attachments": cmd.get("attachments") or [],
        "tenant_id": cmd["tenant_id"],
        "from_tenant_id": ticket.tenant_id,
        "address": cmd.get("address"),
        **more,
    }


def rerouted_ticket(old: dict[str, Any], placement: Any, number: str, now: datetime) -> dict[str, Any]:
    """The columns of the new ticket a re-routing opens in `placement`'s center, from the old
    ticket's (with the corrected address, if any)."""
    fields = {k: v for k, v in old.items() if k not in FRESH_COLUMNS}
    fields.update({k: getattr(placement, k) for k in PLACEMENT_COLUMNS})
    fields.update(
        id=uuid.uuid4().hex,
        number=number,
        tenant_id=placement.tenant_id,
        status=REGISTERED,
        geo_precision=placement.precision,
        geo_ambiguous=placement.ambiguous,
        triage_reason=None,
        registered_at=now,
    )
    return fields


def met_on_routing(already_met: set[str], now: datetime) -> list[tuple[str, datetime]]:
    """The commitments a routing meets: the forwarding to the center, unless it was met before (a
    re-routed ticket's commitments keep the times they were met or breached at)."""
    return [] if "forward" in already_met else [("forward", now)]
