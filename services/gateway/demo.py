"""The gateway's part of `fsm demo`: one portal account per role (hq, center, outlet, warehouse)
with the center, outlet and warehouse of the demo's data, each signed in once through the API
(``POST /api/v1/auth/login``), the outlet also through the portal's form to its jobs page; and
pictures of the portal (sign-in, jobs, a job; phone and desktop width) in the run folder.

The accounts are in this run's gateway database; the report prints their passwords (new ones each
run) and how to open the portal on the run's data afterwards.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter

from fsm import browser as fsm_browser
from services.gateway import demo_center, demo_hq, demo_hq_approvals, demo_outlet, demo_reports, demo_warehouse
from shared import clock
from shared.tenancy import Principal

HQ = Principal("fsm-demo-portal", "hq")
ROLE_NAMES = {"hq": "总部", "center": "区域服务中心", "outlet": "服务网点", "warehouse": "备件库"}


def _busiest_outlet(ctx):
    """The outlet with the most visits still to do (its jobs page has the most to show)."""
    counts: Counter = Counter()
    for status in ("scheduled", "started"):
        code, body = ctx.gateway.call("GET", f"/api/v1/dispatch/board?status={status}&limit=5000", HQ)
        if code == 200:
            counts.update(v["outlet_id"] for v in body["items"] if v.get("outlet_id"))
    if counts:
        outlet_id = max(counts, key=lambda o: (counts[o], o))
        return outlet_id, ctx.directory.outlets[outlet_id].center, counts[outlet_id]
    outlet = sorted(ctx.directory.outlets.values(), key=lambda o: o.id)[0]
    return outlet.id, outlet.center, 0


def _accounts(ctx, tenant, outlet_id):
    center = ctx.directory.centers.get(tenant)
    outlet = ctx.directory.outlets.get(outlet_id)
    return [
        ("demo-hq", "hq", {}, "总部 王经理"),
        ("demo-center", "center", {"tenant": tenant}, f"{center.name if center else tenant} 调度员"),
        (
            "demo-outlet",
            "outlet",
            {"tenant": tenant, "outlet": outlet_id},
            f"{outlet.name if outlet else outlet_id} 派工员",
        ),
        _warehouse_account(ctx, tenant),
    ]


def _warehouse_account(ctx, tenant):
    """The warehouse whose return the parts demo received (its pages have a return to show), else
    the outlet's center's."""
    tenant = (ctx.notes.get("parts") or {}).get("tenant") or tenant
    center = ctx.directory.centers.get(tenant)
    name = f"{center.name if center else tenant} 备件库管理员"
    return ("demo-warehouse", "warehouse", {"tenant": tenant, "warehouse": f"WH-{tenant}"}, name)


def run(ctx):
    from services.gateway import accounts
    from services.gateway.cli import open_store
    from services.gateway.portal.web import GATEWAY

    lines = []
    outlet_id, tenant, jobs = _busiest_outlet(ctx)
    made = []
    store = open_store(ctx.config)
    try:
        with store.uow(GATEWAY) as uow:
            passwords = accounts.Passwords.from_config(ctx.config)
            for username, role, fields, name in _accounts(ctx, tenant, outlet_id):
                password = secrets.token_urlsafe(9)
                accounts.add_user(
                    uow.session,
                    passwords,
                    clock.now(),
                    username,
                    password,
                    role,
                    display_name=name,
                    known_tenants=ctx.directory.centers,
                    **fields,
                )
                made.append({"username": username, "password": password, "role": role, "name": name, **fields})
            uow.commit()
    finally:
        store.dispose()
    ok = True
    lines.append(f"  {len(made)} portal accounts (one per role); each signs in through POST /api/v1/auth/login:")
    for account in made:
        resp = ctx.gateway.http.post(
            ctx.gateway.base_url + "/api/v1/auth/login",
            json={"username": account["username"], "password": account["password"]},
            timeout=30,
        )
        account["api_login"] = resp.status_code
        ok &= resp.status_code == 200
        where = account.get("outlet") or account.get("warehouse") or account.get("tenant") or "all centers"
        lines.append(f"    {account['username']:<15} {account['role']:<9} {where:<10} -> HTTP {resp.status_code}")
    outlet_account = next(a for a in made if a["role"] == "outlet")
    shown, status = _portal_jobs(ctx, outlet_account)
    ok &= status == 200
    lines.append(
        f"  {outlet_account['username']} signs in at /login and sees {shown} jobs of {outlet_id} "
        f"({jobs} open visits on the board) -> HTTP {status}"
    )
    statement_id, line = demo_outlet.ensure_statement(ctx, tenant, outlet_id)  # the statement's picture
    lines.append(line)
    lines += _screenshots(ctx, outlet_account, statement_id)
    lines.append(demo_reports.generate(ctx))  # the reports pages list last month's
    lines += demo_center.screenshots(ctx, next(a for a in made if a["role"] == "center"), fsm_browser)
    lines += demo_warehouse.screenshots(ctx, next(a for a in made if a["role"] == "warehouse"), fsm_browser)
    lines += demo_hq_approvals.screenshots(ctx, next(a for a in made if a["role"] == "hq"), fsm_browser)
    lines += demo_hq.screenshots(ctx, next(a for a in made if a["role"] == "hq"), fsm_browser)
    ctx.notes["gateway"] = {"accounts": made}
    return lines, ok


def _portal_jobs(ctx, account):
    """Sign in through the portal's form as a browser does; (job cards on the jobs page, status)."""
    import requests

    base = ctx.gateway.base_url
    s = requests.Session()
    page = s.get(base + "/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    if token is None:
        return 0, page.status_code
    form = {"csrf_token": token.group(1), "username": account["username"], "password": account["password"]}
    resp = s.post(base + "/login?next=/outlet/jobs", data=form, timeout=60)
    return resp.text.count('<article class="job'), resp.status_code


def _screenshots(ctx, account, statement_id=None):
    """The sign-in page, the outlet's jobs and its first job at 390 px and 1280 px, as PNGs in the
    run folder (listed at the end of the report). Without Chromium: a line saying why."""
    from fsm.browser import BrowserMissing, desktop, phone, screenshot, start_chromium

    try:
        driver = start_chromium()
    except BrowserMissing as exc:
        return [f"  portal screenshots: none ({exc})"]
    folder = ctx.run_folder("screenshots")
    base = ctx.gateway.base_url
    written = []
    try:
        for width, size in (("390", phone), ("1280", desktop)):
            driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
            size(driver)
            driver.get(base + "/login")
            written.append((screenshot(driver, folder / f"portal-login-{width}.png"), f"portal sign-in, {width} px"))
            driver.find_element("name", "username").send_keys(account["username"])
            driver.find_element("name", "password").send_keys(account["password"])
            driver.find_element("css selector", "main form button[type=submit]").click()
            _wait_for_path(driver, "/outlet/jobs")
            path = folder / f"portal-jobs-{width}.png"
            written.append((screenshot(driver, path), f"the outlet's jobs page, {width} px"))
            links = driver.find_elements("css selector", "a.job-number")
            if links:
                driver.get(links[0].get_attribute("href"))
                written.append((screenshot(driver, folder / f"portal-job-{width}.png"), f"a job, {width} px"))
            written += demo_outlet.screenshots(driver, screenshot, base, folder, width, statement_id)
    except Exception as exc:  # pictures are a by-product: the demo goes on, and says what happened
        return [f"  portal screenshots: stopped ({type(exc).__name__}: {exc})"]
    finally:
        driver.quit()
    for path, what in written:
        ctx.record_document(path, what)
    names = sorted({path.stem.removeprefix("portal-").rsplit("-", 1)[0] for path, _ in written})
    return [f"  portal screenshots: {len(written)} ({', '.join(names)}; 390 and 1280 px) in {folder}"]


def _wait_for_path(driver, path, timeout=30):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.current_url.split("?")[0].endswith(path):
            return
        time.sleep(0.1)
    raise TimeoutError(f"the portal did not reach {path} (at {driver.current_url})")


def summary(ctx):
    notes = ctx.notes.get("gateway")
    if not notes:
        return []
    base = ctx.gateway.base_url if ctx.gateway else "http://127.0.0.1:8000"
    out = [f"portal accounts (sign in at {base}/login while the demo runs; new passwords each run):"]
    for a in notes["accounts"]:
        where = a.get("outlet") or a.get("warehouse") or a.get("tenant") or "HQ"
        out.append(f"  {a['username']:<15} password {a['password']:<14} {ROLE_NAMES[a['role']]} {where}  ({a['name']})")
    if ctx.run_dir is not None:
        out.append(
            f"  afterwards, on this run's data: VAR_DIR={ctx.run_dir} make run, then http://127.0.0.1:8000/login"
        )
    return out
