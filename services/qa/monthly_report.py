"""The monthly center report (中心月报, seed 001: a center sends HQ its customer and product files and a
written report every month), HQ's roll-up of every center's month (HQ's analysis upward) and the
quarterly satisfaction report (seed 000: 顾客满意度 reported quarterly).

Plain Python: the figures come in as lists and dicts (QA's own rows, and what intake, parts and
settlement answered over RPC, collected by `report_collect`); this module only assembles them.
A section whose source did not answer is ``{"available": False, "error": ...}`` and the report
says so (未取得) instead of printing zeros.

Shares are counted, never averaged: a tier's on-time share is met / (met + met late + breached)
of its deadlines; the roll-up sums the centers' counts and divides once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from services.qa import complaint_rules, domain
from shared.clock import as_utc

#: SLA tiers in the order the report prints them, with their words
TIERS = {"local": "本地", "in_province": "省内", "out_of_province": "省外", "unplaced": "未定级"}
TICKET_KINDS = {"repair": "维修", "install": "安装", "maintenance": "保养", "complaint": "投诉", "inquiry": "咨询"}
MOVEMENT_KINDS = {"issue": "发放", "consumption": "消耗", "return": "旧件返回", "scrap": "报废"}
HQ_SCOPE = "HQ"  # the stored roll-ups' tenant: only HQ (all tenants) sees them
HQ_NAME = "全国"
UNCLASSIFIED = "unclassified"
QUARTER_END = {"03": 1, "06": 2, "09": 3, "12": 4}

_TENTH = Decimal("0.1")


# ---------------------------------------------------------------- periods
def month_title(month: str) -> str:
    year, mon = month.split("-")
    return f"{year}年{int(mon)}月"


def quarter_of(month: str) -> str:
    """2026-05 -> 2026-Q2."""
    year, mon = month.split("-")
    return f"{year}-Q{(int(mon) - 1) // 3 + 1}"


def quarter_months(quarter: str) -> list[str]:
    """2026-Q2 -> [2026-04, 2026-05, 2026-06]."""
    year, q = quarter.split("-Q")
    first = (int(q) - 1) * 3 + 1
    return [f"{year}-{m:02d}" for m in range(first, first + 3)]


def quarter_title(quarter: str) -> str:
    year, q = quarter.split("-Q")
    return f"{year}年第{q}季度"


def ends_quarter(month: str) -> str | None:
    """The quarter `month` closes (its last month), else None."""
    return quarter_of(month) if month.split("-")[1] in QUARTER_END else None


# ---------------------------------------------------------------- small rules
def share(part: int, whole: int) -> Decimal | None:
    """part of whole in %, one decimal; None when there is nothing to divide."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(_TENTH)


def pct_text(value: Decimal | str | None) -> str:
    return "—" if value is None else f"{value}%"


def missing(error: str) -> dict[str, Any]:
    return {"available": False, "error": error}


# ---------------------------------------------------------------- sections
def served(tickets: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Customers and products served: the month's requests, the distinct customers, and per
    product line its requests and customers (most requests first)."""
    tickets = list(tickets)
    lines: dict[str, dict[str, Any]] = {}
    kinds: dict[str, int] = {}
    files: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for t in tickets:
        key = (
            str(t.get("customer_id") or ""),
            str(t.get("product_line") or ""),
            str(t.get("model") or ""),
            str(t.get("serial_no") or ""),
        )
        entry = files.setdefault(
            key,
            {
                "customer_name": t.get("customer_name") or "",
                "phone": t.get("phone") or "",
                "product_line": t.get("product_line") or "",
                "model": t.get("model") or "",
                "serial_no": t.get("serial_no") or "",
                "tickets": 0,
            },
        )
        entry["tickets"] += 1
        line = lines.setdefault(t.get("product_line") or "未注明", {"tickets": 0, "customers": set(), "models": set()})
        line["tickets"] += 1
        line["customers"].add(t.get("customer_id"))
        if t.get("model"):
            line["models"].add(t["model"])
        kind = t.get("kind") or "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    rows = [
        {"product_line": name, "tickets": v["tickets"], "customers": len(v["customers"]), "models": len(v["models"])}
        for name, v in lines.items()
    ]
    rows.sort(key=lambda r: (-r["tickets"], r["product_line"]))
    return {
        "available": True,
        "tickets": len(tickets),
        "customers": len({t.get("customer_id") for t in tickets}),
        "closed": sum(1 for t in tickets if t.get("status") == "closed"),
        "by_kind": [
            {"kind": k, "label": TICKET_KINDS.get(k, k), "tickets": n}
            for k, n in sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "by_product": rows,
        "files": sorted(
            files.values(), key=lambda f: (f["customer_name"], f["product_line"], f["model"], f["serial_no"])
        ),
    }


def sla_by_tier(counts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """SLA deadlines of the month per tier (intake's report rows: met, met_late, breached, at_risk,
    open): the on-time share of the deadlines that fell due and were decided."""
    tiers: dict[str, dict[str, int]] = {}
    for row in counts:
        tier = row.get("tier") or "unplaced"
        cell = tiers.setdefault(tier, {"met": 0, "met_late": 0, "breached": 0, "at_risk": 0, "open": 0})
        for key in cell:
            cell[key] += int(row.get(key) or 0)
    return {"available": True, "rows": _tier_rows(tiers)}


def _tier_rows(tiers: Mapping[str, Mapping[str, int]]) -> list[dict[str, Any]]:
    order = list(TIERS) + sorted(set(tiers) - set(TIERS))
    rows = []
    total = {"met": 0, "met_late": 0, "breached": 0, "at_risk": 0, "open": 0}
    for tier in order:
        if tier not in tiers:
            continue
        cell = dict(tiers[tier])
        for key in total:
            total[key] += cell.get(key, 0)
        rows.append(_tier_row(tier, TIERS.get(tier, tier), cell))
    if rows:
        rows.append(_tier_row("all", "合计", total))
    return rows


def _tier_row(tier: str, label: str, cell: Mapping[str, int]) -> dict[str, Any]:
    decided = cell.get("met", 0) + cell.get("met_late", 0) + cell.get("breached", 0)
    return dict(cell, tier=tier, label=label, decided=decided, on_time_pct=share(cell.get("met", 0), decided))


def onsite_by_tier(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """On-site arrivals per tier (QA's visits: on time, late, not recorded): the on-time share of
    the arrivals recorded."""
    tiers: dict[str, dict[str, int]] = {}
    for row in rows:
        tier = str(row.get("tier")) if row.get("tier") in TIERS else "unplaced"
        cell = tiers.setdefault(tier, {"visits": 0, "on_time": 0, "late": 0, "not_recorded": 0})
        for key in cell:
            cell[key] += int(row.get(key) or 0)
    out, total = [], {"visits": 0, "on_time": 0, "late": 0, "not_recorded": 0}
    for tier in TIERS:
        if tier in tiers:
            cell = tiers[tier]
            for key in total:
                total[key] += cell[key]
            out.append(_onsite_row(tier, TIERS[tier], cell))
    if out:
        out.append(_onsite_row("all", "合计", total))
    return {"available": True, "rows": out}


def _onsite_row(tier: str, label: str, cell: Mapping[str, int]) -> dict[str, Any]:
    return dict(cell, tier=tier, label=label, on_time_pct=share(cell["on_time"], cell["on_time"] + cell["late"]))


def complaints(causes: Iterable[str | None], cycle: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Complaints by cause, most first (the Pareto: share, cumulative share, the vital few up to
    80%); an unclassified complaint counts as 未分类."""
    counts: dict[str, int] = {}
    for cause in causes:
        key = cause or UNCLASSIFIED
        counts[key] = counts.get(key, 0) + 1
    rows = []
    for row in complaint_rules.pareto(counts):
        label = "未分类" if row["cause"] == UNCLASSIFIED else row["label"]
        rows.append(
            dict(
                row,
                label=label,
                share_pct=(row["share"] * 100).quantize(_TENTH),
                cumulative_pct=(row["cumulative"] * 100).quantize(_TENTH),
            )
        )
    return {"available": True, "total": sum(counts.values()), "pareto": rows, "cycle": dict(cycle or {})}


NOTE_FIELDS = {
    "technical": "技术问题",
    "product": "产品问题",
    "customer_opinion": "客户意见",
    "competitors": "竞争对手动态",
}
"""seed 001: 提交书面定性反映售后服务中的技术问题、产品问题、客户意见和竞争对手动态 (a center's
monthly written report; HQ writes its analysis in the same four lines)"""


def written(notes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The written part: the four lines as written (empty: 未填写), who wrote them and when."""
    notes = notes or {}
    return {
        "available": True,
        "written": any(notes.get(k) for k in NOTE_FIELDS),
        "lines": [{"key": k, "label": label, "text": notes.get(k) or ""} for k, label in NOTE_FIELDS.items()],
        "written_by": notes.get("written_by"),
        "written_at": notes.get("written_at"),
    }


def callbacks(figures: Iterable[Mapping[str, Any]], satisfaction: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Callbacks of the month (planned, made on time or late, overdue, negative) and the month's
    satisfaction answers (average of 1-5, how many gave each score)."""
    keys = ("planned", "done_on_time", "done_late", "overdue", "open", "negative")
    made = dict.fromkeys(keys, 0)
    for f in figures:
        for key in keys:
            made[key] += int(f.get(key) or 0)
    done = made["done_on_time"] + made["done_late"]
    return {
        "available": True,
        **made,
        "done": done,
        "completion_pct": share(done, done + made["overdue"]),
        **satisfaction_summary(satisfaction),
    }


def satisfaction_summary(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Answers, negative answers, the average of 1-5 (two decimals) and the count of each score."""
    answers, total, negative = 0, 0, 0
    scores = dict.fromkeys(range(1, 6), 0)
    for row in rows:
        answers += int(row.get("answers") or 0)
        total += int(row.get("total") or 0)
        negative += int(row.get("negative") or 0)
        for score in scores:
            scores[score] += int(row.get(f"s{score}") or 0)
    average = (Decimal(total) / Decimal(answers)).quantize(Decimal("0.01")) if answers else None
    satisfied = scores[4] + scores[5]
    return {
        "answers": answers,
        "average": average,
        "negative": negative,
        "satisfied_pct": share(satisfied, answers),
        "scores": {str(k): v for k, v in scores.items()},
    }


def outlets(cards: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> dict[str, Any]:
    """The outlets' standing in the month's published scorecards: the rated by score (grade and
    stars), the not rated (未评) apart, and the count per grade."""
    rated: list[dict[str, Any]] = []
    not_rated: list[dict[str, Any]] = []
    grades: dict[str, int] = {}
    for card in cards:
        row = {
            "outlet_id": card["outlet_id"],
            "name": names.get(card["outlet_id"], card["outlet_id"]),
            "jobs": card.get("jobs") or 0,
        }
        if card.get("rated"):
            row.update(score=card.get("score"), stars=card.get("stars"), grade=card.get("grade"))
            row["rank"] = card.get("rank_in_tenant")
            rated.append(row)
            grade = str(card.get("grade"))
            grades[grade] = grades.get(grade, 0) + 1
        else:
            not_rated.append(row)
    rated.sort(key=lambda r: (-(Decimal(str(r["score"])) if r["score"] is not None else Decimal(-1)), r["outlet_id"]))
    not_rated.sort(key=lambda r: r["outlet_id"])
    return {
        "available": True,
        "published": bool(rated or not_rated),
        "rated": rated,
        "not_rated": not_rated,
        "grades": {g: grades[g] for g in sorted(grades, key=str)},
    }


def assessment(row: Mapping[str, Any] | None) -> dict[str, Any]:
    """The center's own assessment of the month (HQ's ranking of centers, `assessing`): score, stars,
    grade and rank, 未评 when not rated, 未考核 when HQ has not assessed the month yet."""
    if row is None:
        return {"available": True, "assessed": False}
    return {
        "available": True,
        "assessed": True,
        "rated": bool(row.get("rated")),
        "score": row.get("score"),
        "stars": row.get("stars"),
        "grade": row.get("grade"),
        "rank": row.get("rank"),
    }


def parts(movements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Parts moved in the month by kind (发放, 消耗, 旧件返回, 报废): movements and quantities."""
    counts: dict[str, list[int]] = {}  # kind: [movements, quantity]
    numbers: dict[str, set[str]] = {}
    for m in movements:
        kind = str(m.get("kind"))
        if kind not in MOVEMENT_KINDS:
            continue
        cell = counts.setdefault(kind, [0, 0])
        cell[0] += 1
        cell[1] += abs(int(m.get("quantity") or 0))
        numbers.setdefault(kind, set()).add(str(m.get("part_no")))
    rows = [
        {
            "kind": kind,
            "label": label,
            "movements": counts[kind][0],
            "quantity": counts[kind][1],
            "part_numbers": len(numbers[kind]),
        }
        for kind, label in MOVEMENT_KINDS.items()
        if kind in counts
    ]
    return {"available": True, "rows": rows}


def _yuan(value: Any) -> Decimal:
    return Decimal(str(value or "0"))


def money(claims: Iterable[Mapping[str, Any]], statements: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Service fees of the month: claims (count, claimed, approved, per status) and the outlets'
    statements (count, total, paid, outstanding), in yuan."""
    claims, statements = list(claims), list(statements)
    by_status: dict[str, int] = {}
    for c in claims:
        by_status[c.get("status") or "?"] = by_status.get(c.get("status") or "?", 0) + 1
    return {
        "available": True,
        "claims": len(claims),
        "claimed": sum((_yuan(c.get("claimed_total")) for c in claims), Decimal("0.00")),
        "approved": sum((_yuan(c.get("approved")) for c in claims if c.get("approved")), Decimal("0.00")),
        "claims_by_status": dict(sorted(by_status.items())),
        "statements": len(statements),
        "statement_total": sum((_yuan(s.get("total")) for s in statements), Decimal("0.00")),
        "paid": sum((_yuan(s.get("paid")) for s in statements), Decimal("0.00")),
        "outstanding": sum((_yuan(s.get("outstanding")) for s in statements), Decimal("0.00")),
    }


# ---------------------------------------------------------------- the reports
SECTIONS = ("served", "sla", "onsite", "complaints", "callbacks", "outlets", "parts", "money")


def center_month(center_id: str, center_name: str, month: str, sections: Mapping[str, Any]) -> dict[str, Any]:
    """One center's month: its sections (each from its function above, or `missing`) and the
    headline figures HQ compares."""
    report: dict[str, Any] = {
        "kind": "monthly",
        "tenant_id": center_id,
        "center_name": center_name,
        "period": month,
        "title": f"{center_name} {month_title(month)}服务月报",
    }
    report.update({name: sections.get(name) or missing("not collected") for name in SECTIONS})
    report["headline"] = headline(report)
    report["written"] = written(sections.get("written"))
    report["assessment"] = sections.get("assessment") or assessment(None)
    report["headline"].update(_assessed(report["assessment"]))
    return report


def _assessed(part: Mapping[str, Any]) -> dict[str, Any]:
    if not part.get("assessed"):
        return {"assessment": "未考核", "assessment_rank": None}
    if not part.get("rated"):
        return {"assessment": "未评", "assessment_rank": None}
    return {"assessment": f"{part['score']}（{part['grade']}）", "assessment_rank": part.get("rank")}


def _total_row(section: Mapping[str, Any]) -> Mapping[str, Any]:
    rows = section.get("rows") or []
    return rows[-1] if rows and rows[-1]["tier"] == "all" else {}


def headline(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of one center (or of the country) side by side in HQ's roll-up: counts, and
    the shares recomputed from them."""
    served_, sla_, onsite_ = report["served"], report["sla"], report["onsite"]
    out: dict[str, Any] = {
        "tickets": served_.get("tickets") if served_.get("available") else None,
        "customers": served_.get("customers") if served_.get("available") else None,
    }
    tiers = {r["tier"]: r for r in sla_.get("rows") or []} if sla_.get("available") else {}
    for tier in list(TIERS)[:3] + ["all"]:
        row = tiers.get(tier) or {}
        out[f"sla_{tier}_met"] = row.get("met", 0)
        out[f"sla_{tier}_decided"] = row.get("decided", 0)
        out[f"sla_{tier}_pct"] = row.get("on_time_pct")
    total = _total_row(onsite_) if onsite_.get("available") else {}
    out["onsite_on_time"] = total.get("on_time", 0)
    out["onsite_recorded"] = total.get("on_time", 0) + total.get("late", 0)
    out["onsite_pct"] = total.get("on_time_pct")
    out["complaints"] = report["complaints"].get("total") if report["complaints"].get("available") else None
    cb = report["callbacks"]
    for key in ("planned", "done", "overdue", "answers", "negative"):
        out[f"callbacks_{key}" if key in ("planned", "done", "overdue") else key] = cb.get(key)
    out["callbacks_pct"] = cb.get("completion_pct")
    out["satisfaction_total"] = sum(int(k) * v for k, v in (cb.get("scores") or {}).items())
    out["satisfaction"] = cb.get("average")
    o = report["outlets"]
    out["outlets_rated"] = len(o.get("rated") or [])
    out["outlets_not_rated"] = len(o.get("not_rated") or [])
    p = {r["kind"]: r["quantity"] for r in report["parts"].get("rows") or []}
    out["parts_consumed"] = p.get("consumption", 0) if report["parts"].get("available") else None
    m = report["money"]
    out["claimed"] = m.get("claimed") if m.get("available") else None
    out["statement_total"] = m.get("statement_total") if m.get("available") else None
    return out


_SUMMED: tuple[str, ...] = (
    ("tickets", "customers", "complaints", "callbacks_planned", "callbacks_done", "callbacks_overdue")
    + ("answers", "negative", "satisfaction_total", "outlets_rated", "outlets_not_rated", "parts_consumed")
    + ("onsite_on_time", "onsite_recorded", "claimed", "statement_total")
    + tuple(f"sla_{t}_{k}" for t in list(TIERS)[:3] + ["all"] for k in ("met", "decided"))
)
_YUAN = ("claimed", "statement_total")


def country(headlines: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The country's total (全国合计): the centers' counts summed (a center whose figure is not
    available adds nothing), the shares divided once from the sums, never averaged."""
    headlines = list(headlines)
    out: dict[str, Any] = {}
    for key in _SUMMED:
        values = [h[key] for h in headlines if h.get(key) is not None]
        out[key] = sum(values, Decimal(0) if key in _YUAN else 0) if values else None
    for tier in list(TIERS)[:3] + ["all"]:
        out[f"sla_{tier}_pct"] = share(out[f"sla_{tier}_met"] or 0, out[f"sla_{tier}_decided"] or 0)
    out["onsite_pct"] = share(out["onsite_on_time"] or 0, out["onsite_recorded"] or 0)
    done, overdue = out["callbacks_done"] or 0, out["callbacks_overdue"] or 0
    out["callbacks_pct"] = share(done, done + overdue)
    answers = out["answers"] or 0
    out["satisfaction"] = (Decimal(out["satisfaction_total"]) / answers).quantize(Decimal("0.01")) if answers else None
    return out


def hq_month(
    month: str, centers: Iterable[Mapping[str, Any]], notes: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """HQ's roll-up: every center's headline side by side (in the centers' order) and the country's
    total; each center's complaints merged into one Pareto; HQ's written analysis (`notes`) and
    whether each center wrote its part."""
    centers = list(centers)
    causes: dict[str, int] = {}
    for c in centers:
        for row in c["complaints"].get("pareto") or []:
            causes[row["cause"]] = causes.get(row["cause"], 0) + row["count"]
    merged = complaints(cause for cause, n in causes.items() for _ in range(n))
    return {
        "kind": "monthly",
        "tenant_id": HQ_SCOPE,
        "center_name": HQ_NAME,
        "period": month,
        "title": f"全国服务月报（汇总） {month_title(month)}",
        "centers": [{"tenant_id": c["tenant_id"], "center_name": c["center_name"], **c["headline"]} for c in centers],
        "total": country(c["headline"] for c in centers),
        "complaints": merged,
        "missing": sorted(
            {f"{c['center_name']}: {name}" for c in centers for name in SECTIONS if not c[name].get("available")}
        ),
        "written": written(notes),
        "centers_written": [
            {"center_name": c["center_name"], "written": bool((c.get("written") or {}).get("written"))} for c in centers
        ],
    }


def quarterly(quarter: str, centers: Iterable[tuple[str, str]], figures: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The quarterly satisfaction report: per center and month of the quarter its answers,
    average and negative answers, and the quarter's; with more than one center the country's too.
    `figures`: QA's satisfaction rows (tenant_id, month, answers, total, negative, s1..s5)."""
    months = quarter_months(quarter)
    figures = [f for f in figures if f.get("month") in months]
    centers = list(centers)
    rows = []
    for tenant, name in centers:
        mine = [f for f in figures if f.get("tenant_id") == tenant]
        row: dict[str, Any] = {"tenant_id": tenant, "center_name": name}
        for month in months:
            row[month] = satisfaction_summary(f for f in mine if f["month"] == month)
        row["quarter"] = satisfaction_summary(mine)
        rows.append(row)
    if len(centers) > 1:
        ids = {t for t, _ in centers}
        inside = [f for f in figures if f.get("tenant_id") in ids]
        total: dict[str, Any] = {"tenant_id": HQ_SCOPE, "center_name": "全国合计"}
        for month in months:
            total[month] = satisfaction_summary(f for f in inside if f["month"] == month)
        total["quarter"] = satisfaction_summary(inside)
        rows.append(total)
    scope = centers[0] if len(centers) == 1 else (HQ_SCOPE, HQ_NAME)
    return {
        "kind": "quarterly",
        "tenant_id": scope[0],
        "center_name": scope[1],
        "period": quarter,
        "months": months,
        "title": f"{scope[1]} {quarter_title(quarter)}顾客满意度报告",
        "rows": rows,
    }


# ---------------------------------------------------------------- report jobs (report_jobs.py)
def rollup_current(generated_at: datetime, month: str) -> bool:
    """A stored roll-up is the month's when it was made after the month ended (one made during
    the month, by a request for the month then, is not)."""
    return as_utc(generated_at) >= domain.month_bounds(month)[1]


def rollup_fresh(finished_at: datetime | None, now: datetime, seconds: float) -> bool:
    """A roll-up job's file is served again for `seconds` after it was made."""
    return finished_at is not None and as_utc(finished_at) >= now - timedelta(seconds=seconds)


def job_total(centers: int, quarter: str | None) -> int:
    """How many reports a month's request covers: each center's month and HQ's roll-up, and as
    many quarterly reports when the month closes a quarter (a roll-up job: quarter None)."""
    return (centers + 1) * (2 if quarter else 1)
