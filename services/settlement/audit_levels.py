"""The three audit levels of a claim (center, technical lead, HQ): who may act at which level, and
what approve, adjust or reject does to the claim. Plain Python, like `domain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.settlement import money
from services.settlement.domain import Status

# ---------------------------------------------------------------- three audit levels
LEVELS = ("center", "technical_lead", "hq")
LEVEL_OF_STATUS = {Status.CENTER_REVIEW: "center", Status.TECH_REVIEW: "technical_lead", Status.HQ_REVIEW: "hq"}
NEXT_STATUS = {
    Status.CENTER_REVIEW: Status.TECH_REVIEW,
    Status.TECH_REVIEW: Status.HQ_REVIEW,
    Status.HQ_REVIEW: Status.APPROVED,
}
ACTIONS = ("approve", "adjust", "reject")


class AuditRefused(Exception):
    """kind: 'role' (wrong role for the level), 'level' (not the claim's level), 'input'."""

    def __init__(self, kind: str, message: str, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.fields = kind, message, fields or {}


def may_act_at(level: str, role: str, duty: str | None) -> bool:
    """Center auditor (地区中心审核) → technical lead (技术负责人复核) → HQ (总部审核)."""
    if level == "center":
        return role == "center" and duty != "technical_lead"
    if level == "technical_lead":
        return role in ("center", "hq") and duty == "technical_lead"
    if level == "hq":
        return role == "hq" and duty != "technical_lead"
    return False


@dataclass(frozen=True)
class AuditStep:
    status: str
    amount: Decimal
    level: str


def audit_step(
    status: str,
    level: str,
    action: str,
    role: str,
    duty: str | None,
    user: str,
    current_amount: Decimal,
    ceiling: Decimal,
    prior_users: tuple[str, ...],
    flagged: bool,
    amount: Decimal | None,
    reason: str | None,
) -> AuditStep:
    """One level's decision on a claim: approve, adjust (with amount and reason) or reject."""
    if level not in LEVELS:
        raise AuditRefused("input", "unknown audit level", {"level": [f"one of {', '.join(LEVELS)}"]})
    if action not in ACTIONS:
        raise AuditRefused("input", "unknown action", {"action": [f"one of {', '.join(ACTIONS)}"]})
    if not may_act_at(level, role, duty):
        who = role + (f"/{duty}" if duty else "")
        raise AuditRefused("role", f"{who} cannot audit at the {level} level")
    current = LEVEL_OF_STATUS.get(status)
    if current is None:
        raise AuditRefused("level", f"the claim is {status}: no audit level is open")
    if current != level:
        raise AuditRefused(
            "level",
            f"the claim is at the {current} level; the {level} level cannot skip it"
            if LEVELS.index(level) > LEVELS.index(current)
            else f"the claim is at the {current} level; the {level} level has already decided",
        )
    if user in prior_users:
        raise AuditRefused("role", f"{user} already audited this claim at another level")
    reason = (reason or "").strip() or None
    if action in ("adjust", "reject") and not reason:
        raise AuditRefused("input", f"{action} needs a reason", {"reason": ["required for " + action]})
    if action == "approve" and level == "technical_lead" and flagged and not reason:
        raise AuditRefused(
            "input",
            "a flagged claim (repeat repair) needs the technical lead's reason",
            {"reason": ["required: the claim is flagged as a repeat repair"]},
        )
    if action == "reject":
        return AuditStep(Status.REJECTED, current_amount, level)
    new_amount = current_amount
    if action == "adjust":
        if amount is None:
            raise AuditRefused("input", "adjust needs an amount", {"amount": ["required for adjust"]})
        new_amount = money.money(amount)
        if new_amount < 0:
            raise AuditRefused("input", "amount must not be negative", {"amount": ["must be ≥ 0"]})
        if new_amount > ceiling:
            raise AuditRefused("input", "amount above the tariff", {"amount": [f"at most {ceiling} (the tariff)"]})
    return AuditStep(NEXT_STATUS[status], new_amount, level)
