"""Holiday schedules (shared.workcal): the import format and its validation, the directory the
services read, the staleness check (`unknown_dates`, `outlook`) and `fsm calendar import|status`."""

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fsm.main import main
from shared import clock
from shared.sla import SlaClock
from shared.workcal import (
    ChinaCalendar,
    ScheduleError,
    calendar_dir,
    load_calendar_dir,
    outlook,
    parse_schedule,
    render_schedule,
    unknown_dates,
    write_schedule,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "data" / "holidays-2027.EXAMPLE.csv"
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEC_3 = datetime(2026, 12, 3, 10, 0, tzinfo=SHANGHAI)  # "today" of these tests: 2027 is 29 days ahead


def example_text() -> str:
    if not EXAMPLE.exists():
        pytest.fail(f"{EXAMPLE} is missing: the example schedule the calendar tests import")
    return EXAMPLE.read_text(encoding="utf-8")


def problems(text: str, year: int | None = None) -> list[str]:
    with pytest.raises(ScheduleError) as info:
        parse_schedule(text, "f.csv", year=year)
    assert str(info.value).startswith("f.csv: ")
    return info.value.problems


# ====================================================================== the format
def test_example_file_parses():
    schedule = parse_schedule(example_text(), str(EXAMPLE))
    assert schedule.year == 2027
    assert (schedule.holidays, schedule.workdays) == (8, 1)
    overrides = schedule.overrides()
    assert overrides[date(2027, 2, 8)] is False  # a Monday off
    assert overrides[date(2027, 2, 13)] is True  # a Saturday worked
    assert any("EXAMPLE ONLY" in c for c in schedule.comments)


def test_good_file_with_comments_quotes_and_mixed_case():
    text = (
        "# 国务院办公厅关于2031年部分节假日安排的通知\n"
        "\n"
        "Date, Kind, Name\n"
        "2031-10-01,holiday,国庆节\n"
        '2031-10-02, HOLIDAY ,"国庆节, 中秋节"\n'
        "2031-09-28,workday,国庆节\n"
    )
    schedule = parse_schedule(text)
    assert [(d.day, d.kind, d.name, d.line) for d in schedule.days] == [
        (date(2031, 9, 28), "workday", "国庆节", 6),
        (date(2031, 10, 1), "holiday", "国庆节", 4),
        (date(2031, 10, 2), "holiday", "国庆节, 中秋节", 5),
    ]
    assert schedule.comments == ("国务院办公厅关于2031年部分节假日安排的通知",)


def test_render_reads_back_the_same_and_keeps_one_import_note():
    schedule = parse_schedule(example_text())
    text = render_schedule(schedule, "imported 2026-12-03 10:00 (Asia/Shanghai) from x.csv")
    again = parse_schedule(text)
    assert [(d.day, d.kind, d.name) for d in again.days] == [(d.day, d.kind, d.name) for d in schedule.days]
    assert again.imported == "imported 2026-12-03 10:00 (Asia/Shanghai) from x.csv"
    assert render_schedule(again, again.imported) == text  # a re-import does not pile up notes or titles
    quoted = parse_schedule('date,kind,name\n2031-10-01,holiday,"A, ""B"""\n')
    assert parse_schedule(render_schedule(quoted)).days[0].name == 'A, "B"'


@pytest.mark.parametrize(
    "text, expected",
    [
        ("day,kind,name\n2027-01-01,holiday,元旦\n", "line 1: the header must be date,kind,name, got 'day,kind,name'"),
        ("# only a comment\n\n", "no header: the first line that is not a comment must be date,kind,name"),
        ("date,kind,name\n", "no dates: list the year's holidays and make-up working days, one per line"),
        (
            "date,kind,name\n2027-01-01,holiday\n",
            "line 2: expected 3 fields (date,kind,name), got 2: '2027-01-01,holiday'",
        ),
        ("date,kind,name\n2027-02-30,holiday,春节\n", "line 2, date: '2027-02-30' is not a valid date"),
        ("date,kind,name\n2027/02/01,holiday,春节\n", "line 2, date: '2027/02/01' is not a date YYYY-MM-DD"),
        ("date,kind,name\n20270201,holiday,春节\n", "line 2, date: '20270201' is not a date YYYY-MM-DD"),
        (
            "date,kind,name\n2027-12-31,holiday,元旦\n2028-01-01,holiday,元旦\n",
            "line 3, date: 2028-01-01 is not in 2027 (the year of line 2): one file holds one year",
        ),
        (
            "date,kind,name\n2027-02-08,holiday,春节\n2027-02-08,holiday,春节\n",
            "line 3, date: 2027-02-08 is already listed on line 2 (as holiday)",
        ),
        (
            "date,kind,name\n2027-02-13,holiday,春节\n2027-02-13,workday,春节\n",
            "line 3, date: 2027-02-13 is already listed on line 2 (as holiday)",
        ),
        ("date,kind,name\n2027-02-08,rest,春节\n", "line 2, kind: 'rest' must be holiday or workday"),
        (
            "date,kind,name\n2027-02-09,workday,春节\n",
            "line 2, kind: 2027-02-09 is a Tuesday, a working day anyway: a make-up working day (调休上班) "
            "is a Saturday or Sunday",
        ),
        ("date,kind,name\n2027-02-08,holiday,\n", "line 2, name: missing (which holiday, e.g. 春节)"),
        ("date,kind,name\n2027-02-08,holiday,   \n", "line 2, name: missing (which holiday, e.g. 春节)"),
    ],
)
def test_each_kind_of_bad_input_is_named_by_line_and_field(text, expected):
    assert problems(text) == [expected]


def test_every_problem_is_listed_not_only_the_first():
    text = "date,kind,name\n2027-01-01,holiday,元旦\n2027-13-01,holiday,x\n2027-02-08,off,春节\n2027-02-09,holiday,\n"
    assert problems(text) == [
        "line 3, date: '2027-13-01' is not a valid date",
        "line 4, kind: 'off' must be holiday or workday",
        "line 5, name: missing (which holiday, e.g. 春节)",
    ]


def test_the_year_asked_for():
    assert parse_schedule(example_text(), year=2027).year == 2027
    assert problems("date,kind,name\n2027-01-01,holiday,元旦\n", year=2028) == [
        "line 2, date: 2027-01-01 is not in 2028 (the year asked for): one file holds one year"
    ]


# ====================================================================== the directory
def test_directory_loading_leaves_out_bad_files_and_names_them(tmp_path):
    assert load_calendar_dir(tmp_path / "missing").schedules == {}
    (tmp_path / "2027.csv").write_text(example_text(), encoding="utf-8")
    (tmp_path / "2031.csv").write_text("date,kind,name\n2031-02-30,holiday,春节\n", encoding="utf-8")
    (tmp_path / "2032.csv").write_text("date,kind,name\n2033-01-03,holiday,元旦\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a schedule", encoding="utf-8")
    loaded = load_calendar_dir(tmp_path)
    assert set(loaded.schedules) == {2027}
    assert len(loaded.errors) == 2
    assert "2031.csv: line 2, date: '2031-02-30' is not a valid date" in loaded.errors[0]
    assert loaded.errors[1].endswith("2032.csv: holds 2033, so it must be named 2033.csv")
    calendar = ChinaCalendar(directory=tmp_path)
    assert calendar.knows_year(2027) and not calendar.knows_year(2031)
    found = outlook(calendar, DEC_3)
    assert found.unknown == () and found.warning  # a file left out is a warning too
    assert "2 schedule file(s) left out" in found.message()


def test_calendar_on_a_directory_honours_an_imported_year_and_reloads_on_change(tmp_path):
    calendar = ChinaCalendar(directory=tmp_path)
    assert not calendar.knows_year(2027)
    assert calendar.is_workday(date(2027, 2, 8))  # unknown year: a Monday works
    assert not calendar.refresh()  # nothing changed

    path, replaced = write_schedule(tmp_path, parse_schedule(example_text()), "imported now")
    assert (path, replaced) == (tmp_path / "2027.csv", False)
    assert [p.name for p in tmp_path.iterdir()] == ["2027.csv"]  # no temporary file left behind
    assert calendar.refresh()
    assert calendar.knows_year(2027)
    assert not calendar.is_workday(date(2027, 2, 8))  # Spring Festival (example)
    assert calendar.is_workday(date(2027, 2, 13))  # Saturday worked instead
    assert calendar.is_workday(date(2027, 2, 12))  # unlisted Friday
    assert not calendar.refresh()

    smaller = parse_schedule("date,kind,name\n2027-01-01,holiday,元旦\n")
    assert write_schedule(tmp_path, smaller)[1] is True  # replaces the year's file
    assert calendar.refresh()
    assert calendar.is_workday(date(2027, 2, 8))
    path.unlink()
    assert calendar.refresh()
    assert not calendar.knows_year(2027)


def test_explicit_overrides_win_over_the_directory(tmp_path):
    write_schedule(tmp_path, parse_schedule(example_text()))
    calendar = ChinaCalendar(overrides={date(2027, 2, 8): "workday"}, directory=tmp_path)
    assert calendar.is_workday(date(2027, 2, 8))
    assert not calendar.is_workday(date(2027, 2, 9))


def test_working_day_deadline_moves_past_an_imported_holiday(tmp_path):
    received = datetime(2027, 2, 4, 10, 0, tzinfo=SHANGHAI)  # a Thursday
    calendar = ChinaCalendar(directory=tmp_path)
    before = SlaClock(calendar).deadline(received, 2, "working_days")
    assert before.astimezone(SHANGHAI) == datetime(2027, 2, 8, 10, 0, tzinfo=SHANGHAI)  # Fri, Mon
    write_schedule(tmp_path, parse_schedule(example_text()))
    calendar.refresh()
    after = SlaClock(calendar).deadline(received, 2, "working_days")
    assert after.astimezone(SHANGHAI) == datetime(2027, 2, 13, 10, 0, tzinfo=SHANGHAI)  # Fri 12, Sat 13


# ====================================================================== staleness
def test_unknown_dates_from_december_2026():
    found = unknown_dates(ChinaCalendar(), DEC_3)
    assert len(found) == 61
    assert (found[0], found[-1]) == (date(2027, 1, 1), date(2027, 3, 2))  # today + 89 days
    assert found == [date(2027, 1, 1) + timedelta(days=i) for i in range(61)]


def test_unknown_dates_window_and_local_date():
    calendar = ChinaCalendar()
    # 90 dates from today: 3 October + 89 days is 31 December, so nothing unknown yet; a day later, 1 January
    assert unknown_dates(calendar, datetime(2026, 10, 3, 23, 0, tzinfo=SHANGHAI)) == []
    assert unknown_dates(calendar, datetime(2026, 10, 4, 0, 30, tzinfo=SHANGHAI)) == [date(2027, 1, 1)]
    # 31 December 17:00 UTC is already 1 January in Beijing: today itself is unknown
    utc_evening = datetime(2026, 12, 31, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert unknown_dates(calendar, utc_evening, days=1) == [date(2027, 1, 1)]
    assert unknown_dates(calendar, datetime(2025, 6, 1, tzinfo=SHANGHAI)) == []


def test_unknown_dates_disappear_once_the_year_is_imported(tmp_path):
    calendar = ChinaCalendar(directory=tmp_path)
    found = outlook(calendar, DEC_3)
    assert found.unknown_years == [2027] and found.warning
    message = found.message()
    assert "61 of the next 90 days (2027-01-01 to 2027-03-02) fall in 2027" in message
    assert "`fsm calendar import FILE`" in message
    check = found.as_check()
    assert check == {"ok": True, "warning": True, "detail": message, "unknown_days": 61, "unknown_years": [2027]}

    write_schedule(tmp_path, parse_schedule(example_text()))
    calendar.refresh()
    assert unknown_dates(calendar, DEC_3) == []
    after = outlook(calendar, DEC_3).as_check()
    assert after["ok"] and not after["warning"] and after["unknown_days"] == 0
    assert after["detail"] == "every day from 2026-12-03 to 2027-03-02 is in a year with a holiday schedule"
    # a year later 2028 is the unknown one
    assert outlook(calendar, DEC_3 + timedelta(days=365)).unknown_years == [2028]


# ====================================================================== fsm calendar
@pytest.fixture
def december():
    clock.travel_to(DEC_3)
    try:
        yield
    finally:
        clock.reset()


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_import_then_status(capsys, tmp_path, december):
    folder = tmp_path / "calendar"
    code, out, err = run(capsys, "calendar", "status", "--dir", str(folder), "--check")
    assert code == 1
    assert "(does not exist: no schedules)" in out and "WARNING 61 of the next 90 days" in out

    code, out, err = run(capsys, "calendar", "import", str(EXAMPLE), "--dir", str(folder))
    assert code == 0, err
    assert f"2027: 8 holiday(s), 1 make-up working day(s) from {EXAMPLE} -> {folder / '2027.csv'}" in out
    stored = parse_schedule((folder / "2027.csv").read_text(encoding="utf-8"))
    assert stored.overrides() == parse_schedule(example_text()).overrides()
    assert stored.imported == f"imported 2026-12-03 10:00 (Asia/Shanghai) from {EXAMPLE.name}"

    code, out, err = run(capsys, "calendar", "status", "--dir", str(folder), "--check")
    assert code == 0, out
    assert "2004-2026  chinesecalendar 1.11.0" in out
    assert "2027       2027.csv: 8 holiday(s), 1 make-up working day(s); imported 2026-12-03 10:00" in out
    assert "every day from 2026-12-03 to 2027-03-02 is in a year with a holiday schedule" in out

    code, out, err = run(capsys, "calendar", "import", str(EXAMPLE), "--dir", str(folder))
    assert code == 0 and "(replaced the previous 2027)" in out


def test_cli_import_refuses_a_bad_file_and_changes_nothing(capsys, tmp_path, december):
    folder = tmp_path / "calendar"
    run(capsys, "calendar", "import", str(EXAMPLE), "--dir", str(folder))
    before = (folder / "2027.csv").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind,name\n2027-02-08,holiday,春节\n2027-02-08,workday,春节\n2027-02-09,holiday,\n")
    code, out, err = run(capsys, "calendar", "import", str(bad), "--dir", str(folder))
    assert code == 1 and out == ""
    assert f"fsm: error: {bad}: line 3, date: 2027-02-08 is already listed on line 2 (as holiday)" in err
    assert f"fsm: error: {bad}: line 4, name: missing" in err
    assert f"{bad}: nothing imported (3 problem(s))" in err
    assert "Traceback" not in err
    assert (folder / "2027.csv").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["2027.csv"]

    code, _, err = run(capsys, "calendar", "import", str(tmp_path / "nope.csv"), "--dir", str(folder))
    assert code == 1 and "nope.csv: no such file" in err
    binary = tmp_path / "latin1.csv"
    binary.write_bytes("date,kind,name\n2027-01-01,holiday,caf\xe9\n".encode("latin-1"))
    code, _, err = run(capsys, "calendar", "import", str(binary), "--dir", str(folder))
    assert code == 1 and "cannot read it as UTF-8 text" in err and "Traceback" not in err
    assert (folder / "2027.csv").read_bytes() == before


def test_cli_import_takes_excel_csv_and_dry_run_writes_nothing(capsys, tmp_path, december):
    excel = tmp_path / "2031.csv"
    excel.write_bytes("\ufeffdate,kind,name\r\n2031-10-01,holiday,国庆节\r\n".encode())
    folder = tmp_path / "calendar"
    code, out, err = run(capsys, "calendar", "import", str(excel), "--dir", str(folder), "--dry-run")
    assert code == 0, err
    assert "valid (--dry-run: nothing written)" in out and not folder.exists()
    code, out, err = run(capsys, "calendar", "import", str(excel), "--dir", str(folder), "--year", "2032")
    assert code == 1 and "line 2, date: 2031-10-01 is not in 2032" in err and not folder.exists()
    code, out, err = run(capsys, "calendar", "import", str(excel), "--dir", str(folder))
    assert code == 0, err
    assert ChinaCalendar(directory=folder).knows_year(2031)


def test_cli_reads_the_folder_from_the_configuration(capsys, tmp_path, december, monkeypatch):
    monkeypatch.setenv("FSM_CALENDAR_DIR", str(tmp_path / "from-env"))
    code, out, err = run(capsys, "calendar", "import", str(EXAMPLE))
    assert code == 0, err
    assert (tmp_path / "from-env" / "2027.csv").exists()
    code, out, err = run(capsys, "calendar", "status")
    assert f"calendar directory: {tmp_path / 'from-env'}\n" in out


def test_demo_report_line_names_the_unknown_year_and_the_fix(tmp_path, december):
    from services.intake.demo import calendar_line

    default = ChinaCalendar.default()  # the demo's services run in its process and use this one
    default.use_directory(tmp_path)
    try:
        line = calendar_line()
        assert line.startswith("WARNING 61 of the next 90 days (2027-01-01 to 2027-03-02) fall in 2027")
        assert "`fsm calendar import FILE`" in line
        write_schedule(tmp_path, parse_schedule(example_text()))
        default.refresh()
        assert calendar_line() == "every day from 2026-12-03 to 2027-03-02 is in a year with a holiday schedule"
    finally:
        default.use_directory(calendar_dir())
