"""Complaint analysis (seed 002): causes and responsibilities, the Pareto of causes, handling cycle
against the 15-day target, recurrence within the re-check period, the outlet a complaint is charged
to. Plain Python, like `domain`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.qa.domain import COMPLAINT_TARGET_DAYS, RECURRENCE_DAYS
from shared.errors import ValidationFailed

# ---------------------------------------------------------------- complaints (seed 002)
CAUSES = {
    "product_quality": "产品质量",
    "installation": "安装质量",
    "repair_quality": "维修质量",
    "late_service": "服务不及时",
    "attitude": "服务态度",
    "fees": "收费问题",
    "parts": "配件问题",
    "information": "信息答复不及时",
    "other": "其他",
}
#: own (the service network: the outlet), another department (plant, sales), or the grey zone
#: still to be settled between them (灰色地带: 共同商议, 通过行政手段加以明确)
RESPONSIBILITIES = ("own", "other_department", "grey_zone")
LEVELS = ("company", "consumer_association")  # 投诉至集团公司 / 至消协


def complaint_fact_kind(responsibility: str | None, level: str | None) -> str | None:
    """A complaint weighs on the outlet's customer-opinion line when the outlet is responsible."""
    if responsibility != "own" or level not in LEVELS:
        return None
    return "complaint_association" if level == "consumer_association" else "complaint_company"


def classified_outlet(
    tenant_id: str, outlet_id: str | None, classification: Mapping[str, Any], named_outlet_center: str | None
) -> str | None:
    """The outlet a classified complaint is about: the one the classification names, which must be
    an outlet of the complaint's center, else the one it had; an own-responsibility complaint
    needs one (it weighs on that outlet's scorecard)."""
    named = classification.get("outlet_id")
    if named:
        if named_outlet_center != tenant_id:
            raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {named!r} in {tenant_id}"]})
        outlet_id = named
    if classification["responsibility"] == "own" and not outlet_id:
        raise ValidationFailed(
            "own responsibility needs the outlet", {"outlet_id": ["required when responsibility is own"]}
        )
    return outlet_id


def pareto(counts: dict[str, int], vital_share: Decimal = Decimal("0.8")) -> list[dict[str, Any]]:
    """Causes by count, highest first, with share and cumulative share; the vital few are the
    causes needed to reach 80% of complaints."""
    total = sum(counts.values())
    rows, cumulative, reached = [], 0, False
    for cause, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        cumulative += n
        share = Decimal(n) / total if total else Decimal(0)
        cum = Decimal(cumulative) / total if total else Decimal(0)
        rows.append(
            {
                "cause": cause,
                "label": CAUSES.get(cause, cause),
                "count": n,
                "share": share.quantize(Decimal("0.001")),
                "cumulative": cum.quantize(Decimal("0.001")),
                "vital": not reached,
            }
        )
        reached = reached or cum >= vital_share
    return rows


def cycle_days(received_at: datetime, closed_at: datetime) -> Decimal:
    return (Decimal((closed_at - received_at).total_seconds()) / Decimal(86400)).quantize(Decimal("0.1"))


def cycle_summary(cycles: list[Decimal], target: int = COMPLAINT_TARGET_DAYS) -> dict[str, Any]:
    if not cycles:
        return {"closed": 0, "average_days": None, "target_days": target, "over_target": 0, "meets_target": None}
    average = (sum(cycles, Decimal(0)) / len(cycles)).quantize(Decimal("0.1"))
    return {
        "closed": len(cycles),
        "average_days": average,
        "target_days": target,
        "over_target": sum(1 for days in cycles if days > target),
        "meets_target": average <= target,
    }


@dataclass(frozen=True)
class ComplaintRecord:
    """A complaint as the analysis reads it (times in UTC)."""

    ticket_id: str
    tenant_id: str
    number: str
    received_at: datetime
    closed_at: datetime | None = None
    outcome: str | None = None
    cause: str | None = None
    responsibility: str | None = None
    level: str | None = None
    product_line: str | None = None
    model: str | None = None
    outlet_id: str | None = None
    serial_no: str | None = None
    recurrence_status: str | None = None
    recurrence_ticket_id: str | None = None


def analyse_complaints(complaints: list[ComplaintRecord]) -> dict[str, Any]:
    """投诉分析: counts by cause, responsibility, level, product, model, outlet and center (most
    first; "unclassified" where not known), the causes' Pareto, the cycle against its target and
    the recurrence re-checks."""

    def count(attribute: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for complaint in complaints:
            value = getattr(complaint, attribute) or "unclassified"
            out[value] = out.get(value, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    causes: dict[str, int] = {}
    for complaint in complaints:
        if complaint.cause:
            causes[complaint.cause] = causes.get(complaint.cause, 0) + 1
    cycles = [
        cycle_days(complaint.received_at, complaint.closed_at)
        for complaint in complaints
        if complaint.closed_at is not None and complaint.outcome != "cancelled"
    ]
    recurrence = {"pending": 0, "none": 0, "recurred": 0}
    for complaint in complaints:
        if complaint.recurrence_status in recurrence:
            recurrence[complaint.recurrence_status] += 1
    recurred = [
        {
            "ticket_id": complaint.ticket_id,
            "number": complaint.number,
            "serial_no": complaint.serial_no,
            "recurrence_ticket_id": complaint.recurrence_ticket_id,
        }
        for complaint in complaints
        if complaint.recurrence_status == "recurred"
    ]
    return {
        "complaints": len(complaints),
        "open": sum(1 for complaint in complaints if complaint.closed_at is None),
        **{
            f"by_{name}": count(attribute)
            for name, attribute in (
                ("cause", "cause"),
                ("responsibility", "responsibility"),
                ("level", "level"),
                ("product", "product_line"),
                ("model", "model"),
                ("outlet", "outlet_id"),
                ("tenant", "tenant_id"),
            )
        },
        "pareto": pareto(causes),
        "unclassified": sum(1 for complaint in complaints if not complaint.cause),
        "cycle": cycle_summary(cycles),
        "recurrence": recurrence,
        "recurred": recurred,
    }


def recurrence_due(closed_at: datetime, days: int = RECURRENCE_DAYS) -> datetime:
    return closed_at + timedelta(days=days)


def is_recurrence(closed_at: datetime, recurrence_due_at: datetime, received_at: datetime) -> bool:
    """A request on the same machine after the complaint closed and within its re-check period."""
    return closed_at < received_at <= recurrence_due_at
