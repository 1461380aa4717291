"""`fsm demo` end to end: a subprocess against a fresh vhost, as `make demo` runs it."""

import os
import re
import subprocess
import sys
from pathlib import Path

from shared.config import REPO_ROOT
from shared.tenants import TenantDirectory
from tests.pdf_tools import pdf_text


def test_demo_reports_every_center(rabbit_config, tmp_path):
    env = dict(os.environ, AMQP_URI=rabbit_config["AMQP_URI"], PYTHONWARNINGS="ignore")
    for key in [k for k in env if k.startswith("DATABASE_URL_")]:
        del env[key]
    proc = subprocess.run(
        [sys.executable, "-m", "fsm", "demo", "--port-base", "0", "--var-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = proc.stdout
    assert proc.returncode == 0, f"stdout:\n{report}\nstderr:\n{proc.stderr[-4000:]}"

    match = re.search(r"requests registered: (\d+)/300 \((\d+) placed with (\d+) centers, (\d+) in HQ triage", report)
    assert match, report
    registered, placed, centers, triage = map(int, match.groups())
    assert registered == 300
    assert placed + triage == 300 and triage <= 3
    assert centers == 6
    for center in ("C01", "C02", "C03", "C04", "C05", "C06"):
        assert re.search(rf"^\s+{center}\s+\d+", report, re.M), f"{center} missing from the report"
    assert f"ticket.registered:   {placed}/{placed} expected (all published" in report
    # the workflow through the gateway went through
    assert "accept (受理)" in report and "case dispatch_plan" in report
    workflow = report.split("Workflow through the gateway")[1].split("\nDISPATCH\n")[0]
    assert "HTTP 4" not in workflow.replace("HTTP 404  not found", "")
    # a complaint registered first (立案) is accepted by it: its accept deadline is met (late for an
    # old imported complaint), not left open for the watchdog
    assert re.search(r"register \(立案\) +-> HTTP 200 .*accept due .*: met (in time|late)", workflow), workflow
    # the dispatch part: technicians, a live day, one plan per tenant, a route, an outlet on site
    assert "\nDISPATCH\n" in report, report
    dispatch = report.split("\nDISPATCH\n", 1)[1]
    assert "technicians imported: 108/108" in dispatch
    match = re.search(r"live day: (\d+) hotline requests received now .*visits in dispatch: (\d+)/(\d+)", dispatch)
    assert match, dispatch
    live, visits, onsite = map(int, match.groups())
    assert live >= 30 and visits == onsite > live
    table = re.search(r"^\s+all\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s*$", dispatch, re.M)
    assert table, dispatch
    planned, scheduled = int(table.group(1)), int(table.group(2))
    assert planned == visits and scheduled > 0 and scheduled + int(table.group(4)) == planned
    for center in ("C01", "C02", "C03", "C04", "C05", "C06"):
        assert re.search(rf"^\s+{center}\s+\d+\s+\d+", dispatch, re.M), f"{center} missing from the plan table"
    match = re.search(r"live-day visits: (\d+), (\d+) scheduled", dispatch)
    assert match and int(match.group(2)) > 0, dispatch
    assert re.search(r"^Route of \S+ .* on \d{4}-\d\d-\d\d, the first planned day: [1-9]\d* stops", dispatch, re.M)
    assert re.search(r"POST /visits/<id>/check-in\s+-> HTTP 200  visit started", dispatch), dispatch
    assert re.search(r"POST /visits/<id>/check-out\s+-> HTTP 200  visit completed", dispatch), dispatch
    assert re.search(r"ticket \S+ in intake: status resolved, onsite SLA due .*: met (in time|LATE)", dispatch), (
        dispatch
    )
    # each further service's part ran (the exit status says each went right)
    for section in ("Certification", "Parts", "Settlement", "Qa", "Gateway"):
        assert re.search(rf"^{section}$", report, re.M), f"{section} part missing"
    # the portal: an account per role signs in (API and, the outlet, the form), with pictures
    portal = report.split("\nGateway\n", 1)[1].split("Documents written", 1)[0]
    assert len(re.findall(r"-> HTTP 200$", portal, re.M)) == 5, portal
    assert re.search(r"sees [1-9]\d* jobs of C\d\d-O\d+", portal), portal
    shots = re.search(r"portal screenshots: (\d+) \(([^;]+);", portal)
    assert shots and int(shots.group(1)) >= 10, portal  # 2 widths: sign-in, jobs, a job, money, scorecard…
    assert {"login", "jobs", "job", "money", "scorecard", "inbox"} <= set(shots.group(2).split(", ")), portal
    # last month's reports made for the reports pages; the center's and HQ's new pages photographed
    made = r"HQ makes the \d{4}-\d\d reports for the portal .* -> HTTP 202, done (\d+)/\1, [1-9]\d* stored"
    assert re.search(made, portal), portal  # asked (202), followed until the background job was done
    pictures = {p.name for p in tmp_path.glob("demo-*/screenshots/*.png")}
    for name in ("center-reports", "center-inbox", "center-preferences", "center-preferences-refused"):
        assert {f"{name}-390.png", f"{name}-1280.png"} <= pictures, sorted(pictures)
    for name in ("hq-reports", "hq-centers", "hq-inbox", "portal-inbox"):
        assert {f"{name}-390.png", f"{name}-1280.png"} <= pictures, sorted(pictures)
    assert re.search(r"the centers assessed by /hq/centers' button \([1-9]\d* ranked\)", portal), portal
    assert re.search(r"^  demo-outlet +password \S+ +服务网点 C\d\d-O\d+", report, re.M), report[:3000]
    # the databases went to the fresh directory, not to var/
    assert list(tmp_path.glob("demo-*/intake.db"))
    assert list(tmp_path.glob("demo-*/dispatch.db"))
    # every document the demo issued is written under the run folder, and its path printed at the end
    listed = report.split("Documents written (", 1)
    assert len(listed) == 2, report
    paths = [Path(p) for p in re.findall(r"^  (/\S+)  \(", listed[1], re.M)]
    run_dir = next(tmp_path.glob("demo-*"))
    assert {p.suffix for p in paths} >= {".pdf", ".xlsx", ".png", ".svg"}, listed[1]
    for path in paths:
        assert path.is_file() and path.stat().st_size > 0 and run_dir in path.parents, path
    statement = next(p for p in paths if p.name.startswith("statement-") and p.suffix == ".pdf")
    outlet_id = re.match(r"statement-(C\d\d-O\d+)-", statement.name).group(1)
    name = TenantDirectory.load().outlets[outlet_id].name
    assert name in " ".join(pdf_text(statement.read_bytes())[0].split())
    assert (statement.with_suffix(".xlsx")).is_file()
