"""Money in settlement: the one place that states how amounts are rounded.

Rules (结算金额规则):
- Amounts are `Decimal` yuan with two places (to the fen, 分); floats are never accepted.
- Every priced line is rounded on its own, ROUND_HALF_UP to the fen, right after its
  multiplication (base × quantity × coefficient). Totals are sums of rounded lines and are
  never rounded again, so a statement's total always equals the sum of its printed lines.
- Shares (the outlet's share of a self-paid receipt) are rounded HALF_UP to the fen; the
  other party's share is the receipt minus the rounded share, so the two add up exactly.
- The database keeps integer fen (`to_fen` / `from_fen`): exact, and summable in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeAlias

# what an amount, quantity or fraction may be given as: never a float (refused at run time too)
DecimalLike: TypeAlias = Decimal | int | str

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: DecimalLike) -> Decimal:
    """A yuan amount to the fen (ROUND_HALF_UP). Accepts Decimal, int or a decimal string."""
    if type(value) is Decimal and value.is_finite():  # the common case, fast
        return value.quantize(FEN, rounding=ROUND_HALF_UP)
    if isinstance(value, float):
        raise TypeError("money is never a float: pass a Decimal or a string")
    if isinstance(value, bool):
        raise TypeError("money is not a bool")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def line(base: DecimalLike, quantity: DecimalLike = 1, coefficient: DecimalLike = Decimal("1")) -> Decimal:
    """One priced line: base × quantity × coefficient, rounded once to the fen."""
    value = base if type(base) is Decimal else Decimal(str(base))
    if quantity != 1:
        value *= quantity if type(quantity) is Decimal or type(quantity) is int else Decimal(str(quantity))
    if coefficient != 1:
        value *= coefficient if type(coefficient) is Decimal else Decimal(str(coefficient))
    return money(value)


def total(amounts: Iterable[Decimal]) -> Decimal:
    """The sum of already-rounded lines (not rounded again)."""
    result = ZERO
    for amount in amounts:
        result += amount
    return result


def share(amount: Decimal, fraction: DecimalLike) -> tuple[Decimal, Decimal]:
    """(this party's share rounded to the fen, the rest) of `amount`; they add up to it."""
    mine = money(amount * Decimal(str(fraction)))
    return mine, amount - mine


def to_fen(amount: Decimal) -> int:
    return int(money(amount) * 100)


def from_fen(fen: int | None) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(FEN)


def fmt(amount: Decimal) -> str:
    return f"{amount:,.2f}"
