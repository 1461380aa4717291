"""The centers' ranking page's figures and its period choice (services/gateway/portal/pages_hq_centers.py)."""

from services.gateway.portal import pages_hq_centers as centers
from services.gateway.portal.forms import Form

MONTHS = ["2026-12", "2026-11", "2026-10"]
YEARS = ["2026", "2025"]


def test_figures_as_the_page_shows_them():
    assert centers.percent("0.857") == "85.7%" and centers.percent(None) == "—"
    assert centers.yuan("1280") == "¥1,280.00" and centers.yuan(None) == "—" and centers.yuan("x") == "—"
    row = centers.center_row(
        {
            "tenant_id": "C01",
            "rank": 2,
            "rated": True,
            "score": "96.0",
            "grade": "A",
            "stars": 5,
            "jobs": 3,
            "kpis": {"onsite_on_time_share": "1.000", "benefit": {"turnover": "500.00", "turnover_per_job": "166.67"}},
        },
        {"C01": "B"},
    )
    assert (row["onsite"], row["callbacks"], row["satisfaction"]) == ("100.0%", "—", "—")
    assert (row["turnover"], row["per_job"], row["region_grade"], row["complaints"]) == ("¥500.00", "¥166.67", "B", 0)
    bare = centers.center_row({"tenant_id": "C02", "rated": False, "kpis": {}}, {})
    assert bare["rated"] is False and bare["turnover"] == "—" and bare["stars"] == 0 and bare["region_grade"] is None


def test_the_period_defaults_to_last_month_and_a_wrong_one_is_named():
    assert centers.chosen(Form(centers.FIELDS, {}), MONTHS, YEARS) == "2026-11"
    assert centers.chosen(Form(centers.FIELDS, {"period": "year"}), MONTHS, YEARS) == "2026"
    assert centers.chosen(Form(centers.FIELDS, {"period": "year", "year": "2025"}), MONTHS, YEARS) == "2025"
    for values, field in (
        ({"month": "2001-01"}, "month"),
        ({"period": "year", "year": "2001"}, "year"),
        ({"period": "week"}, "period"),
    ):
        form = Form(centers.FIELDS, values)
        assert centers.chosen(form, MONTHS, YEARS) is None and form.errors_of(field), values
