"""How many reports HQ's request for a month covers (its progress' total), and the request as read."""

from __future__ import annotations

from datetime import datetime

from services.qa import monthly_report
from services.qa.monthly_report import job_total
from services.qa.report_jobs import job_out
from services.qa.report_models import ReportJob


def test_a_month_covers_each_center_and_the_roll_up_and_a_quarters_last_month_twice_that():
    assert job_total(6, monthly_report.ends_quarter("2026-04")) == 7
    assert job_total(6, monthly_report.ends_quarter("2026-03")) == 14
    assert job_total(0, None) == 1  # HQ's roll-up alone


def test_the_request_reads_its_times_as_utc():
    row = ReportJob(
        id=3, month="2026-03", quarter="2026-Q1", state="running", done=2, total=14, made=["C01:monthly:2026-03"],
        requested_by="hq", requested_at=datetime(2026, 4, 1, 1, 2), finished_at=None,
    )  # fmt: skip
    out = job_out(row)
    assert out["requested_at"] == "2026-04-01T01:02:00+00:00" and out["finished_at"] is None
    assert (out["state"], out["done"], out["total"], out["made"]) == ("running", 2, 14, ["C01:monthly:2026-03"])
