"""Training plans (seed 001: 3–4 classes a year; seed 003: annual, regional, new-product plans;
seed 004: new-product training before the launch) and the training an exam rests on."""

from datetime import date

import pytest

from services.certification import training as t
from shared.errors import Forbidden, ValidationFailed

D = date


def draft(kind="annual", n=3, year=2026, tenant="C01", launch_on=None, dates=None):
    dates = dates or [D(year, 3 * i + 1, 10) for i in range(n)]
    return t.PlanDraft(
        year=year,
        kind=kind,
        product_line="注塑机",
        sessions=tuple(t.PlannedSession(f"第{i + 1}期", d) for i, d in enumerate(dates)),
        tenant_id=tenant,
        launch_on=launch_on,
    )


def fields_of(excinfo):
    return set(excinfo.value.fields)


@pytest.mark.parametrize("n", [3, 4])
def test_an_annual_plan_of_three_or_four_sessions_holds(n):
    assert t.check_plan(draft(n=n), "hq") == []
    assert t.check_plan(draft(n=n, tenant=None), "hq") == []  # HQ-wide


@pytest.mark.parametrize("n", [1, 2, 5])
def test_an_annual_plan_off_the_seeds_three_to_four_is_refused_naming_sessions(n):
    with pytest.raises(ValidationFailed) as e:
        t.check_plan(draft(n=n, dates=[D(2026, i + 1, 5) for i in range(n)]), "hq")
    assert fields_of(e) == {"sessions"}
    assert "3-4" in e.value.fields["sessions"][0]


def test_a_regional_plan_off_three_to_four_is_kept_with_a_warning():
    assert t.check_plan(draft("regional", n=2), "center") == ["2 sessions planned; seed 001: 每年组织3-4期学习班"]
    assert t.check_plan(draft("regional", n=3), "center") == []


def test_who_plans_what():
    with pytest.raises(Forbidden) as e:
        t.check_plan(draft("annual"), "center")
    assert fields_of(e) == {"kind"}
    with pytest.raises(Forbidden):
        t.check_plan(draft("new_product", launch_on=D(2026, 12, 1)), "center")
    assert t.check_plan(draft("special", n=1), "center") == []
    assert t.check_plan(draft("regional", n=3), "hq") == []
    with pytest.raises(ValidationFailed) as e:
        t.check_plan(draft("regional", n=3, tenant=None), "hq")
    assert fields_of(e) == {"tenant_id"}


def test_sessions_must_lie_in_the_plans_year_on_different_days():
    with pytest.raises(ValidationFailed) as e:
        t.check_plan(draft(dates=[D(2026, 3, 1), D(2027, 1, 5), D(2026, 6, 1)]), "hq")
    assert "2027-01-05" in e.value.fields["sessions"][0]
    with pytest.raises(ValidationFailed) as e:
        t.check_plan(draft(dates=[D(2026, 3, 1), D(2026, 3, 1), D(2026, 6, 1)]), "hq")
    assert "2026-03-01" in e.value.fields["sessions"][0]


def test_new_product_training_comes_before_the_launch():
    with pytest.raises(ValidationFailed) as e:
        t.check_plan(draft("new_product", n=2), "hq")
    assert fields_of(e) == {"launch_on"}
    ok = draft("new_product", dates=[D(2026, 5, 1), D(2026, 5, 20)], launch_on=D(2026, 6, 1))
    assert t.check_plan(ok, "hq") == []
    late = draft("new_product", dates=[D(2026, 5, 1), D(2026, 6, 1)], launch_on=D(2026, 6, 1))
    with pytest.raises(ValidationFailed) as e:
        t.check_plan(late, "hq")
    assert "2026-06-01" in e.value.fields["sessions"][0] and "上市之前" in e.value.fields["sessions"][0]
    with pytest.raises(ValidationFailed) as e:
        t.check_plan(draft(launch_on=D(2026, 6, 1)), "hq")
    assert fields_of(e) == {"launch_on"}


def test_year_warnings_count_annual_and_regional_sessions_per_line():
    assert t.year_warnings(2026, [("注塑机", 3)], {"注塑机"}) == []
    assert t.year_warnings(2026, [("注塑机", 3), ("注塑机", 2)], {"注塑机"}) == [
        "2026 注塑机: 5 sessions planned, seed 001 asks 3-4 a year"
    ]
    assert t.year_warnings(2026, [], {"数控车床"}) == ["2026 数控车床: 0 sessions planned, seed 001 asks 3-4 a year"]


def test_progress_counts_sessions_due_and_behind():
    planned = [
        t.PlannedSession("1", D(2026, 3, 1)),
        t.PlannedSession("2", D(2026, 6, 1)),
        t.PlannedSession("3", D(2026, 9, 1)),
    ]
    assert t.progress(planned, [D(2026, 3, 2)], D(2026, 7, 1)) == {"planned": 3, "held": 1, "due": 2, "behind": 1}
    assert t.progress(planned, [D(2026, 3, 2), D(2026, 6, 2)], D(2026, 7, 1))["behind"] == 0


def test_a_session_under_a_plan_keeps_its_line_and_year():
    assert t.session_fits_plan("注塑机", 2026, "注塑机", D(2026, 5, 1)) == {}
    assert set(t.session_fits_plan("注塑机", 2026, "数控车床", D(2027, 1, 1))) == {"product_line", "held_on"}


# ------------------------------------------------------------------ the exam's training
S1 = t.HeldSession("s1", "注塑机", D(2026, 3, 10), "plan-a", ("T1", "T2"))
S2 = t.HeldSession("s2", "注塑机", D(2026, 6, 10), "plan-a", ("T1",))
LOOSE = t.HeldSession("s3", "注塑机", D(2026, 4, 1), None, ("T3",))
JULY = D(2026, 7, 1)


def exam(tech="T1", taken=JULY, named=None, named_id=None, attended=(S1, S2, LOOSE), plans=("plan-a",), mode="plan"):
    return t.session_for_exam(tech, "注塑机", taken, named, named_id, list(attended), list(plans), mode)


def test_an_exam_rests_on_the_latest_plan_session_attended_before_it():
    assert exam("T1") == "s2"
    assert exam("T2") == "s1"
    assert exam("T1", taken=D(2026, 5, 1)) == "s1"


def test_an_exam_without_attendance_of_the_plans_session_is_refused_naming_session_id():
    for tech, taken in (("T9", D(2026, 7, 1)), ("T1", D(2026, 3, 9)), ("T3", D(2026, 7, 1))):
        with pytest.raises(ValidationFailed) as e:
            exam(tech, taken)
        assert set(e.value.fields) == {"session_id"}, (tech, taken)


def test_without_a_plan_no_training_is_asked_unless_always():
    assert exam("T9", plans=()) is None
    assert exam("T3", plans=(), mode="always") == "s3"
    with pytest.raises(ValidationFailed) as e:
        exam("T9", plans=(), mode="always")
    assert set(e.value.fields) == {"session_id"}


def test_a_named_session_must_be_attended_of_the_line_before_the_exam_and_the_plans():
    assert exam("T2", named=S1, named_id="s1") == "s1"
    with pytest.raises(ValidationFailed) as e:
        exam("T2", named=S2, named_id="s2")
    assert set(e.value.fields) == {"technician_id", "session_id"}
    with pytest.raises(ValidationFailed) as e:
        exam("T1", named=None, named_id="nope")
    assert set(e.value.fields) == {"session_id"}
    with pytest.raises(ValidationFailed) as e:
        exam("T1", taken=D(2026, 5, 1), named=S2, named_id="s2")
    assert "after the exam" in e.value.fields["session_id"][0]
    with pytest.raises(ValidationFailed) as e:
        exam("T3", named=LOOSE, named_id="s3")
    assert "plan" in e.value.fields["session_id"][0]
    other = t.HeldSession("s4", "数控车床", D(2026, 3, 1), None, ("T1",))
    with pytest.raises(ValidationFailed) as e:
        exam("T1", named=other, named_id="s4")
    assert "数控车床" in e.value.fields["session_id"][0]
