"""The warranty decision (保修): in warranty, 15-day return, 30-day exchange, or self-paid, from the
product line terms and the purchase date. Plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.errors import ValidationFailed
from shared.tenants import WarrantyTerms


# ---------------------------------------------------------------- warranty (保修)
@dataclass(frozen=True)
class WarrantyDecision:
    """保修 or 自费, and which remedy the purchase age still allows (15-day return, 30-day exchange)."""

    status: str  # warranty | self_paid | unknown
    remedy: str | None  # return | exchange | repair | None
    reason: str
    expires_on: date | None = None


def _add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def decide_warranty(terms: WarrantyTerms, purchase_date: date | None, on_date: date) -> WarrantyDecision:
    if purchase_date is None:
        return WarrantyDecision("unknown", None, "purchase date not given")
    if purchase_date > on_date:
        raise ValidationFailed(
            "purchase date is after the request", {"purchase_date": ["must not be after the date of the request"]}
        )
    age = (on_date - purchase_date).days
    expires = _add_years(purchase_date, terms.warranty_years)
    if age <= terms.return_days:
        return WarrantyDecision(
            "warranty",
            "return",
            f"{age} days since purchase: within the {terms.return_days}-day return period",
            expires,
        )
    if age <= terms.exchange_days:
        return WarrantyDecision(
            "warranty",
            "exchange",
            f"{age} days since purchase: within the {terms.exchange_days}-day exchange period",
            expires,
        )
    if on_date <= expires:
        return WarrantyDecision(
            "warranty",
            "repair",
            f"within the {terms.warranty_years}-year warranty until {expires.isoformat()}",
            expires,
        )
    return WarrantyDecision(
        "self_paid", "repair", f"{terms.warranty_years}-year warranty ended {expires.isoformat()}", expires
    )
