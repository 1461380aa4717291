"""The stored reports for the portal's pictures in `fsm demo` (called by the gateway's part,
``demo.py``, before the center's and HQ's pages are photographed): HQ makes last month's reports
through the API (``POST /api/v1/reports/generate``: 202 with the request, made in the background by
qa's ``report_jobs`` timer, followed at ``GET /api/v1/reports/jobs/<id>`` until done), the step qa's
schedule takes on the 1st of a month, so ``/center/reports`` and ``/hq/reports`` list a center's report
and the national roll-up.
The month is the one before this one in Beijing time, the month the reports pages offer first.
"""

from __future__ import annotations

import time
from typing import Any

from shared import clock
from shared.tenancy import Principal

HQ = Principal("fsm-demo-portal", "hq")
GENERATE = "/api/v1/reports/generate"
JOBS = "/api/v1/reports/jobs/"
WAIT_SECONDS = 300  # the request is made in the background; a loaded machine takes a while


def last_month() -> str:
    today = clock.now().astimezone(clock.LOCAL_TZ).date()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def this_month() -> str:
    return clock.now().astimezone(clock.LOCAL_TZ).strftime("%Y-%m")


def generate(ctx: Any) -> str:
    """HQ asks for last month's stored reports (idempotent) and follows the request until it is
    done; a line for the report."""
    month = last_month()
    headers = {"Authorization": f"Bearer {ctx.gateway.token(HQ)}"}
    resp = ctx.gateway.http.post(ctx.gateway.base_url + GENERATE, json={"month": month}, headers=headers, timeout=60)
    step = f"HQ makes the {month} reports for the portal (the 1st-of-month step)"
    if resp.status_code != 202:
        return f"  {step} -> HTTP {resp.status_code}, 0 stored"
    job = resp.json()
    give_up = time.monotonic() + WAIT_SECONDS
    while job.get("state") in ("pending", "running") and time.monotonic() < give_up:
        time.sleep(1)
        seen = ctx.gateway.http.get(ctx.gateway.base_url + JOBS + str(job["id"]), headers=headers, timeout=60)
        if seen.status_code == 200:
            job = seen.json()
    made = job.get("made") or []
    progress = f"{job.get('state')} {job.get('done')}/{job.get('total')}"
    return f"  {step} -> HTTP {resp.status_code}, {progress}, {len(made)} stored"
