"""The monthly outlet scorecard of seed 001 (服务工作考核指标): the 100-point table, its lines and
their rules, the facts that move them, stars, grades and ranking.

Plain Python like `domain`: the service feeds it the month's facts and stores what it computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

Name = TypeVar("Name", int, str)  # what a floor gives: stars (int) or a grade (str)

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

# Stars and grades: the seeds name them without figures. Seed 004: "实行服务达标、星级评定、竞争上岗"
# (star rating, no thresholds); seed 003: "根据竞争情况和公司资源把地区分为A,B,C三级" (regions graded
# A/B/C by competition and resources, not by a score); seed 001 scores out of 100 ("服务结果为100%
# 客户满意"). So the floors are configuration (config QA_STAR_FLOORS, QA_GRADE_FLOORS); these are
# the project's defaults, not the seeds'.
STARS = ((Decimal(95), 5), (Decimal(85), 4), (Decimal(75), 3), (Decimal(60), 2), (Decimal(0), 1))
GRADES = ((Decimal(90), "A"), (Decimal(75), "B"), (Decimal(0), "C"))
#: 未评: fewer completed jobs than this in a month and the outlet is not rated (config
#: QA_SCORECARD_MIN_JOBS). The seeds give no figure; a month without a job has nothing to score.
MIN_JOBS = 1


@dataclass(frozen=True)
class Thresholds:
    """The floors of the stars (5 down to 2; below the last, 1 star) and grades (A, B; below, C),
    and the jobs a month needs to be rated."""

    stars: tuple[tuple[Decimal, int], ...] = STARS
    grades: tuple[tuple[Decimal, str], ...] = GRADES
    min_jobs: int = MIN_JOBS

    @classmethod
    def from_config(cls, star_floors: str | None, grade_floors: str | None, min_jobs: object = None) -> Thresholds:
        """From config strings ``"95,85,75,60"`` and ``"90,75"``; a bad value raises ValueError
        naming its key (the service does not start scoring with it)."""
        stars = _floors("QA_STAR_FLOORS", star_floors, (5, 4, 3, 2), STARS)
        grades = _floors("QA_GRADE_FLOORS", grade_floors, ("A", "B"), GRADES)
        try:
            jobs = MIN_JOBS if min_jobs in (None, "") else int(str(min_jobs))
        except ValueError:
            jobs = -1
        if jobs < 0:
            raise ValueError(f"QA_SCORECARD_MIN_JOBS: {min_jobs!r} is not a whole number of jobs >= 0")
        return cls(stars, grades, jobs)


def _floors(
    key: str, text: str | None, names: tuple[Name, ...], default: tuple[tuple[Decimal, Name], ...]
) -> tuple[tuple[Decimal, Name], ...]:
    if text in (None, ""):
        return default
    try:
        floors = [Decimal(part.strip()) for part in str(text).split(",")]
    except ArithmeticError:
        floors = []
    ok = len(floors) == len(names) and all(0 < f <= 100 for f in floors)
    if not ok or any(a <= b for a, b in zip(floors, floors[1:])):
        raise ValueError(f"{key}: {text!r} is not {len(names)} descending scores within (0, 100]")
    return tuple(zip(floors, names)) + ((Decimal(0), default[-1][1]),)


DEFAULT = Thresholds()


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


def stars_for(score: Decimal, thresholds: Thresholds | None = None) -> int:
    return next(stars for floor, stars in (thresholds or DEFAULT).stars if score >= floor)


def grade_for(score: Decimal, thresholds: Thresholds | None = None) -> str:
    return next(grade for floor, grade in (thresholds or DEFAULT).grades if score >= floor)


def compute_scorecard(facts: list[ScoreFact], thresholds: Thresholds | None = None) -> dict[str, Any]:
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
    stars, grade = stars_for(total, thresholds), grade_for(total, thresholds)
    return {"score": total, "stars": stars, "grade": grade, "lines": lines}


def monthly_card(facts: list[ScoreFact], jobs: int, thresholds: Thresholds | None = None) -> dict[str, Any]:
    """An outlet's month: the scorecard of its facts when it has enough jobs to be rated (``rated``);
    else 未评, not rated: its lines and facts stay as evidence, but it has no score, stars or grade
    and takes no rank (a month with no job is not a perfect 100)."""
    thresholds = thresholds or DEFAULT
    card = compute_scorecard(facts, thresholds)
    rated = jobs >= thresholds.min_jobs
    if not rated:
        card.update(score=None, stars=None, grade=None)
    return dict(card, rated=rated, jobs=jobs)


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
