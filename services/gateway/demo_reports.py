"""The stored reports for the portal's pictures in `fsm demo` (called by the gateway's part,
``demo.py``, before the center's and HQ's pages are photographed): HQ makes last month's reports
through the API (``POST /api/v1/reports/generate``), the step qa's schedule takes on the 1st of a
month, so ``/center/reports`` and ``/hq/reports`` list a center's report and the national roll-up.
The month is the one before this one in Beijing time, the month the reports pages offer first.
"""

from __future__ import annotations

from typing import Any

from shared import clock
from shared.tenancy import Principal

HQ = Principal("fsm-demo-portal", "hq")
GENERATE = "/api/v1/reports/generate"


def last_month() -> str:
    today = clock.now().astimezone(clock.LOCAL_TZ).date()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def this_month() -> str:
    return clock.now().astimezone(clock.LOCAL_TZ).strftime("%Y-%m")


def generate(ctx: Any) -> str:
    """HQ makes last month's stored reports (idempotent); a line for the report."""
    month = last_month()
    resp = ctx.gateway.http.post(
        ctx.gateway.base_url + GENERATE,
        json={"month": month},
        headers={"Authorization": f"Bearer {ctx.gateway.token(HQ)}"},
        timeout=120,
    )
    made = (resp.json().get("made") or []) if resp.status_code in (200, 201) else []
    step = f"HQ makes the {month} reports for the portal (the 1st-of-month step)"
    return f"  {step} -> HTTP {resp.status_code}, {len(made)} stored"
