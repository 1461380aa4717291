"""A center's benefit indicators (效益类指标) and its departments' complaint KPIs: plain Python.

Seed 001 (第五章 三、服务的管理和支持): "考核指标重要涉及两类：效益指标和信息指标。效益类指标涉及：
营业额、利润完毕情况等". What the platform knows of a center's money is settlement's fee claims,
which QA keeps from `claim.audited` (one row per claim, its latest step): the service fees approved
in the month are the center's service turnover (服务营业额), beside the claims rejected and still
open and the approved fees per completed job. Profit (利润) needs the center's costs and income
outside the service fees, which no service records: it is not computed (``profit`` is None).

Seed 004 ("将用户投诉的频数纳入各部门考核的内容（分清投诉原因、性质）") puts complaint counts into
each department's assessment; seed 001's table is the assessment of "专业部室、子公司、分公司" alike,
so a department's complaints weigh on its customer-opinion line (客户意见, 25 points) as they would
on a service department's: 投诉至集团公司 −3, 至消协 −5 each, never below 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

APPROVED, REJECTED = "approved", "rejected"
CUSTOMER_OPINION_MAX = 25  # seed 001's 客户意见 line
LEVEL_POINTS = {"company": -3, "consumer_association": -5}  # 投诉至集团公司 −3, 至消协 −5
CENT = Decimal("0.01")


@dataclass(frozen=True)
class ClaimFact:
    """A fee claim as QA keeps it: its latest status and amount (approved, or claimed while open)."""

    claim_id: str
    outlet_id: str | None
    status: str
    amount: Decimal


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole).quantize(Decimal("0.001")) if whole else None


def _per_job(amount: Decimal, jobs: int) -> Decimal | None:
    return (amount / jobs).quantize(CENT, rounding=ROUND_HALF_UP) if jobs else None


def benefit_kpis(claims: Sequence[ClaimFact], jobs: int) -> dict[str, Any]:
    """The month's benefit indicators from its claims (decided or raised in the month) and jobs."""
    approved = [c for c in claims if c.status == APPROVED]
    rejected = [c for c in claims if c.status == REJECTED]
    turnover = sum((c.amount for c in approved), Decimal(0)).quantize(CENT)
    decided = len(approved) + len(rejected)
    return {
        "claims_approved": len(approved),
        "claims_rejected": len(rejected),
        "claims_open": len(claims) - decided,
        "turnover": turnover,
        "rejected_amount": sum((c.amount for c in rejected), Decimal(0)).quantize(CENT),
        "turnover_per_job": _per_job(turnover, jobs),
        "approval_share": _share(len(approved), decided),
        "jobs": jobs,
        "profit": None,  # no service records the costs and income a profit needs
    }


_SUMMED = ("claims_approved", "claims_rejected", "claims_open", "jobs")


def year_benefit(months: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The year's benefit indicators: the months' counts and amounts added up, ratios recomputed."""
    rows = [m for m in months if m]
    totals = {key: sum(int(m.get(key) or 0) for m in rows) for key in _SUMMED}
    turnover = sum((Decimal(str(m.get("turnover") or 0)) for m in rows), Decimal(0)).quantize(CENT)
    rejected = sum((Decimal(str(m.get("rejected_amount") or 0)) for m in rows), Decimal(0)).quantize(CENT)
    decided = totals["claims_approved"] + totals["claims_rejected"]
    return dict(
        totals,
        turnover=turnover,
        rejected_amount=rejected,
        turnover_per_job=_per_job(turnover, totals["jobs"]),
        approval_share=_share(totals["claims_approved"], decided),
        profit=None,
    )


def department_score(by_level: Mapping[str, int]) -> tuple[int, int]:
    """(deductions, customer-opinion score) of a department from its complaints per level."""
    deductions = sum(LEVEL_POINTS.get(level, 0) * n for level, n in by_level.items())
    return deductions, max(0, CUSTOMER_OPINION_MAX + deductions)


def with_department_scores(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each department's complaint row (`assessment.department_kpis`) with its deductions and its
    customer-opinion score on seed 001's 25-point line."""
    out = []
    for row in rows:
        deductions, score = department_score(row.get("by_level") or {})
        out.append(dict(row, deductions=deductions, customer_opinion=score, customer_opinion_max=CUSTOMER_OPINION_MAX))
    return out
