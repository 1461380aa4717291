"""The regional center's assessment (考核) and the regions' grades: plain Python like `scorecard`.

Seed 001 (第五章 三、服务的管理和支持) assesses the branch service departments monthly and once a
year: "服务部门月度考核", "每年对分公司和子公司的服务部门进行一次年终考核"; its indicators are of two
kinds, "效益类指标涉及：营业额、利润完毕情况等。信息类指标涉及：客户投诉次数、信息完整率等", and its
table "专业部室、子公司、分公司服务工作考核指标（信息类指标）" is the same 100-point table the outlet
scorecard uses (`scorecard.LINES`, `scorecard.RULES`). So a center's month is scored on that table
from the facts the center itself answers for:

- its own deadlines missed (`center_facts`, `domain.deadline_owner`): acceptance, phone reply, a
  complaint's plan and cycle, an on-site deadline no outlet was given: 未按规范做 −4 each; web
  forwarding (seed 001's "1小时反馈规则", 向相关服务组做出及时反馈): 反馈信息不及时 −2 each;
- every callback the center calls (its tenant's own and sampled tiers, tracking, complaint and
  care calls; not HQ's cross calls) not made by its due time: 未100%回访 −1 each;
- complaints of its region classified as the service network's (`own`): 投诉至集团公司 −3,
  至消协 −5 (客户投诉次数).

- every on-site arrival of the center's region that was late (a completed visit dispatch did not
  mark on time): 未按规范做 −4 each. Seed 001's 24小时上门服务 and 按预约时间准时登门服务 are norms
  of its "真诚服务" table, which assesses the branch service department for its region's service; a
  ticket's late on-site counts once (with a center-owned on-site miss of the same ticket too). The
  outlet's own card charges the same visit to the outlet (its work order); the center's assessment
  is a separate card, so a center whose arrivals are all late cannot score as one whose are all
  on time (before, the on-time share was reported but cost nothing: 0% on time scored 100).

A month with fewer completed jobs than `MIN_JOBS` (config QA_ASSESSMENT_MIN_JOBS) is not rated
(未评) and takes no rank: one job tells too little of a region's month.

Beside the score the assessment reports its KPIs (on-site on time, callbacks on time, satisfaction,
complaint counts), its benefit indicators (`benefit`: the service fees approved in the month from
settlement's claims, 营业额; profit is not computed) and, from seed 004
("将用户投诉的频数纳入各部门考核的内容（分清投诉原因、性质）"), the complaint counts per department
by cause and responsibility with each department's customer-opinion score
(`benefit.with_department_scores`).

Seed 003 grades regions: "根据竞争情况和公司资源把地区分为A,B,C三级" (by competition and company
resources) with no scale or figures: `region_grade` is the project's rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from services.qa import benefit, complaint_rules, scorecard

#: a center deadline missed -> the seed 001 rule it breaks (web forwarding is the feedback rule)
DEADLINE_RULES = {"forward": "late_feedback"}
DEFAULT_DEADLINE_RULE = "norm_breach"
UNASSIGNED = "unassigned"  # a complaint classified without a department
LATE_ARRIVAL_RULE = "norm_breach"  # 未按规范做 −4: 24小时上门服务 / 按预约时间准时登门服务 (seed 001)
#: 未评: a center's month with fewer completed jobs is not rated (config QA_ASSESSMENT_MIN_JOBS).
#: The seeds give no figure; the project's default: a region's month needs a few jobs to be compared.
MIN_JOBS = 3


def min_jobs(value: object) -> int:
    """QA_ASSESSMENT_MIN_JOBS: a whole number >= 1 (blank: `MIN_JOBS`); ValueError naming the key."""
    if value in (None, ""):
        return MIN_JOBS
    try:
        jobs = int(str(value).strip())
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise ValueError(f"QA_ASSESSMENT_MIN_JOBS: {value!r} is not a whole number of jobs >= 1")
    return jobs


@dataclass(frozen=True)
class DeadlineMiss:
    """A deadline the center owns, missed (a `center_facts` row)."""

    ref: str
    sla: str | None
    at: datetime
    ticket_id: str | None = None
    outlet_id: str | None = None  # the ticket's outlet, named but not charged


@dataclass(frozen=True)
class LateVisit:
    """A completed visit of the center's region whose on-site arrival was late."""

    visit_id: str
    ticket_id: str
    ref: str
    at: datetime
    outlet_id: str | None = None


@dataclass(frozen=True)
class ComplaintFact:
    ticket_id: str
    ref: str
    at: datetime
    cause: str | None
    responsibility: str | None
    level: str | None
    department: str | None


@dataclass(frozen=True)
class CenterMonth:
    """What a center's month is assessed on (the facts `assessing` reads from QA's tables)."""

    tenant_id: str
    month: str
    jobs: int = 0
    onsite_on_time: int = 0
    onsite_late: int = 0
    late_visits: tuple[LateVisit, ...] = ()  # the late ones, as evidence (at most `onsite_late`)
    #: the on-site SLA per tier of the center's tickets (QA's copy of intake's tier): {tier: (on time, visits)}
    onsite_by_tier: dict[str, tuple[int, int]] = field(default_factory=dict)
    misses: tuple[DeadlineMiss, ...] = ()
    callbacks: tuple[scorecard.DueCallback, ...] = ()  # the center's calls due by the assessment
    satisfaction: tuple[int, ...] = ()
    complaints: tuple[ComplaintFact, ...] = ()
    claims: tuple[benefit.ClaimFact, ...] = ()  # settlement's fee claims decided (or raised) in the month


def center_facts(month: CenterMonth) -> list[scorecard.ScoreFact]:
    """The score facts of a center's month: its own missed deadlines, late callbacks and own complaints."""
    facts = [
        scorecard.ScoreFact(
            DEADLINE_RULES.get(miss.sla or "", DEFAULT_DEADLINE_RULE),
            f"sla:{miss.ticket_id or miss.ref}:{miss.sla}",
            miss.ref,
            miss.at,
            "center_facts",
            f"{miss.sla} missed" + (f" (ticket's outlet {miss.outlet_id}, not charged)" if miss.outlet_id else ""),
        )
        for miss in month.misses
    ]
    facts += late_arrival_facts(month)
    facts += scorecard.missed_callback_facts(list(month.callbacks))
    for complaint in month.complaints:
        kind = complaint_rules.complaint_fact_kind(complaint.responsibility, complaint.level)
        if kind is not None:
            key = f"complaint:{complaint.ticket_id}"
            facts.append(scorecard.ScoreFact(kind, key, complaint.ref, complaint.at, "complaint", complaint.cause))
    return facts


def late_arrival_facts(month: CenterMonth) -> list[scorecard.ScoreFact]:
    """未按规范做 −4 for every late on-site arrival of the month: one per ticket (keyed as the
    ticket's on-site deadline, so a center-owned on-site miss of it is the same occurrence); late
    arrivals counted without their visits (`onsite_late` beyond `late_visits`) each count too."""
    facts = [
        scorecard.ScoreFact(
            LATE_ARRIVAL_RULE,
            f"sla:{late.ticket_id}:onsite",
            late.ref,
            late.at,
            "service_records",
            f"late on-site arrival, visit {late.visit_id}" + (f" by {late.outlet_id}" if late.outlet_id else ""),
        )
        for late in month.late_visits
    ]
    for n in range(len(month.late_visits), month.onsite_late):
        key = f"onsite-late:{month.tenant_id}:{month.month}:{n}"
        facts.append(scorecard.ScoreFact(LATE_ARRIVAL_RULE, key, key, None, "service_records", "late on-site arrival"))
    return facts


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / whole).quantize(Decimal("0.001")) if whole else None


def department_kpis(complaints: Sequence[ComplaintFact]) -> list[dict[str, Any]]:
    """Seed 004: complaint counts per department, with cause and responsibility (性质) told apart;
    most complaints first. A complaint classified without a department counts as ``unassigned``;
    one not classified yet has no department and is counted there too (cause ``None``)."""
    departments: dict[str, dict[str, Any]] = {}
    for complaint in complaints:
        name = complaint.department or UNASSIGNED
        row = departments.setdefault(
            name, {"department": name, "complaints": 0, "by_cause": {}, "by_responsibility": {}, "by_level": {}}
        )
        row["complaints"] += 1
        for key, value in (
            ("by_cause", complaint.cause),
            ("by_responsibility", complaint.responsibility),
            ("by_level", complaint.level),
        ):
            label = value or "unclassified"
            row[key][label] = row[key].get(label, 0) + 1
    total = sum(row["complaints"] for row in departments.values())
    rows = sorted(departments.values(), key=lambda r: (-r["complaints"], r["department"]))
    return benefit.with_department_scores([dict(row, share=_share(row["complaints"], total)) for row in rows])


def _tiers(by_tier: dict[str, tuple[int, int]]) -> dict[str, dict[str, Any]]:
    return {
        tier: {"on_time": on_time, "visits": visits, "share": _share(on_time, visits)}
        for tier, (on_time, visits) in sorted(by_tier.items())
    }


def kpis(month: CenterMonth) -> dict[str, Any]:
    """The counts the assessment reports beside its score (numerators and denominators, so a year
    adds them up): on-site visits on time, the center's callbacks made on time, satisfaction."""
    on_time = sum(1 for cb in month.callbacks if cb.done_at is not None and cb.done_at <= cb.due_at)
    visits = month.onsite_on_time + month.onsite_late
    answers = len(month.satisfaction)
    misses: dict[str, int] = {}
    for miss in month.misses:
        misses[miss.sla or "other"] = misses.get(miss.sla or "other", 0) + 1
    return {
        "jobs": month.jobs,
        "onsite_on_time": month.onsite_on_time,
        "onsite_visits": visits,
        "onsite_on_time_share": _share(month.onsite_on_time, visits),
        "onsite_by_tier": _tiers(month.onsite_by_tier),
        "callbacks_due": len(month.callbacks),
        "callbacks_on_time": on_time,
        "callbacks_on_time_share": _share(on_time, len(month.callbacks)),
        "satisfaction_answers": answers,
        "satisfaction_total": sum(month.satisfaction),
        "satisfaction_average": (Decimal(sum(month.satisfaction)) / answers).quantize(Decimal("0.01"))
        if answers
        else None,
        "complaints": len(month.complaints),
        "deadlines_missed": sum(misses.values()),
        "deadlines_missed_by_sla": misses,
        "benefit": benefit.benefit_kpis(month.claims, month.jobs),
    }


def assess_month(
    month: CenterMonth, thresholds: scorecard.Thresholds | None = None, minimum: int = MIN_JOBS
) -> dict[str, Any]:
    """A center's monthly assessment: seed 001's 100-point table over the center's own facts and
    its region's late arrivals (each deduction listing the facts behind it), its KPIs and its
    departments' complaint counts. A month with fewer completed jobs than `minimum`
    (QA_ASSESSMENT_MIN_JOBS) is not rated (未评): no score, stars, grade or rank."""
    limits = replace(thresholds or scorecard.DEFAULT, min_jobs=minimum)
    card = scorecard.monthly_card(center_facts(month), month.jobs, limits)
    return dict(card, kpis=kpis(month), departments=department_kpis(month.complaints))


_ADDED = (
    "jobs",
    "onsite_on_time",
    "onsite_visits",
    "callbacks_due",
    "callbacks_on_time",
    "satisfaction_answers",
    "satisfaction_total",
    "complaints",
    "deadlines_missed",
)


def assess_year(months: dict[str, dict[str, Any]], thresholds: scorecard.Thresholds | None = None) -> dict[str, Any]:
    """The year-end assessment (年终考核) from the year's monthly assessments ``{month: assessment}``.

    The seeds say the year is assessed, not how; the project's rule: the year's score is the mean
    of its rated months' scores (each month weighs the same, a month not rated counts for nothing,
    rather than as 100 or 0), each line the mean of its rated months' line scores; the year is not
    rated when no month is. The KPIs are the year's sums (shares recomputed from them) and the
    departments' complaint counts are added up."""
    rated = {m: a for m, a in sorted(months.items()) if a.get("rated")}
    lines = []
    for key, label, label_en, maximum in scorecard.LINES:
        scores = [next(line["score"] for line in a["lines"] if line["line"] == key) for a in rated.values()]
        mean = (
            (sum((Decimal(s) for s in scores), Decimal(0)) / len(scores)).quantize(Decimal("0.1")) if scores else None
        )
        lines.append({"line": key, "label": label, "label_en": label_en, "max": maximum, "score": mean})
    score: Decimal | None = None
    stars: int | None = None
    grade: str | None = None
    if rated:
        score = (sum((Decimal(a["score"]) for a in rated.values()), Decimal(0)) / len(rated)).quantize(Decimal("0.1"))
        stars, grade = scorecard.stars_for(score, thresholds), scorecard.grade_for(score, thresholds)
    totals = {key: sum(a["kpis"].get(key, 0) for a in months.values()) for key in _ADDED}
    missed: dict[str, int] = {}
    for a in months.values():
        for sla, n in a["kpis"].get("deadlines_missed_by_sla", {}).items():
            missed[sla] = missed.get(sla, 0) + n
    tiers: dict[str, tuple[int, int]] = {}
    for a in months.values():
        for tier, row in a["kpis"].get("onsite_by_tier", {}).items():
            on_time, visits = tiers.get(tier, (0, 0))
            tiers[tier] = (on_time + row["on_time"], visits + row["visits"])
    answers = totals["satisfaction_answers"]
    totals.update(
        onsite_on_time_share=_share(totals["onsite_on_time"], totals["onsite_visits"]),
        callbacks_on_time_share=_share(totals["callbacks_on_time"], totals["callbacks_due"]),
        satisfaction_average=(Decimal(totals["satisfaction_total"]) / answers).quantize(Decimal("0.01"))
        if answers
        else None,
        deadlines_missed_by_sla=missed,
        onsite_by_tier=_tiers(tiers),
        benefit=benefit.year_benefit(a["kpis"].get("benefit") or {} for a in months.values()),
    )
    return {
        "rated": bool(rated),
        "score": score,
        "stars": stars,
        "grade": grade,
        "jobs": totals["jobs"],
        "lines": lines,
        "months": {m: (a["score"] if a.get("rated") else None) for m, a in sorted(months.items())},
        "kpis": totals,
        "departments": _merge_departments(a.get("departments", []) for a in months.values()),
    }


def _merge_departments(lists: Iterable[Iterable[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for rows in lists:
        for row in rows:
            into = merged.setdefault(
                row["department"],
                {
                    "department": row["department"],
                    "complaints": 0,
                    "by_cause": {},
                    "by_responsibility": {},
                    "by_level": {},
                },
            )
            into["complaints"] += row["complaints"]
            for key in ("by_cause", "by_responsibility", "by_level"):
                for label, n in row[key].items():
                    into[key][label] = into[key].get(label, 0) + n
    total = sum(row["complaints"] for row in merged.values())
    rows = sorted(merged.values(), key=lambda r: (-r["complaints"], r["department"]))
    return benefit.with_department_scores([dict(row, share=_share(row["complaints"], total)) for row in rows])


def rank_centers(assessments: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """HQ's ranking of the rated centers (competition ranks 1, 2, 2, 4); the not rated take none."""
    return scorecard.rank([(tenant, a["score"]) for tenant, a in assessments.items() if a.get("rated")])


# ---------------------------------------------------------------- regional grading (seed 003)
#: the project's figures (seed 003 gives none): a region's index is the mean of its competition
#: and its resources, each recorded by HQ on 0-100; A at 70 or more, B at 40 or more, else C.
REGION_FLOORS = ((Decimal(70), "A"), (Decimal(40), "B"), (Decimal(0), "C"))


def region_floors(text: str | None) -> tuple[tuple[Decimal, str], ...]:
    """The A and B floors from config ``QA_REGION_GRADE_FLOORS`` ("70,40"); a bad value raises
    ValueError naming the key."""
    if text in (None, ""):
        return REGION_FLOORS
    return scorecard._floors("QA_REGION_GRADE_FLOORS", text, ("A", "B"), REGION_FLOORS)


def region_grade(
    competition: int, resources: int, floors: tuple[tuple[Decimal, str], ...] = REGION_FLOORS
) -> tuple[Decimal, str]:
    """Seed 003's A/B/C of a region from its competition (how contested the market is: 0 none,
    100 fierce) and the company's resources there (0 none, 100 ample): the index is their mean,
    graded against the floors. A contested region where the company has the means is A (service
    leads there); a quiet one with little is C."""
    for name, value in (("competition", competition), ("resources", resources)):
        if not 0 <= value <= 100:
            raise ValueError(f"{name}: {value} is not within 0..100")
    index = (Decimal(competition + resources) / 2).quantize(Decimal("0.1"))
    return index, next(grade for floor, grade in floors if index >= floor)
