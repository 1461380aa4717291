"""The monthly outlet scorecard of seed 001 (服务工作考核指标): the 100-point table, its lines and
their rules, the facts that move them, stars, grades and ranking.

Plain Python like `domain`: the service feeds it the month's facts and stores what it computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

LINES = (
    ("service_norms", "客户服务(“真诚服务”规范)", "service norms", 25),
    ("information_feedback", "信息反馈", "information feedback", 20),
    ("service_management", "客户服务的管理", "service management", 30),
    ("customer_opinion", "客户意见", "customer opinion", 25),
)
LINE_MAX = {key: points for key, _, _, points in LINES}


@dataclass(frozen=True)
class Rule:
    line: str
    points: int
    label: str
    label_en: str


#: every deduction and bonus of the table, with its points per occurrence (分/次)
RULES = {
    "norm_breach": Rule("service_norms", -4, "未按规范做", "service norm not followed"),
    "late_customer_file": Rule("information_feedback", -1, "客户档案输入不及时", "customer file entered late"),
    "late_product_file": Rule("information_feedback", -1, "产品档案输入不及时", "product file entered late"),
    "late_feedback": Rule("information_feedback", -2, "反馈信息不及时", "feedback late"),
    "incomplete_feedback": Rule("information_feedback", -2, "反馈信息不全面", "feedback incomplete"),
    "callback_missed": Rule("service_management", -1, "未100%回访", "callback not made (not 100%)"),
    "no_periodic_inspection": Rule("service_management", -2, "未定期巡查", "no periodic inspection"),
    "work_order_late": Rule(
        "service_management", -2, "《客户服务工作单》未在规定期间返回", "work order not returned in time"
    ),
    "praise_company": Rule("customer_opinion", +2, "表扬至集团公司", "praise to the company"),
    "praise_association": Rule("customer_opinion", +3, "表扬至消协", "praise to the consumer association"),
    "complaint_company": Rule("customer_opinion", -3, "投诉至集团公司", "complaint to the company"),
    "complaint_association": Rule("customer_opinion", -5, "投诉至消协", "complaint to the consumer association"),
}

STARS = ((Decimal(95), 5), (Decimal(85), 4), (Decimal(75), 3), (Decimal(60), 2), (Decimal(0), 1))
GRADES = ((Decimal(90), "A"), (Decimal(75), "B"), (Decimal(0), "C"))


@dataclass(frozen=True)
class ScoreFact:
    """One recorded fact that moves a line. Facts with the same `key` are one occurrence (the same
    late arrival reported by the customer in two callbacks counts once); all stay as evidence."""

    kind: str
    key: str
    ref: str
    at: datetime | None = None
    source: str = ""
    note: str | None = None


def stars_for(score: Decimal) -> int:
    return next(stars for floor, stars in STARS if score >= floor)


def grade_for(score: Decimal) -> str:
    return next(grade for floor, grade in GRADES if score >= floor)


def compute_scorecard(facts: list[ScoreFact]) -> dict:
    """The 100-point scorecard from facts: each line starts at its full points, every occurrence
    adds its rule's points, and the line is kept within 0..its maximum (bonuses make up for
    deductions on the customer-opinion line; they cannot lift it above 25)."""
    unknown = sorted({fact.kind for fact in facts if fact.kind not in RULES})
    if unknown:
        raise ValueError(f"unknown fact kind(s): {', '.join(unknown)}")
    by_kind: dict[str, dict[str, list[ScoreFact]]] = {}
    for fact in facts:
        by_kind.setdefault(fact.kind, {}).setdefault(fact.key, []).append(fact)
    lines = []
    total = Decimal(0)
    for key, label, label_en, maximum in LINES:
        items = []
        raw = maximum
        for kind, rule in RULES.items():
            if rule.line != key or kind not in by_kind:
                continue
            occurrences = by_kind[kind]
            points = rule.points * len(occurrences)
            raw += points
            items.append(
                {
                    "kind": kind,
                    "label": rule.label,
                    "label_en": rule.label_en,
                    "points_each": rule.points,
                    "count": len(occurrences),
                    "points": points,
                    "occurrences": [
                        {
                            "key": occurrence_key,
                            "facts": [
                                {
                                    "ref": fact.ref,
                                    "source": fact.source,
                                    "note": fact.note,
                                    "at": fact.at.isoformat() if fact.at else None,
                                }
                                for fact in occurrence
                            ],
                        }
                        for occurrence_key, occurrence in sorted(occurrences.items())
                    ],
                }
            )
        score = min(max(raw, 0), maximum)
        total += score
        lines.append(
            {
                "line": key,
                "label": label,
                "label_en": label_en,
                "max": maximum,
                "raw": raw,
                "score": score,
                "capped": score != raw,
                "items": items,
            }
        )
    total = total.quantize(Decimal("0.1"))
    return {"score": total, "stars": stars_for(total), "grade": grade_for(total), "lines": lines}


@dataclass(frozen=True)
class DueCallback:
    """One of the outlet's own-tier service callbacks whose due time has passed."""

    id: str
    due_at: datetime
    done_at: datetime | None


def missed_callback_facts(callbacks: list[DueCallback]) -> list[ScoreFact]:
    """未100%回访: a callback not made by its due time (made late, or not at all) costs the outlet."""
    facts = []
    for callback in callbacks:
        if callback.done_at is not None and callback.done_at <= callback.due_at:
            continue
        made = f"made late {callback.done_at.isoformat()}" if callback.done_at else "not made"
        facts.append(
            ScoreFact(
                "callback_missed",
                f"callback:{callback.id}",
                f"callback:{callback.id}",
                callback.due_at,
                "callbacks",
                f"due {callback.due_at.isoformat()}, {made}",
            )
        )
    return facts


def rank(entries: list[tuple[str, Decimal]]) -> dict[str, int]:
    """Competition ranking (1, 2, 2, 4) by score, highest first; ties share the rank."""
    ordered = sorted(entries, key=lambda e: (-e[1], e[0]))
    ranks, previous, current = {}, None, 0
    for position, (name, score) in enumerate(ordered, start=1):
        if score != previous:
            current, previous = position, score
        ranks[name] = current
    return ranks


def rank_outlets(scores: list[tuple[str, str, Decimal]]) -> dict[str, tuple[int, int]]:
    """Each outlet's (rank in its center, rank nationwide) from (outlet, center, score)."""
    nationwide = rank([(outlet, score) for outlet, _, score in scores])
    in_center = {}
    for center in {center for _, center, _ in scores}:
        in_center.update(rank([(outlet, score) for outlet, c, score in scores if c == center]))
    return {outlet: (in_center[outlet], nationwide[outlet]) for outlet, _, _ in scores}
