"""`fsm demo` end to end: a subprocess against a fresh vhost, as `make demo` runs it."""
import os
import re
import subprocess
import sys

from shared.config import REPO_ROOT


def test_demo_reports_every_center(rabbit_config, tmp_path):
    env = dict(os.environ, AMQP_URI=rabbit_config["AMQP_URI"], PYTHONWARNINGS="ignore")
    for key in [k for k in env if k.startswith("DATABASE_URL_")]:
        del env[key]
    proc = subprocess.run(
        [sys.executable, "-m", "shared.cli", "demo", "--port-base", "0", "--var-dir", str(tmp_path)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
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
    assert "HTTP 4" not in report.split("Workflow through the gateway")[1].replace("HTTP 404  not found", "")
    # the databases went to the fresh directory, not to var/
    assert list(tmp_path.glob("demo-*/intake.db"))
