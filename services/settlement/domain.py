"""Settlement's rules (结算): pricing a fee claim from the tariff, the named audit rules,
the three audit levels, monthly statements and account clearing.

Plain Python: no nameko, no session. Amounts follow `services.settlement.money`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from services.settlement import money
from services.settlement.money import ZERO
from services.settlement.tariff import Tariff, TariffBook
from shared.clock import LOCAL_TZ

# ---------------------------------------------------------------- claims
WARRANTY, SELF_PAID = "warranty", "self_paid"
PRICE_CODES = ("labour", "visit_fee", "transport", "travel_allowance", "parts_handling")


class Status:
    CENTER_REVIEW = "center_review"
    TECH_REVIEW = "tech_review"
    HQ_REVIEW = "hq_review"
    APPROVED = "approved"
    REJECTED = "rejected"


OPEN_STATUSES = (Status.CENTER_REVIEW, Status.TECH_REVIEW, Status.HQ_REVIEW)


def local_date(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def local_minute(at: datetime) -> str:
    """An instant as people read it (descriptions, documents): local time to the minute,
    ``2026-12-03 14:05``; never UTC ISO with microseconds."""
    if at.tzinfo is None:
        raise ValueError(f"{at!r} has no time zone")
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class ClaimFacts:
    """What a claim is priced and audited on: the visit, the ticket, the outlet, and what
    the outlet claimed (None: it claims the tariff)."""

    tenant_id: str
    outlet_id: str
    visit_id: str
    ticket_id: str
    visit_date: date
    kind: str | None
    product_line: str | None
    fault: str | None = None
    serial_no: str | None = None
    tier: str | None = None
    planned_km: float | None = None
    actual_km: float | None = None
    parts_count: int = 0
    travel_days: int | None = None
    grade: str | None = None
    warranty: str = WARRANTY  # warranty | self_paid | unknown (intake's decision)
    purchase_date: date | None = None
    customer_confirmed: bool | None = None
    claimed: dict[str, Decimal] | None = None  # code -> Decimal


@dataclass(frozen=True)
class PriceLine:
    code: str
    amount: Decimal
    tariff_line: str
    rule: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "amount": str(self.amount), "tariff_line": self.tariff_line, "rule": self.rule}


@dataclass(frozen=True)
class Price:
    lines: tuple[PriceLine, ...]
    total: Decimal
    fault_class: str
    km: float
    travel_days: int
    grade: str
    tariff_versions: tuple[str, ...]

    def amount(self, code: str) -> Decimal:
        for l in self.lines:
            if l.code == code:
                return l.amount
        return ZERO

    @property
    def tariff_ref(self) -> str:
        return ",".join(l.tariff_line for l in self.lines)


def price(facts: ClaimFacts, tariff: Tariff, book: TariffBook) -> Price:
    """The claim priced from the tariff in force on the visit date (each line rounded)."""
    lines: list[PriceLine] = []
    fault_class = book.fault_class(facts.fault)
    kind = book.labour_kind(facts.kind)
    coef, coef_line, grade = tariff.grade_coefficient(facts.grade)
    if kind != "none":
        base, line_id = tariff.labour(facts.product_line, kind, fault_class)
        rule = (
            f"labour {kind}"
            + (f" ({fault_class})" if kind == "repair" else "")
            + f" {base} × grade {grade} {coef} [{coef_line}]"
        )
        lines.append(PriceLine("labour", money.line(base, 1, coef), line_id, rule))
    fee = tariff.dec("visit_fee")
    lines.append(PriceLine("visit_fee", money.line(fee), tariff.line_id("visit_fee"), "visit fee per completed visit"))
    km = facts.planned_km if facts.planned_km is not None else (facts.actual_km or 0.0)
    source = "planned" if facts.planned_km is not None else ("actual" if facts.actual_km is not None else "none")
    fee, line_id, band = tariff.transport(km)
    lines.append(PriceLine("transport", money.line(fee), line_id, f"band {band} for {km:.1f} km ({source})"))
    days = 0
    if facts.tier == "out_of_province":
        days = tariff.travel_days(km)
        per_day = tariff.dec("travel_allowance_per_day")
        lines.append(
            PriceLine(
                "travel_allowance",
                money.line(per_day, days),
                tariff.line_id("travel_allowance_per_day"),
                f"out of province: {days} day(s) × {per_day} "
                f"(ceil {km:.0f} km / {tariff.values['travel_km_per_day']} km per day)",
            )
        )
    if facts.parts_count:
        fee = tariff.dec("parts_handling_fee")
        lines.append(
            PriceLine(
                "parts_handling",
                money.line(fee, facts.parts_count),
                tariff.line_id("parts_handling_fee"),
                f"{facts.parts_count} part(s) × {fee}",
            )
        )
    return Price(tuple(lines), money.total(l.amount for l in lines), fault_class, km, days, grade, tariff.versions)


# ---------------------------------------------------------------- audit rules
PASS, REJECT, FLAG, HOLD, DEDUCT, CAP = "pass", "reject", "flag", "hold", "deduct", "cap"
RULES = (
    "warranty_valid",
    "duplicate_claim",
    "repeat_repair",
    "part_return",
    "sla_breach",
    "negative_callback",
    "customer_confirmed",
    "tariff_cap",
)
REPEAT_WINDOW_DAYS = 30


@dataclass(frozen=True)
class RuleResult:
    rule: str
    outcome: str
    reason: str
    amount: Decimal | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "outcome": self.outcome,
            "reason": self.reason,
            "amount": None if self.amount is None else str(self.amount),
        }


@dataclass(frozen=True)
class PriorClaim:
    claim_id: str
    visit_date: date
    fault: str | None


@dataclass(frozen=True)
class AuditContext:
    """What the rules look at besides the claim itself."""

    warranty_years: int = 1
    duplicate_of: str | None = None  # a live claim already covering the visit
    prior_same_serial: tuple[PriorClaim, ...] = ()  # PriorClaim of the same serial number
    open_part_holds: tuple[tuple[str, str, date], ...] = ()  # (rma_no, part_no, due date)
    open_callback_holds: tuple[tuple[str, str | None], ...] = ()  # (callback_id, reason)
    sla_deductions: tuple[tuple[str, Decimal, str], ...] = ()  # (sla, amount, tariff line)


def add_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def rule_warranty_valid(f: ClaimFacts, ctx: AuditContext) -> RuleResult:
    """保修: a warranty claim is paid by the maker only if the warranty is valid on the visit date."""
    if f.warranty == SELF_PAID:
        return RuleResult("warranty_valid", PASS, "self-paid job: the customer pays, no warranty needed")
    if f.purchase_date is None:
        if f.warranty == WARRANTY:
            return RuleResult(
                "warranty_valid",
                PASS,
                "warranty decided at registration; no purchase date to re-check on the visit date",
            )
        return RuleResult("warranty_valid", REJECT, "purchase date unknown: the warranty cannot be verified")
    expires = add_years(f.purchase_date, ctx.warranty_years)
    if f.visit_date < f.purchase_date:
        return RuleResult("warranty_valid", REJECT, f"visit {f.visit_date} before the purchase date {f.purchase_date}")
    if f.visit_date <= expires:
        return RuleResult(
            "warranty_valid",
            PASS,
            f"{ctx.warranty_years}-year warranty from {f.purchase_date} valid until {expires}; visit on {f.visit_date}",
        )
    return RuleResult(
        "warranty_valid",
        REJECT,
        f"{ctx.warranty_years}-year warranty from {f.purchase_date} expired on {expires}; "
        f"visit on {f.visit_date}: bill the customer as self-paid",
    )


def rule_duplicate(f: ClaimFacts, ctx: AuditContext) -> RuleResult:
    if ctx.duplicate_of:
        return RuleResult("duplicate_claim", REJECT, f"visit {f.visit_id} is already claimed by {ctx.duplicate_of}")
    return RuleResult("duplicate_claim", PASS, f"first claim for visit {f.visit_id}")


def _same_fault(a: str | None, b: str | None) -> bool:
    return bool(a and b and a.strip() == b.strip())


def rule_repeat_repair(f: ClaimFacts, ctx: AuditContext) -> RuleResult:
    """返修: the same serial with the same fault repaired within 30 days goes to the technical lead."""
    if not f.serial_no:
        return RuleResult("repeat_repair", PASS, "no serial number on the ticket")
    for prior in ctx.prior_same_serial:
        gap = (f.visit_date - prior.visit_date).days
        if 0 <= gap <= REPEAT_WINDOW_DAYS and _same_fault(prior.fault, f.fault):
            return RuleResult(
                "repeat_repair",
                FLAG,
                f"serial {f.serial_no} repaired for '{f.fault}' {gap} day(s) earlier "
                f"(claim {prior.claim_id}): technical lead to check",
            )
    return RuleResult(
        "repeat_repair", PASS, f"no repair of serial {f.serial_no} for the same fault within {REPEAT_WINDOW_DAYS} days"
    )


def rule_part_return(f: ClaimFacts | None, ctx: AuditContext) -> RuleResult:
    if ctx.open_part_holds:
        refs = ", ".join(f"{rma} ({part}, due {due})" for rma, part, due in ctx.open_part_holds)
        return RuleResult(
            "part_return",
            HOLD,
            f"returnable part(s) not back by the due date: {refs}; held until received, then its value is deducted",
        )
    return RuleResult("part_return", PASS, "no returnable part overdue")


def rule_sla_breach(f: ClaimFacts | None, ctx: AuditContext) -> RuleResult:
    due = [(sla, amount, line) for sla, amount, line in ctx.sla_deductions if amount > 0]
    if due:
        amount = money.total(a for _, a, _ in due)
        what = ", ".join(f"{sla} {a} [{line}]" for sla, a, line in due)
        return RuleResult("sla_breach", DEDUCT, f"SLA breached by the outlet: {what}", amount)
    return RuleResult("sla_breach", PASS, "no SLA breach charged to the outlet")


def rule_negative_callback(f: ClaimFacts | None, ctx: AuditContext) -> RuleResult:
    if ctx.open_callback_holds:
        refs = ", ".join(f"{cid} ({reason or 'dissatisfied'})" for cid, reason in ctx.open_callback_holds)
        return RuleResult("negative_callback", HOLD, f"negative callback open: {refs}; held until QA closes it")
    return RuleResult("negative_callback", PASS, "no open negative callback")


def rule_customer_confirmed(f: ClaimFacts, ctx: AuditContext) -> RuleResult:
    if f.customer_confirmed:
        return RuleResult("customer_confirmed", PASS, "the customer signed the work order")
    return RuleResult("customer_confirmed", REJECT, "the customer's confirmation (signed work order) is missing")


def rule_tariff_cap(f: ClaimFacts, p: Price) -> RuleResult:
    if not f.claimed:
        return RuleResult("tariff_cap", PASS, f"claimed at the tariff {p.total}")
    over: list[str] = []
    excess = ZERO
    for code, asked in sorted(f.claimed.items()):
        allowed = p.amount(code)
        if asked > allowed:
            over.append(f"{code} {asked} > {allowed}")
            excess += asked - allowed
    if over:
        return RuleResult("tariff_cap", CAP, "claimed above the tariff, capped: " + "; ".join(over), -excess)
    return RuleResult("tariff_cap", PASS, "claimed within the tariff")


def claimed_lines(f: ClaimFacts, p: Price) -> dict[str, Decimal]:
    """What the outlet claims per code (the tariff where it names nothing)."""
    out = {line.code: line.amount for line in p.lines}
    for code, amount in (f.claimed or {}).items():
        out[code] = money.money(amount)
    return out


def allowed_total(f: ClaimFacts, p: Price) -> Decimal:
    """The claim after the cap: each code at most its tariff amount."""
    claimed = claimed_lines(f, p)
    return money.total(min(claimed[code], p.amount(code)) for code in claimed)


@dataclass(frozen=True)
class Audit:
    results: tuple[RuleResult, ...]
    status: str
    held: bool
    flagged: bool
    claimed_total: Decimal
    allowed_total: Decimal

    @property
    def rejected_by(self) -> list[str]:
        return [r.rule for r in self.results if r.outcome == REJECT]


def audit(f: ClaimFacts, p: Price, ctx: AuditContext, current_status: str | None = None) -> Audit:
    """Run every rule. A reject closes the claim; holds and deductions leave it in review."""
    results = (
        rule_warranty_valid(f, ctx),
        rule_duplicate(f, ctx),
        rule_repeat_repair(f, ctx),
        rule_part_return(f, ctx),
        rule_sla_breach(f, ctx),
        rule_negative_callback(f, ctx),
        rule_customer_confirmed(f, ctx),
        rule_tariff_cap(f, p),
    )
    lines = claimed_lines(f, p)
    claimed = money.total(lines.values())
    allowed = money.total(min(lines[code], p.amount(code)) for code in lines)
    rejected = any(r.outcome == REJECT for r in results)
    if rejected:
        status = Status.REJECTED
    else:
        status = current_status or Status.CENTER_REVIEW
    return Audit(
        results,
        status,
        any(r.outcome == HOLD for r in results),
        any(r.outcome == FLAG for r in results),
        claimed,
        allowed,
    )


def refresh_rule(rules: list[dict[str, Any]], result: RuleResult) -> list[dict[str, Any]]:
    """The stored rule results with one rule's result replaced (events re-run a rule)."""
    out = [r for r in rules if r["rule"] != result.rule]
    out.append(result.as_dict())
    out.sort(key=lambda r: RULES.index(r["rule"]) if r["rule"] in RULES else 99)
    return out


def hold_rules(
    rules: list[dict[str, Any]], ctx: AuditContext, released: tuple[tuple[str, str, str | None], ...] = ()
) -> list[dict[str, Any]]:
    """The claim's two hold rules again after one of its holds opened or closed: `part_return`
    and `negative_callback` from the open holds in `ctx`; a rule whose holds were all released
    passes, naming each release. `released`: (kind, ref, release reason) of the claim's holds
    no longer open (kind part_return or callback)."""

    def passes(rule: str, kind: str) -> RuleResult:
        return RuleResult(rule, PASS, "; ".join(f"{ref}: {why}" for k, ref, why in released if k == kind))

    rules = refresh_rule(rules, rule_part_return(None, ctx))
    if not ctx.open_part_holds and any(kind == "part_return" for kind, _, _ in released):
        rules = refresh_rule(rules, passes("part_return", "part_return"))
    rules = refresh_rule(rules, rule_negative_callback(None, ctx))
    if not ctx.open_callback_holds and any(kind == "callback" for kind, _, _ in released):
        rules = refresh_rule(rules, passes("negative_callback", "callback"))
    return rules


def payer_of(warranty: str | None) -> str:
    """Who pays a job: the customer when the ticket was self-paid, else the maker (warranty)."""
    return SELF_PAID if warranty == SELF_PAID else WARRANTY


def cap_adjustment(result: Audit) -> dict[str, str] | None:
    """The adjustment the tariff cap made to a claim, if it capped it."""
    cap = next(r for r in result.results if r.rule == "tariff_cap")
    if cap.outcome != CAP:
        return None
    return {"rule": "tariff_cap", "reason": cap.reason, "delta": str(cap.amount)}


# ---------------------------------------------------------------- self-paid
def self_paid_split(receipt: Decimal, tariff: Tariff) -> tuple[Decimal, Decimal, str]:
    """(outlet share, center share, tariff line) of a customer's receipt."""
    outlet, center = money.share(receipt, tariff.dec("self_paid_outlet_share"))
    return outlet, center, tariff.line_id("self_paid_outlet_share")


# ---------------------------------------------------------------- statements
def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in Asia/Shanghai, as UTC datetimes."""
    year, mon = (int(x) for x in month.split("-"))
    start = datetime(year, mon, 1, tzinfo=LOCAL_TZ)
    last = calendar.monthrange(year, mon)[1]
    end = datetime.combine(date(year, mon, last) + timedelta(days=1), time(), LOCAL_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


def month_last_day(month: str) -> date:
    year, mon = (int(x) for x in month.split("-"))
    return date(year, mon, calendar.monthrange(year, mon)[1])


def local_month(at: datetime) -> str:
    """The month 'YYYY-MM' that `at` falls in, in Asia/Shanghai."""
    return at.astimezone(LOCAL_TZ).strftime("%Y-%m")


def unreturned_deadline(due_at: datetime, grace_days: int | str) -> datetime:
    """When an old part still not back is deducted: `part_return_grace_days` after its due date."""
    return due_at + timedelta(days=int(grace_days))


def payment_fits(amount_fen: int, outstanding_fen: int) -> bool:
    """A payment settles part or all of what a statement has outstanding, in its direction
    (a negative statement is paid back by the outlet), never more."""
    if amount_fen == 0 or outstanding_fen == 0:
        return False
    return (amount_fen > 0) == (outstanding_fen > 0) and abs(amount_fen) <= abs(outstanding_fen)


def statement_status(paid_fen: int, total_fen: int) -> str:
    return "paid" if paid_fen == total_fen else "partially_paid"


@dataclass(frozen=True)
class StatementClaim:
    claim_id: str
    visit_id: str
    ticket_id: str
    visit_date: date
    payer: str
    claimed: Decimal
    approved: Decimal
    adjustments: tuple[tuple[str, str, Decimal], ...] = ()  # (rule, reason, delta)
    hold_released: bool = False
    receipt: Decimal | None = None
    center_share: Decimal | None = None
    share_line: str | None = None
    tariff_ref: str = ""  # the tariff lines the claim was priced on, comma-separated


@dataclass(frozen=True)
class StatementDeduction:
    ref: str
    kind: str
    amount: Decimal  # positive: taken off the outlet's statement
    tariff_line: str
    rule: str
    reason: str


@dataclass(frozen=True)
class StatementLineOut:
    kind: str  # claim | hold_released | adjustment | self_paid_share | deduction
    ref: str
    claim_id: str | None
    description: str
    amount: Decimal
    tariff_line: str
    rule: str


def build_statement(
    claims: Iterable[StatementClaim], deductions: Iterable[StatementDeduction]
) -> tuple[list[StatementLineOut], Decimal]:
    """The lines of an outlet's monthly statement and its total (the sum of the lines).

    A warranty claim shows what the outlet claimed, then each adjustment (tariff cap, an
    audit level's adjustment) as its own line; a claim whose hold was released this time is
    a "hold released" line. A self-paid job shows the center's share of the receipt, owed
    by the outlet. Deductions are negative lines.
    """
    lines: list[StatementLineOut] = []
    for c in sorted(claims, key=lambda c: (c.visit_date, c.claim_id)):
        if c.payer == SELF_PAID:
            lines.append(
                StatementLineOut(
                    "self_paid_share",
                    c.claim_id,
                    c.claim_id,
                    f"self-paid visit {c.visit_date}: receipt {c.receipt}, center's share owed",
                    -(c.center_share or ZERO),
                    c.share_line or "",
                    "self_paid_outlet_share",
                )
            )
            continue
        kind = "hold_released" if c.hold_released else "claim"
        what = "claim released from hold" if c.hold_released else "claim"
        lines.append(
            StatementLineOut(
                kind,
                c.claim_id,
                c.claim_id,
                f"{what}: visit {c.visit_date}",
                c.claimed,
                c.tariff_ref,
                "claimed per tariff lines",
            )
        )
        for rule, reason, delta in c.adjustments:
            if delta:
                lines.append(
                    StatementLineOut(
                        "adjustment",
                        c.claim_id,
                        c.claim_id,
                        reason,
                        delta,
                        "tariff" if rule == "tariff_cap" else "audit",
                        rule,
                    )
                )
    for d in sorted(deductions, key=lambda d: (d.kind, d.ref)):
        lines.append(StatementLineOut("deduction", d.ref, None, d.reason, -d.amount, d.tariff_line, d.rule))
    return lines, money.total(l.amount for l in lines)


# ---------------------------------------------------------------- account clearing
def clearing_answer(own_items: list[dict[str, Any]], parts_items: list[dict[str, Any]]) -> str:
    """account.cleared when neither settlement nor parts has an open item, else open_items."""
    return "account.cleared" if not own_items and not parts_items else "account.open_items"


def open_claim_description(status: str, held: bool, payer: str, has_receipt: bool) -> str:
    """Why a claim not yet on a statement keeps the outlet's account open."""
    if status in OPEN_STATUSES:
        return f"claim in audit ({status})"
    if held:
        return "claim approved but held"
    if payer == SELF_PAID and not has_receipt:
        return "self-paid claim without the customer's receipt"
    return "approved claim not yet on a statement"
