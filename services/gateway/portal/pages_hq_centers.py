"""HQ's ranking of the regional centers (a mixin of `HqNetworkPages`; role ``hq``, every tenant).

- ``/hq/centers?period=month&month=YYYY-MM`` or ``?period=year&year=YYYY``: the centers' monthly
  assessment (服务部门月度考核) or year-end assessment (年终考核) of seed 001, as QA stored it
  (``qa.center_assessments``, ``GET /api/v1/qa/center-assessments``): ranked by score, each center
  by name with its grade A/B/C, stars, jobs, on-time shares, satisfaction, complaints, its service
  turnover (营业额, the approved fees) and its region's grade (seed 003, ``qa.region_grades``); the
  centers QA did not rate (未评: too few jobs) apart. A wrong month or year is named next to its
  field.
- ``POST /hq/centers/assess``: HQ assesses every center for the chosen period now
  (``qa.assess_centers``, ``POST /api/v1/qa/center-assessments``), then sees the ranking.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from services.gateway.portal.forms import Form
from services.gateway.portal.pages_outlet_standing import MONTHS, months_before
from services.gateway.portal.web import page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError
from shared.rpc import RpcProxy

HQ = ("hq",)
FIELDS = ("period", "month", "year")
PERIODS = (("month", "月度考核"), ("year", "年终考核"))


def _number(value: Any) -> Decimal | None:
    try:
        return None if value is None else Decimal(str(value))
    except InvalidOperation:
        return None


def percent(share: Any) -> str:
    """0.857 → '85.7%'; no figure → '—'."""
    number = _number(share)
    return "—" if number is None else f"{(number * 100).quantize(Decimal('0.1'))}%"


def yuan(amount: Any) -> str:
    number = _number(amount)
    return "—" if number is None else f"¥{number.quantize(Decimal('0.01')):,}"


def center_row(assessment: dict[str, Any], region_grades: dict[str, str]) -> dict[str, Any]:
    """One center's line of the ranking, its figures as the page shows them."""
    kpis = assessment.get("kpis") or {}
    money = kpis.get("benefit") or {}
    satisfaction = kpis.get("satisfaction_average")
    return {
        "tenant_id": assessment["tenant_id"],
        "rank": assessment.get("rank"),
        "rated": bool(assessment.get("rated")),
        "score": assessment.get("score"),
        "grade": assessment.get("grade"),
        "stars": int(assessment.get("stars") or 0),
        "jobs": assessment.get("jobs") or 0,
        "onsite": percent(kpis.get("onsite_on_time_share")),
        "callbacks": percent(kpis.get("callbacks_on_time_share")),
        "satisfaction": "—" if satisfaction is None else str(satisfaction),
        "complaints": kpis.get("complaints") or 0,
        "turnover": yuan(money.get("turnover")),
        "per_job": yuan(money.get("turnover_per_job")),
        "region_grade": region_grades.get(assessment["tenant_id"]),
    }


def periods(page: Any) -> tuple[list[str], list[str]]:
    """The months (this one and the 11 before) and years (this one and the last) HQ may choose."""
    today = page.now.astimezone(LOCAL_TZ).date()
    months = [f"{today.year:04d}-{today.month:02d}"] + months_before(today, MONTHS - 1)
    return months, [str(today.year), str(today.year - 1)]


def chosen(form: Form, months: list[str], years: list[str]) -> str | None:
    """The period asked (YYYY-MM or YYYY), errors next to the fields; the month before by default."""
    kind = form.text("period") or "month"
    if kind not in dict(PERIODS):
        form.add_error("period", "请选择月度考核或年终考核")
        return None
    if kind == "year":
        year = form.text("year") or years[0]
        if year not in years:
            form.add_error("year", "请选择今年或去年")
            return None
        return year
    month = form.text("month") or months[1]
    if month not in months:
        form.add_error("month", "请选择近 12 个月中的一个月份")
        return None
    return month


class HqCenterPages:
    """The centers' ranking; `HqNetworkPages` (and so `GatewayService`) inherits it."""

    qa = RpcProxy("qa")

    @page("GET", "/hq/centers", roles=HQ)
    def hq_centers_page(self, request, page):
        form = Form(FIELDS, {n: request.args.get(n, "") for n in FIELDS})
        return self._centers_page(page, form, notice=request.args.get("assessed"))

    @page("POST", "/hq/centers/assess", roles=HQ)
    def hq_assess_centers_page(self, request, page):
        form = page.form(*FIELDS)
        months, years = periods(page)
        period = chosen(form, months, years)
        if period is None:
            return self._centers_page(page, form)
        try:
            self.qa.assess_centers({"year": period} if len(period) == 4 else {"month": period})
        except DomainError as exc:
            form.take(exc)
            return self._centers_page(page, form, status=exc.http_status)
        kind = "year" if len(period) == 4 else "month"
        return page.redirect("/hq/centers?" + urlencode({"period": kind, kind: period, "assessed": "1"}))

    def _centers_page(self, page, form: Form, notice: str | None = None, status: int = 200):
        months, years = periods(page)
        period = chosen(form, months, years)
        rows: list[dict[str, Any]] = []
        if period is not None:
            assessments = self.qa.center_assessments({"year": period} if len(period) == 4 else {"month": period})
            grades = {r["tenant_id"]: r["grade"] for r in self.qa.region_grades()}
            rows = [center_row(a, grades) for a in assessments]
        kind = form.text("period") or "month"
        if kind not in dict(PERIODS):
            kind = "month"
        shown = period or (years[0] if kind == "year" else months[1])
        for name, default in (("period", kind), ("month", months[1]), ("year", years[0])):
            if not form.text(name):
                form.values[name] = default
        return page.render(
            "hq/centers.html",
            status=status if form.ok else 422,
            form=form,
            kind=kind,
            period=shown,
            periods=PERIODS,
            month_options=[(m, f"{m[:4]} 年 {int(m[5:7])} 月") for m in months],
            year_options=[(y, f"{y} 年") for y in years],
            rated=[r for r in rows if r["rated"]],
            unrated=[r for r in rows if not r["rated"]],
            notice="已完成考核，排名已更新" if notice else None,
        )
