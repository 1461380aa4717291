"""A center's benefit indicators (seed 001: 营业额, 利润完成情况) from settlement's claims and its
departments' complaint KPIs (seed 004 frequency, seed 001's −3 / −5 customer-opinion rule)."""

from datetime import UTC, datetime
from decimal import Decimal

from services.qa import assessment, benefit

AT = datetime(2026, 3, 10, 2, tzinfo=UTC)


def claim(i, status, amount, outlet="C01-O01"):
    return benefit.ClaimFact(f"cl{i}", outlet, status, Decimal(amount))


def test_benefit_counts_approved_fees_as_turnover_per_job():
    claims = [
        claim(1, "approved", "320.50"),
        claim(2, "approved", "180"),
        claim(3, "rejected", "90"),
        claim(4, "hq_review", "60"),
    ]
    got = benefit.benefit_kpis(claims, jobs=4)
    assert got["turnover"] == Decimal("500.50") and got["claims_approved"] == 2
    assert got["claims_rejected"] == 1 and got["rejected_amount"] == Decimal("90.00") and got["claims_open"] == 1
    assert got["turnover_per_job"] == Decimal("125.13") and got["approval_share"] == Decimal("0.667")
    assert got["profit"] is None


def test_a_month_without_claims_or_jobs_has_no_ratio_rather_than_zero():
    got = benefit.benefit_kpis([], jobs=0)
    assert got["turnover"] == Decimal("0.00") and got["turnover_per_job"] is None and got["approval_share"] is None


def test_the_year_adds_the_months_and_recomputes_the_ratios():
    march = benefit.benefit_kpis([claim(1, "approved", "300")], jobs=2)
    april = benefit.benefit_kpis([claim(2, "approved", "100"), claim(3, "rejected", "50")], jobs=2)
    year = benefit.year_benefit([march, april, {}])
    assert year["turnover"] == Decimal("400.00") and year["jobs"] == 4 and year["turnover_per_job"] == Decimal("100.00")
    assert year["claims_approved"] == 2 and year["claims_rejected"] == 1 and year["approval_share"] == Decimal("0.667")


def test_a_departments_complaints_weigh_on_its_customer_opinion_line():
    assert benefit.department_score({}) == (0, 25)
    assert benefit.department_score({"company": 2, "consumer_association": 1}) == (-11, 14)
    assert benefit.department_score({"company": 9, "unclassified": 3}) == (-27, 0)


def complaint(n, department, level="company", cause="attitude", responsibility="other_department"):
    return assessment.ComplaintFact(f"t{n}", f"ticket:{n}", AT, cause, responsibility, level, department)


def test_the_center_month_reports_benefit_and_department_kpis():
    month = assessment.CenterMonth(
        "C01",
        "2026-03",
        jobs=2,
        onsite_on_time=2,
        complaints=(
            complaint(1, "sales"),
            complaint(2, "sales", level="consumer_association"),
            complaint(3, "plant", cause="quality"),
            complaint(4, None, level=None, cause=None),
        ),
        claims=(claim(1, "approved", "200"), claim(2, "approved", "100")),
    )
    got = assessment.assess_month(month)
    assert got["kpis"]["benefit"]["turnover"] == Decimal("300.00")
    assert got["kpis"]["benefit"]["turnover_per_job"] == Decimal("150.00")
    departments = {row["department"]: row for row in got["departments"]}
    assert [row["department"] for row in got["departments"]] == ["sales", "plant", "unassigned"]
    assert departments["sales"]["complaints"] == 2 and departments["sales"]["deductions"] == -8
    assert departments["sales"]["customer_opinion"] == 17 and departments["sales"]["by_level"] == {
        "company": 1,
        "consumer_association": 1,
    }
    assert departments["plant"]["by_cause"] == {"quality": 1} and departments["plant"]["customer_opinion"] == 22
    assert departments["unassigned"]["deductions"] == 0 and departments["sales"]["share"] == Decimal("0.500")
    year = assessment.assess_year({"2026-03": got, "2026-04": got})
    assert year["kpis"]["benefit"]["turnover"] == Decimal("600.00")
    merged = {row["department"]: row for row in year["departments"]}
    assert (
        merged["sales"]["complaints"] == 4
        and merged["sales"]["deductions"] == -16
        and merged["sales"]["customer_opinion"] == 9
    )
