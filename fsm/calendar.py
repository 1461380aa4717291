"""``fsm calendar import|status``: the holiday schedules every service's working-day calendar
reads (``shared/workcal.py``), one ``YYYY.csv`` per year in the calendar directory (config
``CALENDAR_DIR``, i.e. ``$FSM_CALENDAR_DIR``; default ``shared/data/calendar/``)."""

from __future__ import annotations

from pathlib import Path

from fsm.common import EXIT_ERROR, EXIT_OK, CliError, cli_config, command_group, print_error
from shared import clock
from shared.workcal import (
    HORIZON_DAYS,
    ChinaCalendar,
    ScheduleError,
    calendar_dir,
    library_years,
    outlook,
    parse_schedule,
    write_schedule,
)

DIR_HELP = "the calendar directory (default: config CALENDAR_DIR, i.e. $FSM_CALENDAR_DIR, else shared/data/calendar)"


def register(subparsers):
    sub = command_group(subparsers, "calendar", help="the holiday schedules of the working-day calendar")
    p = sub.add_parser(
        "import",
        help="validate one year's holidays and make-up working days (CSV: date,kind,name) and store them",
        description="Validate FILE (CSV with the header date,kind,name; kind holiday or workday; every date "
        "in one year, listed once; a name on every row) and store it as DIR/YYYY.csv, replacing that "
        "year's. Nothing is written when any row is wrong; every problem is listed with its line and field.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--dir", help=DIR_HELP)
    p.add_argument("--year", type=int, help="the year FILE must hold (default: the year of its first date)")
    p.add_argument("--dry-run", action="store_true", help="validate only; write nothing")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("status", help="which years the calendar knows and from where; unknown days ahead")
    p.add_argument("--dir", help=DIR_HELP)
    p.add_argument(
        "--check",
        action="store_true",
        help=f"exit 1 when a date within the next {HORIZON_DAYS} days is in an unknown year or a file was left out",
    )
    p.set_defaults(func=cmd_status)


def _directory(args) -> Path:
    return Path(args.dir) if args.dir else calendar_dir(cli_config(args))


def cmd_import(args) -> int:
    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read it as UTF-8 text: {exc}") from None
    try:
        schedule = parse_schedule(text, str(path), year=args.year)
    except ScheduleError as exc:
        for problem in exc.problems:
            print_error(f"{path}: {problem}")
        print_error(f"{path}: nothing imported ({len(exc.problems)} problem(s))")
        return EXIT_ERROR
    directory = _directory(args)
    summary = f"{schedule.year}: {schedule.holidays} holiday(s), {schedule.workdays} make-up working day(s) from {path}"
    if args.dry_run:
        print(f"{summary}: valid (--dry-run: nothing written)")
        return EXIT_OK
    when = clock.now().astimezone(clock.LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
    note = f"imported {when} (Asia/Shanghai) from {path.name}"
    try:
        target, replaced = write_schedule(directory, schedule, note)
    except OSError as exc:
        raise CliError(f"cannot write to {directory}: {exc}") from None
    print(f"{summary} -> {target}" + (f" (replaced the previous {schedule.year})" if replaced else ""))
    print(
        "running services take it within CALENDAR_RELOAD_SECONDS (default 60 s); in Kubernetes, "
        "update the calendar ConfigMap from this directory (README, Holiday calendar)"
    )
    return EXIT_OK


def cmd_status(args) -> int:
    import chinese_calendar

    directory = _directory(args)
    calendar = ChinaCalendar(directory=directory)
    years = library_years()
    print(f"calendar directory: {directory}" + ("" if directory.is_dir() else " (does not exist: no schedules)"))
    print(f"  {years.start}-{years.stop - 1}  chinesecalendar {chinese_calendar.__version__}")
    for year, (path, schedule) in sorted(calendar.loaded.schedules.items()):
        overrides = " (its dates win over chinesecalendar's)" if year in years else ""
        print(
            f"  {year}       {path.name}: {schedule.holidays} holiday(s), {schedule.workdays} make-up "
            f"working day(s){overrides}" + (f"; {schedule.imported}" if schedule.imported else "")
        )
    for error in calendar.loaded.errors:
        print(f"  left out:  {error}")
    found = outlook(calendar, clock.now())
    print(f"next {found.days} days ({found.first} to {found.last}): " + ("WARNING " if found.warning else ""), end="")
    print(found.message())
    return EXIT_ERROR if args.check and found.warning else EXIT_OK
