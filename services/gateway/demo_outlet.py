"""The outlet portal's pictures for ``fsm demo`` beside the jobs and a job (services/gateway/demo.py
takes them in its screenshot loop): the money page, a monthly statement, the scorecard and the
notices (``/inbox``), signed in as the demo's outlet account, at the width the loop has set.

The statement is the outlet's latest one; when the run issued none for it, the demo's center issues
the outlet's statement of this month first through the API (``POST /api/v1/settlement/statements``),
as a center does at month end. The scorecard is the latest published month (the qa part publishes
this month's).
"""

from __future__ import annotations

from shared.tenancy import Principal

API = "/api/v1"


def ensure_statement(ctx, tenant: str, outlet_id: str) -> tuple[str | None, str]:
    """(the outlet's latest statement id or None, a line for the report)."""
    from shared import clock

    center = Principal("fsm-demo-portal-center", "center", tenant=tenant)
    status, page = ctx.gateway.call("GET", f"{API}/settlement/statements?outlet_id={outlet_id}&limit=1", center)
    if status == 200 and page.get("items"):
        return page["items"][0]["id"], f"  statement of {outlet_id}: {page['items'][0]['month']} (issued by the run)"
    month = clock.now().astimezone(clock.LOCAL_TZ).strftime("%Y-%m")
    status, body = ctx.gateway.call(
        "POST", f"{API}/settlement/statements", center, json={"outlet_id": outlet_id, "month": month}
    )
    if status == 201:
        return body["id"], f"  the center issues {outlet_id}'s {month} statement for the portal -> HTTP 201"
    return None, f"  no statement of {outlet_id} to show (issuing one -> HTTP {status})"


def screenshots(driver, screenshot, base: str, folder, width: str, statement_id: str | None) -> list:
    """(path, what) of the pictures taken: money, the statement, the scorecard, the notices at `width`
    (`screenshot` is fsm.browser's, which the demo part imports: a service module does not)."""
    shots = [("/outlet/money", "money", "the outlet's money page (balance, statements, claims)")]
    if statement_id:
        shots.append((f"/outlet/money/statements/{statement_id}", "statement", "a monthly statement"))
    shots.append(("/outlet/standing", "scorecard", "the monthly scorecard"))
    shots.append(("/inbox", "inbox", "the outlet's notices (jobs assigned, statements), their first screen"))
    written = []
    for path, name, what in shots:
        driver.get(base + path)
        shot = screenshot(driver, folder / f"portal-{name}-{width}.png", full_page=name != "inbox")  # 50 notices
        written.append((shot, f"{what}, {width} px"))
    return written
