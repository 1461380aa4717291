"""HQ's request for a month's stored reports (``POST /api/v1/reports/generate``: 202 with the
request) followed until qa's ``report_jobs`` timer has made them (``GET /api/v1/reports/jobs/<id>``)."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import HQ


def generate_and_wait(platform: Any, month: str, timeout: float = 180.0) -> dict[str, Any]:
    """The request, once done (asserting it was accepted at once and ended done)."""
    asked = platform.post("/api/v1/reports/generate", HQ, json={"month": month})
    assert asked.status_code == 202, asked.text
    job = asked.json()
    give_up = time.monotonic() + timeout
    while job["state"] in ("pending", "running"):
        assert time.monotonic() < give_up, f"report job still {job['state']} {job['done']}/{job['total']}"
        time.sleep(0.5)
        seen = platform.get(f"/api/v1/reports/jobs/{job['id']}", HQ)
        assert seen.status_code == 200, seen.text
        job = seen.json()
    assert job["state"] == "done", job
    assert job["done"] == job["total"]
    return job


def rollup_and_wait(platform: Any, month: str, fmt: str = "json", tick: Any = None, timeout: float = 180.0) -> Any:
    """HQ's roll-up of `month` (``GET /api/v1/reports/monthly``, tenant all): at once when the stored
    one is current or a fresh one was made, else 202 with the job (its Location), followed until
    done (`tick`: runs qa's report_jobs timer, for a platform that does not), then its file. The
    HTTP answer of the file (or the JSON)."""
    asked = platform.get(f"/api/v1/reports/monthly?month={month}&format={fmt}", HQ)
    if asked.status_code == 200:
        return asked
    assert asked.status_code == 202, asked.text
    job = asked.json()
    assert job["kind"] == "rollup" and asked.headers["Location"] == job["url"], job
    file_url = job["file_url"]  # in the format asked (the job's own answer names the PDF)
    give_up = time.monotonic() + timeout
    while job["state"] in ("pending", "running"):
        assert time.monotonic() < give_up, f"roll-up job still {job['state']} {job['done']}/{job['total']}"
        if tick is not None:
            tick()
        else:
            time.sleep(0.5)
        seen = platform.get(job["url"], HQ)
        assert seen.status_code == 200, seen.text
        job = seen.json()
    assert job["state"] == "done", job
    made = platform.get(file_url, HQ)
    assert made.status_code == 200, made.text
    return made
