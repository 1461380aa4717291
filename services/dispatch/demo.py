"""Dispatch's part of `fsm demo`: the technicians imported, a live day of hotline calls received
now, one re-optimisation per tenant (the visits of intake's tickets planned, the unassignable
ones with their reasons), one technician's route on the first planned day, and an outlet
checking in and out of its first visit through the gateway until intake resolves the ticket."""

from __future__ import annotations

import csv
import time
from collections import Counter, defaultdict
from datetime import datetime

import eventlet

from fsm.common import CliError, chunks, fields_text, format_table, local_time, progress, short, step_line
from shared.clock import LOCAL_TZ
from shared.config import REPO_ROOT
from shared.events import ONSITE_KINDS

TECHNICIANS_CSV = REPO_ROOT / "shared" / "data" / "technicians.csv"
LIVE_KINDS = ("repair", "install", "maintenance")
LIVE_PER_CENTER = 7  # the "live day": 7 hotline calls per center, received now
DEMO_SOLVE_SECONDS = 2.0  # DISPATCH_TIME_LIMIT for the demo


def prepare(ctx):
    """Short solves, and no planning on dispatch's own timer: each new visit makes its tenant
    "dirty", and while 300 historical tickets stream in that would re-solve every tenant again
    and again on a two-core machine; the part re-optimises each tenant once, explicitly."""
    ctx.config["DISPATCH_TIME_LIMIT"] = DEMO_SOLVE_SECONDS
    ctx.config["DISPATCH_BATCH_SECONDS"] = 10**9
    ctx.config["DISPATCH_REOPT_SECONDS"] = 10**9


def run(ctx):
    with ctx.rpc("intake", timeout=60) as intake, ctx.rpc("dispatch", timeout=180) as dispatch:
        return _run(ctx, intake, dispatch)


def _run(ctx, intake, dispatch) -> tuple[list[str], bool]:
    from shared.tenancy import Principal

    lines, ok = [], True
    timings, directory, event_timeout = ctx.timings, ctx.directory, ctx.option("event_timeout", 20.0)
    centers = set(directory.centers)

    # -- technicians
    t1 = time.monotonic()
    techs = read_technicians()
    results = dispatch.import_technicians(techs)
    failed = [r for r in results if not r["ok"]]
    timings["technicians"] = time.monotonic() - t1
    lines.append(
        f"technicians imported: {len(results) - len(failed)}/{len(techs)} from "
        f"{TECHNICIANS_CSV.relative_to(REPO_ROOT)}"
        + (f" ({len(failed)} failed: {failed[0]['error']} {fields_text(failed[0].get('fields'))})" if failed else "")
    )
    if failed:
        ok = False

    # -- the live day: hotline calls received now
    t1 = time.monotonic()
    live = live_day_payloads(ctx.requests, centers)
    answers = send_live_day(ctx, live)
    live_ok = [res for res in answers if res["ok"] and not res.get("duplicate")]
    live_ids = {res["ticket_id"] for res in live_ok}
    if len(live_ok) != len(live):
        ok = False
        payload, res = next((p, r) for p, r in zip(live, answers) if r not in live_ok)
        lines.append(f"  live request {payload['external_ref']} failed: {res.get('error')}")
    onsite = sum(
        1 for t in ctx.tickets if t["tenant_id"] in centers and t["status"] != "triage" and t["kind"] in ONSITE_KINDS
    )
    onsite += sum(1 for res in live_ok if res["tenant_id"] in centers)
    n_visits = _wait_visits(dispatch, onsite, event_timeout)
    timings["live day"] = time.monotonic() - t1
    live_by_tenant = Counter(res["tenant_id"] for res in live_ok)
    lines.append(
        f"live day: {len(live_ok)} hotline requests received now "
        f"({', '.join(f'{t} {n}' for t, n in sorted(live_by_tenant.items()))}); "
        f"visits in dispatch: {n_visits}/{onsite} on-site tickets"
    )
    if n_visits < onsite:
        ok = False
        lines.append(f"  only {n_visits} of {onsite} visits arrived within {event_timeout:.0f} s")

    # -- one re-optimisation per tenant, in sequence
    t1 = time.monotonic()
    tenants = sorted(directory.centers)
    with progress(len(tenants), f"dispatch re-optimise ({DEMO_SOLVE_SECONDS:g} s each)", unit="tenant") as bar:
        for tenant in tenants:
            bar.set_postfix_str(tenant)
            dispatch.reoptimise(tenant)
            bar.update(1)
    timings["planning"] = time.monotonic() - t1

    visits = all_visits(dispatch)
    plan_lines, planned_ok = _plan_table(dispatch, visits, tenants, timings)
    lines.extend(plan_lines)
    ok = ok and planned_ok
    live_visits = [v for v in visits if v["ticket_id"] in live_ids]
    live_sched = [v for v in live_visits if v["status"] == "scheduled"]
    live_on_time = [v for v in live_sched if not v["late_risk"]]
    lines.append(
        f"live-day visits: {len(live_visits)}, {len(live_sched)} scheduled, {len(live_on_time)} of them "
        "before their on-site due"
    )
    lines.append("")

    # -- one technician's route on the first planned day
    scheduled = [v for v in visits if v["status"] == "scheduled" and v.get("planned_arrival")]
    if not scheduled:
        lines.append("no visit was scheduled: no route to show")
        return lines, False
    day_of = {v["id"]: datetime.fromisoformat(v["planned_arrival"]).astimezone(LOCAL_TZ).date() for v in scheduled}
    first_day = min(day_of.values())
    stops = Counter(v["technician_id"] for v in scheduled if day_of[v["id"]] == first_day)
    tech_id = sorted(stops, key=lambda t: (-stops[t], t))[0]
    names = {t["id"]: t for t in dispatch.list_technicians()}
    tech = names.get(tech_id, {})
    route = dispatch.route(tech_id, {"date": first_day.isoformat()})
    lines.append(
        f"Route of {tech_id} {tech.get('name', '')} (outlet {route['outlet_id']}) on {route['date']}, "
        f"the first planned day: {len(route['stops'])} stops, {route['planned_km']:.1f} km "
        "(times Asia/Shanghai):"
    )
    table = [["#", "arrival", "ticket", "kind", "city", "product line", "leg km", "on-site due"]]
    for s in route["stops"]:
        table.append(
            [
                str(s["order"]),
                local_time(s["planned_arrival"])[11:],
                s["ticket_number"],
                s["kind"],
                s["city"] or "",
                s["product_line"] or "",
                f"{s['leg_km'] or 0:.1f}",
                local_time(s["onsite_due"]) if s.get("onsite_due") else "-",
            ]
        )
    lines.append(format_table(table, align="rlllllrl"))
    lines.append("")

    # -- the outlet checks in and out of its first visit, through the gateway
    t1 = time.monotonic()
    outlet_id = route["outlet_id"]
    tenant = tech.get("tenant_id") or directory.outlets[outlet_id].center
    outlet = Principal(f"demo-outlet-{outlet_id.lower()}", "outlet", tenant=tenant, outlet=outlet_id)
    gateway = ctx.gateway
    lines.append(f"{outlet.user} (outlet token) does its first visit through the gateway API:")
    status, body = gateway.call("GET", "/api/v1/outlet/jobs?status=scheduled&limit=1000", outlet)
    lines.append(
        step_line(
            "GET /outlet/jobs?status=scheduled", status, body, lambda b: f"{b['total']} scheduled jobs of {outlet_id}"
        )
    )
    if status != 200 or not body["items"]:
        return lines, False
    job = min(body["items"], key=lambda v: (v["planned_arrival"], v["route_order"] or 0))
    lines.append(
        f"  first visit: {job['ticket_number']} ({job['kind']}, {job['city']}, {job['product_line']}), "
        f"planned {local_time(job['planned_arrival'])} with {job['technician_id']}"
    )
    status, body = gateway.call(
        "POST",
        f"/api/v1/visits/{job['id']}/check-in",
        outlet,
        json={"lat": job["lat"], "lon": job["lon"], "technician_id": job["technician_id"]},
    )
    lines.append(
        step_line(
            "POST /visits/<id>/check-in",
            status,
            body,
            lambda b: f"visit {b['status']}, on-site on time: {b['onsite_on_time']}",
        )
    )
    if status != 200:
        return lines, False
    status, body = gateway.call(
        "POST",
        f"/api/v1/visits/{job['id']}/check-out",
        outlet,
        json={"work_done": "现场检修: 故障排除, 试机正常", "parts_used": [], "customer_confirmed": True},
    )
    lines.append(step_line("POST /visits/<id>/check-out", status, body, lambda b: f"visit {b['status']}"))
    if status != 200:
        return lines, False
    deadline = time.monotonic() + event_timeout
    while True:  # intake learns it from dispatch's events
        ticket = intake.get_ticket(job["ticket_id"])
        if ticket["status"] == "resolved" or time.monotonic() > deadline:
            break
        eventlet.sleep(0.2)
    timings["on site"] = time.monotonic() - t1
    lines.append(
        f"  ticket {ticket['number']} in intake: status {ticket['status']}, {_deadline_state(ticket, 'onsite')}"
    )
    if ticket["status"] != "resolved":
        ok = False
    return lines, ok


def _plan_table(dispatch, visits, tenants, timings) -> tuple[list[str], bool]:
    """Each tenant's visits after its re-optimisation, and the top reasons of the unassignable."""
    lines, ok = [], True
    runs = {}
    for run in dispatch.plan_runs(200):  # newest first
        if run["trigger"] == "manual" and run["tenant_id"] not in runs:
            runs[run["tenant_id"]] = run
    by_tenant = defaultdict(list)
    for v in visits:
        by_tenant[v["tenant_id"]].append(v)
    lines.append(
        f"planning: one re-optimisation per tenant, {DEMO_SOLVE_SECONDS:g} s solver limit each, "
        f"{timings['planning']:.1f} s in all (automatic planning off for the demo); "
        "overdue historical visits are planned late, after the on-time ones"
    )
    header = [
        "tenant",
        "visits",
        "scheduled",
        "of them late",
        "unassignable",
        "late risk",
        "planned km",
        "solve s",
        "tech-days",
    ]
    table, totals = [header], Counter()
    for tenant in tenants:
        run = runs.get(tenant)
        items = by_tenant.get(tenant, [])
        status = Counter(v["status"] for v in items)
        risk = sum(1 for v in items if v["late_risk"])
        if run is None:
            table.append(
                [
                    tenant,
                    str(len(items)),
                    str(status.get("scheduled", 0)),
                    "",
                    str(status.get("unassignable", 0)),
                    str(risk),
                    "",
                    "(no run)",
                    "",
                ]
            )
            ok = False
            continue
        row = {
            "visits": run["visits"],
            "scheduled": run["scheduled"],
            "of them late": run["late"],
            "unassignable": run["dropped"],
            "late risk": risk,
        }
        totals.update(row)
        totals["km"] += run["planned_km"] or 0.0
        totals["s"] += run["seconds"] or 0.0
        table.append(
            [tenant]
            + [str(row[k]) for k in header[1:6]]
            + [f"{run['planned_km'] or 0:.0f}", f"{run['seconds']:.1f}", str(run["vehicles"])]
        )
    table.append(["all"] + [str(totals[k]) for k in header[1:6]] + [f"{totals['km']:.0f}", f"{totals['s']:.1f}", ""])
    lines.append("Visits per tenant after planning (late risk: planned past, or still open near, the on-site due):")
    lines.append(format_table(table, align="l" + "r" * (len(header) - 1)))
    if sum(int(r[2]) for r in table[1:-1] if r[2].isdigit()) == 0:
        ok = False
    reasons = defaultdict(Counter)
    for v in visits:
        if v["status"] == "unassignable":
            reasons[v["tenant_id"]][v.get("unassignable_reason") or "?"] += 1
    if reasons:
        lines.append("Unassignable visits, top reasons:")
        for tenant in tenants:
            for i, (why, n) in enumerate(reasons[tenant].most_common(2)):
                lines.append(f"  {tenant if i == 0 else '':4}  {n:3d} x {short(why, 90)}")
    return lines, ok


def read_technicians(path=TECHNICIANS_CSV) -> list[dict]:
    from services.dispatch.schemas import technician_row_to_payload

    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return [technician_row_to_payload(r) for r in csv.DictReader(fh)]
    except OSError as exc:
        raise CliError(f"cannot read the technicians {path}: {exc}") from None


def live_day_payloads(requests, centers, per_center=LIVE_PER_CENTER, stamp=None) -> list[dict]:
    """Hotline calls received now: the address, product and fault of the first imported requests
    of each center (repair, install, maintenance), without the export's dates and with fresh
    references."""
    stamp = stamp or datetime.now(LOCAL_TZ).strftime("%y%m%d%H%M%S")
    picked, per = [], Counter()
    for r in requests:
        res = r.result or {}
        tenant = res.get("tenant_id")
        if not res.get("ok") or tenant not in centers or r.payload.get("kind") not in LIVE_KINDS:
            continue
        if per[tenant] >= per_center:
            continue
        per[tenant] += 1
        payload = {k: v for k, v in r.payload.items() if k not in ("received_at", "wished_visit_at", "external_ref")}
        payload["channel"] = "hotline"
        payload["external_ref"] = f"LIVE-{stamp}-{len(picked) + 1:03d}"
        picked.append(payload)
    return picked


def send_live_day(ctx, payloads) -> list[dict]:
    """The calls registered by intake as the import does (HQ's importer, a batch per RPC); a batch
    that fails is a failed answer for each of its calls."""
    from shared.tenancy import Principal

    answers = []
    with ctx.rpc("intake", Principal("fsm-import", "hq")) as intake, progress(len(payloads), "live day via rpc") as bar:
        for chunk in chunks(payloads, ctx.option("batch", 50)):
            try:
                answers.extend(intake.import_requests(chunk))
            except Exception as exc:
                message = getattr(exc, "message", None) or str(exc)
                answers.extend({"ok": False, "error": f"batch failed: {message}"} for _ in chunk)
            bar.update(len(chunk))
    return answers


def all_visits(dispatch, page=1000) -> list:
    items, offset = [], 0
    while True:
        res = dispatch.board({"limit": page, "offset": offset})
        items.extend(res["items"])
        offset += len(res["items"])
        if not res["items"] or offset >= res["total"]:
            return items


def _wait_visits(dispatch, expected: int, timeout: float) -> int:
    """Wait until dispatch has made a visit of every on-site ticket (it learns them from events)."""
    deadline = time.monotonic() + timeout
    while True:
        total = dispatch.board({"limit": 1})["total"]
        if total >= expected or time.monotonic() > deadline:
            return total
        eventlet.sleep(0.2)


def _deadline_state(ticket, sla) -> str:
    d = next((d for d in ticket.get("deadlines", []) if d["sla"] == sla), None)
    if d is None:
        return f"{sla}: no deadline"
    state = ("met LATE" if d.get("breached_at") else "met in time") if d.get("met_at") else "open"
    met = f" at {local_time(d['met_at'])}" if d.get("met_at") else ""
    return f"{sla} SLA due {local_time(d['due_at'])}: {state}{met}"
