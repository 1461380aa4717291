"""Training plans and the training an exam needs (plain Python, no database).

Seed 001 (五、培训): HQ's market department organises the regular training, 每年组织3-4期学习班
(3 to 4 classes a year); each class ends with an exam, 考试不合格者不可上岗. Seed 003 (制定“培训
计划”): the annual plan (年度计划), the special plans for a new product (公司有新产品新计划时的配套
培训项目) and the regional plan of each center (区域计划). Seed 004: 新产品培训于上市之前 (the
new-product training comes before the launch).

So a plan is per year, product line and center (an HQ-wide plan is one per center), with its
planned sessions; the sessions held under it name it; and an exam for a line in a year the
technician's center has a plan for requires that the technician attended one of the plan's
sessions on or before the exam day (`CERTIFICATION_EXAM_TRAINING=always`: an attended session
of the line is required even where no plan exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from shared import tenancy
from shared.errors import Forbidden, ValidationFailed

KINDS = ("annual", "regional", "new_product", "special")
KIND_NAMES = {"annual": "年度计划", "regional": "区域计划", "new_product": "新产品培训", "special": "特殊项目培训"}
SESSIONS_PER_YEAR = (3, 4)  # seed 001: 每年组织3-4期学习班
HQ_KINDS = ("annual", "new_product", "special")  # HQ's department plans these (seed 001, 003)
CENTER_KINDS = ("regional", "special")  # a center plans its region's training (seed 003: 区域计划)
EXAM_MODES = ("plan", "always")


@dataclass(frozen=True)
class PlannedSession:
    title: str
    planned_on: date
    location: str | None = None


@dataclass(frozen=True)
class PlanDraft:
    """A plan as asked for (before it is stored)."""

    year: int
    kind: str
    product_line: str
    sessions: tuple[PlannedSession, ...]
    tenant_id: str | None = None  # None: HQ-wide (HQ only)
    launch_on: date | None = None


@dataclass(frozen=True)
class HeldSession:
    """A training session as the exam rule reads it."""

    id: str
    product_line: str
    held_on: date
    plan_id: str | None
    attendees: tuple[str, ...]


# ------------------------------------------------------------------ plans
def check_plan(draft: PlanDraft, role: str) -> list[str]:
    """Refuse a plan the seeds do not allow (422 naming the field, 403 for the wrong role);
    return the warnings of one that is allowed but off the seed's figures."""
    if draft.kind not in KINDS:
        raise ValidationFailed("unknown plan kind", {"kind": [f"one of {', '.join(KINDS)}"]})
    allowed = HQ_KINDS + ("regional",) if role == tenancy.HQ else CENTER_KINDS
    if draft.kind not in allowed:
        raise Forbidden(
            f"a {role} does not plan {draft.kind} training",
            {"kind": [f"{role} plans {', '.join(allowed)}"]},
        )
    if draft.tenant_id is None and draft.kind == "regional":
        raise ValidationFailed("a regional plan is one center's", {"tenant_id": ["name the center of the plan"]})
    errors: dict[str, list[str]] = {}
    dates = [s.planned_on for s in draft.sessions]
    if not dates:
        errors["sessions"] = ["plan at least one session"]
    off_year = sorted({d.isoformat() for d in dates if d.year != draft.year})
    if off_year:
        errors.setdefault("sessions", []).append(f"dates outside {draft.year}: {', '.join(off_year)}")
    twice = sorted({d.isoformat() for d in dates if dates.count(d) > 1})
    if twice:
        errors.setdefault("sessions", []).append(f"two sessions on one day: {', '.join(twice)}")
    low, high = SESSIONS_PER_YEAR
    count_note = f"{len(dates)} sessions planned; seed 001: 每年组织{low}-{high}期学习班"
    if draft.kind == "annual" and dates and not low <= len(dates) <= high:
        errors.setdefault("sessions", []).append(f"an annual plan has {low} to {high} sessions ({count_note})")
    if draft.kind == "new_product":
        if draft.launch_on is None:
            errors["launch_on"] = ["a new-product plan names the product's launch date"]
        else:
            late = sorted(d.isoformat() for d in dates if d >= draft.launch_on)
            if late:
                errors.setdefault("sessions", []).append(
                    f"seed 004: 新产品培训于上市之前; on or after the launch {draft.launch_on}: {', '.join(late)}"
                )
    elif draft.launch_on is not None:
        errors["launch_on"] = ["only a new-product plan has a launch date"]
    if errors:
        raise ValidationFailed("the training plan does not hold", errors)
    warnings = []
    if draft.kind == "regional" and not low <= len(dates) <= high:
        warnings.append(count_note)
    return warnings


def year_warnings(year: int, plans: Iterable[tuple[str, int]], lines: Iterable[str]) -> list[str]:
    """For one center's year: each product line whose planned regular sessions (annual and regional
    plans, given as (line, sessions)) are not the seed's 3–4."""
    low, high = SESSIONS_PER_YEAR
    planned: dict[str, int] = {line: 0 for line in lines}
    for line, n in plans:
        planned[line] = planned.get(line, 0) + n
    return [
        f"{year} {line}: {n} sessions planned, seed 001 asks {low}-{high} a year"
        for line, n in sorted(planned.items())
        if not low <= n <= high
    ]


def progress(planned: Sequence[PlannedSession], held: Sequence[date], today: date) -> dict[str, Any]:
    """Planned against held: how many are due by today and how many of those are not held yet."""
    due = sum(1 for s in planned if s.planned_on <= today)
    held_by_today = sum(1 for d in held if d <= today)
    return {
        "planned": len(planned),
        "held": len(held),
        "due": due,
        "behind": max(0, due - held_by_today),
    }


def session_fits_plan(plan_line: str, plan_year: int, product_line: str, held_on: date) -> dict[str, list[str]]:
    """The fields a session recorded under a plan gets wrong (empty: it fits)."""
    errors: dict[str, list[str]] = {}
    if product_line != plan_line:
        errors["product_line"] = [f"the plan trains {plan_line}"]
    if held_on.year != plan_year:
        errors["held_on"] = [f"the plan is for {plan_year}"]
    return errors


# ------------------------------------------------------------------ the training an exam needs
def session_for_exam(
    technician_id: str,
    product_line: str,
    taken_on: date,
    named: HeldSession | None,
    named_id: str | None,
    attended: Sequence[HeldSession],
    plan_ids: Sequence[str],
    mode: str = "plan",
) -> str | None:
    """The training session an exam rests on, or a 422 naming the field.

    `named`: the session the exam names (None when it names one the caller cannot see);
    `attended`: the technician's sessions of the line; `plan_ids`: the technician's center's
    plans for the line in the exam's year. Required where such a plan exists (or always, in
    mode "always"): attendance of one of the plan's sessions on or before the exam day."""
    required = bool(plan_ids) or mode == "always"
    if named_id is not None:
        if named is None:
            raise ValidationFailed("unknown training session", {"session_id": ["no such session"]})
        if named.product_line != product_line:
            raise ValidationFailed(
                "session for another product line", {"session_id": [f"the session trained {named.product_line}"]}
            )
        if technician_id not in named.attendees:
            raise ValidationFailed(
                "technician did not attend",
                {"technician_id": ["not an attendee of the session"], "session_id": ["not attended"]},
            )
        if named.held_on > taken_on:
            raise ValidationFailed("training after the exam", {"session_id": [f"held {named.held_on}, after the exam"]})
        if plan_ids and named.plan_id not in plan_ids:
            raise ValidationFailed(
                "not a session of the plan",
                {"session_id": [f"not a session of the {taken_on.year} {product_line} training plan"]},
            )
        return named.id
    if not required:
        return None
    fitting = [
        s
        for s in attended
        if s.product_line == product_line
        and technician_id in s.attendees
        and s.held_on <= taken_on
        and (not plan_ids or s.plan_id in plan_ids)
    ]
    if not fitting:
        where = f"the {taken_on.year} {product_line} training plan" if plan_ids else f"a {product_line} training"
        raise ValidationFailed(
            "the exam needs the training before it",
            {"session_id": [f"{technician_id} attended no session of {where} by {taken_on}"]},
        )
    return max(fitting, key=lambda s: (s.held_on, s.id)).id
