"""schemathesis against the running gateway: no input gives a server error.

All eight services run in this process (their own vhost and SQLite files); schemathesis's CLI
(`st run`, a subprocess) reads the gateway's `/openapi.json` and sends what it derives from it:
boundary and type-violating values for every parameter and body field (coverage phase),
random valid and invalid requests (fuzzing), and chains of calls linked by the ids they return
(stateful). Two runs side by side, one with an HQ token and one with a center token (tenant C01),
each bounded (`MAX_EXAMPLES` per operation, fixed seeds, a wall-clock limit); about two
minutes on two cores. Every 5xx is a failure (check ``not_a_server_error``), listed with the
request that caused it, and so is a document schemathesis cannot read (a schema error).

``FSM_FUZZ_EXAMPLES`` and ``FSM_FUZZ_SEED`` change the bounds for a longer run by hand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import C01, HQ, Platform

MAX_EXAMPLES = int(os.environ.get("FSM_FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FSM_FUZZ_SEED", "20260601"))
TIME_LIMIT = 480  # seconds for both runs together; they take about 120 here


@pytest.fixture
def fuzz_platform(runner_factory, dispatch_config):
    """All eight services; timers that would act on their own are slowed down."""
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.notify.service import NotifyService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    config = dict(
        dispatch_config,
        DISPATCH_BATCH_SECONDS=3600,
        DISPATCH_REOPT_SECONDS=3600,
        CERTIFICATION_CHECK_SECONDS=3600,
        PARTS_OVERDUE_CHECK_SECONDS=3600,
        QA_AUTO_MONTHLY="false",
        QA_SAMPLE_SEED="fuzz-seed",
    )
    runner = runner_factory(
        config,
        GatewayService,
        IntakeService,
        DispatchService,
        PartsService,
        SettlementService,
        CertificationService,
        QaService,
        NotifyService,
    )
    runner.start()
    yield Platform(runner, config)


def _st_run(platform, principal, seed, report):
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{platform.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {platform.token(principal)}",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(seed),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report),
    ]


def _findings(report):
    """(operations tested, server errors, other errors) from a JUnit report of `st run`."""
    root = ET.parse(report).getroot()
    tested, server, other = 0, [], []
    for case in root.iter("testcase"):
        tested += 1
        for outcome in case:
            text = outcome.text or ""
            if outcome.tag == "failure":
                count = max(1, text.count("ST101"))
                curls = re.findall(r"curl .*", text)
                server.append(f"{case.get('name')}: {count} server error(s)\n      " + "\n      ".join(curls[:count]))
            elif outcome.tag == "error":
                other.append(f"{case.get('name')}: {text.strip()[:400]}")
    return tested, server, other


@pytest.mark.timeout(TIME_LIMIT + 120)  # its own bound, not the suite's 300 s, decides
def test_schemathesis_finds_no_server_error(fuzz_platform, tmp_path):
    p = fuzz_platform
    env = dict(os.environ, NO_COLOR="1")
    runs = {}
    for name, principal, seed in (("hq", HQ, SEED), ("center C01", C01, SEED + 1)):
        report, log = tmp_path / f"{name.split()[0]}.xml", tmp_path / f"{name.split()[0]}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                _st_run(p, principal, seed, report), stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, env=env
            )
        runs[name] = (proc, report, log)
    started = time.monotonic()
    while any(proc.poll() is None for proc, _, _ in runs.values()):
        if time.monotonic() - started > TIME_LIMIT:
            for proc, _, _ in runs.values():
                proc.kill()
            pytest.fail(f"schemathesis did not finish within {TIME_LIMIT} s")
        time.sleep(1)  # green: the services in this process keep answering

    problems, summary = [], []
    for name, (proc, report, log) in runs.items():
        output = log.read_text(encoding="utf-8", errors="replace")
        if not report.exists():
            pytest.fail(f"{name}: schemathesis wrote no report (exit {proc.returncode}):\n{output[-3000:]}")
        tested, server, other = _findings(report)
        generated = re.search(r"(\d+) generated", output)
        summary.append(
            f"{name}: {tested} operations, {generated.group(1) if generated else '?'} test cases, "
            f"{len(server)} with server errors, {len(other)} errors, exit {proc.returncode}"
        )
        assert tested >= 80, f"{name}: schemathesis tested only {tested} operations:\n{output[-3000:]}"
        problems += [f"[{name}] {s}" for s in server]
        # the document must stay readable; schemathesis's own hiccups (Runtime Error) are shown, not failed
        problems += [f"[{name}] {o}" for o in other if "Runtime Error" not in o]
        for o in other:
            if "Runtime Error" in o:
                print(f"[{name}] schemathesis runtime error (not the API's): {o[:200]}")
    print("\n".join(summary))
    assert not problems, "schemathesis found:\n  " + "\n  ".join(problems)
