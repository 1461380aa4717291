"""The SLA report's counting (services/intake/sla_report.py): deadlines by the local week or month
they fall due in, per center and tier, by where they stand; void ones and those outside the
window left out; sums per center and per tier."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.intake import sla_report
from services.intake.sla_report import DeadlineFact

# Thursday 2026-12-03 10:00 Beijing time
NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


def fact(tenant, tier, due, state):
    return DeadlineFact(tenant, tier, due, state)


def test_periods_are_local_weeks_from_monday_and_calendar_months():
    # Sunday 2026-11-29 23:30 in Beijing is 15:30 UTC: still the week of Monday 11-23
    assert sla_report.period_start(datetime(2026, 11, 29, 15, 30, tzinfo=UTC), "week") == date(2026, 11, 23)
    assert sla_report.period_start(datetime(2026, 11, 29, 16, 30, tzinfo=UTC), "week") == date(2026, 11, 30)
    assert sla_report.period_start(datetime(2026, 11, 30, 16, 30, tzinfo=UTC), "month") == date(2026, 12, 1)
    assert sla_report.period_starts(NOW, "week", 3) == [date(2026, 11, 16), date(2026, 11, 23), date(2026, 11, 30)]
    assert sla_report.period_starts(NOW, "month", 3) == [date(2026, 10, 1), date(2026, 11, 1), date(2026, 12, 1)]
    since, until = sla_report.window(NOW, "month", 3)
    assert (since.isoformat(), until.isoformat()) == ("2026-10-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")


def test_each_deadline_counts_in_its_period_center_and_tier_by_its_state():
    facts = [
        fact("C01", "local", datetime(2026, 12, 1, 3, tzinfo=UTC), "met"),
        fact("C01", "local", datetime(2026, 12, 2, 3, tzinfo=UTC), "met_late"),
        fact("C01", "in_province", datetime(2026, 12, 2, 3, tzinfo=UTC), "breached"),
        fact("C02", "local", datetime(2026, 12, 3, 5, tzinfo=UTC), "at_risk"),
        fact("C02", "local", datetime(2026, 11, 24, 5, tzinfo=UTC), "met"),
        fact("HQ", None, datetime(2026, 12, 3, 5, tzinfo=UTC), "open"),
        fact("C02", "local", datetime(2026, 12, 3, 5, tzinfo=UTC), "void"),  # ended before it was due
        fact("C02", "local", datetime(2026, 1, 3, 5, tzinfo=UTC), "breached"),  # before the window
    ]
    out = sla_report.report(facts, NOW, "week", 2, "onsite")
    assert (out["period"], out["sla"], out["starts"]) == ("week", "onsite", ["2026-11-23", "2026-11-30"])
    cells = {(r["start"], r["tenant_id"], r["tier"]): r for r in out["rows"]}
    assert set(cells) == {
        ("2026-11-23", "C02", "local"),
        ("2026-11-30", "C01", "local"),
        ("2026-11-30", "C01", "in_province"),
        ("2026-11-30", "C02", "local"),
        ("2026-11-30", "HQ", "unplaced"),
    }
    c01 = cells[("2026-11-30", "C01", "local")]
    assert (c01["met"], c01["met_late"], c01["breached"], c01["total"]) == (1, 1, 0, 2)
    assert cells[("2026-11-30", "C02", "local")]["at_risk"] == 1 and cells[("2026-11-30", "C02", "local")]["total"] == 1
    by_tenant = {(r["start"], r["tenant_id"]): r for r in out["by_tenant"]}
    assert by_tenant[("2026-11-30", "C01")]["total"] == 3 and by_tenant[("2026-11-30", "C01")]["breached"] == 1
    by_tier = {(r["start"], r["tier"]): r for r in out["by_tier"]}
    assert by_tier[("2026-11-30", "local")]["total"] == 3 and by_tier[("2026-11-23", "local")]["met"] == 1
    month = sla_report.report(facts, NOW, "month", 1, None)
    assert month["starts"] == ["2026-12-01"] and sum(r["total"] for r in month["rows"]) == 5
