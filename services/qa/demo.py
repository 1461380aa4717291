"""The QA part of `fsm demo`: outlets finish a few jobs, QA plans their callbacks by quota, a center
agent records one satisfied and one negative result (intake reopens the ticket), HQ publishes the
month's scorecards, an outlet reads its own, and a report chart is written to a file."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import datetime

from shared.clock import LOCAL_TZ
from shared.tenancy import Principal

HQ = Principal("fsm-demo-hq-qa", "hq")


def _local(iso):
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ).strftime("%m-%d %H:%M")


def _wait(fn, timeout=6.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def _finish_jobs(ctx, lines):
    """Outlets check in and out of scheduled visits: a franchised outlet's three, a self-run one's two."""
    status, board = ctx.gateway.call("GET", "/api/v1/dispatch/board?status=scheduled&limit=1000", HQ)
    if status != 200:
        lines.append(f"  dispatch board: HTTP {status}")
        return []
    by_outlet = defaultdict(list)
    for v in board["items"]:
        if v.get("outlet_id"):
            by_outlet[v["outlet_id"]].append(v)
    kinds = {o: ctx.directory.outlets[o].kind for o in by_outlet if o in ctx.directory.outlets}
    chosen = []
    for kind, n in (("franchised", 3), ("self_run", 2)):
        outlets = sorted((o for o in by_outlet if kinds.get(o) == kind), key=lambda o: (-len(by_outlet[o]), o))
        if outlets:
            chosen += [(outlets[0], v) for v in sorted(by_outlet[outlets[0]], key=lambda v: v["planned_arrival"])[:n]]
    done = []
    for outlet_id, v in chosen:
        outlet = Principal(
            f"demo-{outlet_id.lower()}", "outlet", tenant=ctx.directory.outlets[outlet_id].center, outlet=outlet_id
        )
        s1, _ = ctx.gateway.call(
            "POST",
            f"/api/v1/visits/{v['id']}/check-in",
            outlet,
            json={"lat": v["lat"], "lon": v["lon"], "technician_id": v["technician_id"]},
        )
        s2, _ = ctx.gateway.call(
            "POST",
            f"/api/v1/visits/{v['id']}/check-out",
            outlet,
            json={"work_done": "检修完毕, 试机正常", "parts_used": [], "customer_confirmed": True},
        )
        if s1 == 200 and s2 == 200:
            done.append((outlet_id, v))
    lines.append(
        f"  outlets finished {len(done)} jobs through the gateway: "
        + ", ".join(f"{o} ({kinds[o]}) {v['ticket_number']}" for o, v in done)
    )
    return done


def run(ctx):
    lines, ok = [], True
    t0 = time.monotonic()
    done = _finish_jobs(ctx, lines)
    visit_ids = {v["id"] for _, v in done}
    with ctx.rpc("qa", HQ) as qa:

        def planned():
            items = qa.work_list({"status": "all", "caller": "all", "limit": 1000})["items"]
            mine = [c for c in items if c["visit_id"] in visit_ids]
            return (
                mine
                if {c["visit_id"] for c in mine if c["stratum"] != "hq"}
                >= {v["id"] for o, v in done if ctx.directory.outlets[o].kind == "franchised"}
                and mine
                else None
            )

        planned_now = _wait(planned) or []
        callbacks = [c for c in planned_now if c["purpose"] == "service"]
        tracking = [c for c in planned_now if c["purpose"] == "tracking"]
        if not callbacks:
            return lines + ["  no callbacks were planned from the completed visits"], False
        lines.append(
            f"  QA planned {len(callbacks)} callbacks (franchised 100%, self-run 50%, HQ 20% of each center's "
            f"month, largest remainder across its outlets, keyed-hash sample):"
        )
        for c in sorted(callbacks, key=lambda c: (c["outlet_id"], c["stratum"], c["due_at"])):
            lines.append(
                f"    {c['outlet_id']:8} {c['stratum']:10} {c['mode']:7} caller {c['caller']:3}  "
                f"served {_local(c['service_at'])}  due {_local(c['due_at'])} (3 working days)"
            )
        lines.append(
            f"  and {len(tracking)} seven-day tracking calls (七天内用户追踪), one per served ticket, the "
            f"center's, due 7 days after the service (a negative callback's follow-up is that call)"
        )

    by_tenant = defaultdict(list)
    for c in sorted(callbacks, key=lambda c: (c["due_at"], c["id"])):
        if c["caller"] != "HQ":
            by_tenant[c["tenant_id"]].append(c)
    if not by_tenant:
        return lines + ["  no center callback to make"], False
    tenant = max(sorted(by_tenant), key=lambda t: len(by_tenant[t]))
    own = by_tenant[tenant]
    center = Principal("demo-callback-agent", "center", tenant=tenant)
    good, bad = own[0], own[-1] if len(own) > 1 else None
    status, body = ctx.gateway.call(
        "POST",
        f"/api/v1/qa/callbacks/{good['id']}/result",
        center,
        json={
            "onsite_within_24h": True,
            "service_delivered": True,
            "fee_schedule_shown": True,
            "satisfaction": 5,
            "reason_codes": ["fast"],
            "comment": "师傅很专业",
        },
    )
    lines.append(
        f"  {center.user} ({center.tenant}) calls back {good['outlet_id']}'s customer -> HTTP {status} "
        f"{body.get('status') if isinstance(body, dict) else body}, satisfaction 5"
    )
    ok = ok and status == 200
    if bad is not None:
        status, body = ctx.gateway.call(
            "POST",
            f"/api/v1/qa/callbacks/{bad['id']}/result",
            center,
            json={
                "onsite_within_24h": False,
                "service_delivered": False,
                "fee_schedule_shown": True,
                "satisfaction": 2,
                "reason_codes": ["not_fixed", "late_arrival"],
                "comment": "故障没有彻底排除",
            },
        )
        lines.append(
            f"  and {bad['outlet_id']}'s customer -> HTTP {status} "
            f"{body.get('status') if isinstance(body, dict) else body} (satisfaction 2, not fixed): "
            "callback.negative published"
        )
        ok = ok and status == 200

        def reopened():
            with ctx.rpc("intake", HQ) as intake:
                t = intake.get_ticket(bad["ticket_id"])
            return t if any(a["action"] == "callback_negative" for a in t["audit"]) else None

        ticket = _wait(reopened)
        if ticket:
            lines.append(
                f"  intake received it: ticket {ticket['number']} is {ticket['status']} again, escalated "
                "to the center (audit: callback_negative)"
            )
        else:
            lines.append("  intake did not record the negative callback in time")
            ok = False

    # -- the month's scorecards
    outlet_id = (bad or good)["outlet_id"]
    month = datetime.now(LOCAL_TZ).strftime("%Y-%m")
    ctx.gateway.call(
        "POST",
        "/api/v1/qa/findings",
        HQ,
        json={"outlet_id": good["outlet_id"], "kind": "praise_company", "note": "客户致信集团公司表扬"},
    )
    status, body = ctx.gateway.call("POST", "/api/v1/qa/scorecards/publish", HQ, json={"month": month})
    lines.append(
        f"  HQ publishes the {month} scorecards -> HTTP {status} "
        f"{body.get('outlets') if isinstance(body, dict) else body} outlets, grades "
        f"{body.get('grades') if isinstance(body, dict) else ''}, not rated (no job this month) "
        f"{body.get('not_rated') if isinstance(body, dict) else ''}"
    )
    ok = ok and status == 200
    outlet = Principal(
        f"demo-{outlet_id.lower()}", "outlet", tenant=ctx.directory.outlets[outlet_id].center, outlet=outlet_id
    )
    status, card = ctx.gateway.call("GET", f"/api/v1/qa/scorecards/{outlet_id}/{month}", outlet)
    if status == 200 and card.get("rated") is False:
        lines.append(f"  {outlet_id} reads its own scorecard: not rated (未评, {card['jobs']} jobs), no rank")
    elif status == 200:
        lines.append(
            f"  {outlet_id} reads its own scorecard: {card['score']} / 100, {'★' * card['stars']}, grade "
            f"{card['grade']}, rank {card['rank_in_tenant']} in {card['tenant_id']}, "
            f"{card['rank_nationwide']} nationwide"
        )
        for line in card["lines"]:
            items = "; ".join(f"{i['label']} {i['points']:+d} ({i['count']}x)" for i in line["items"]) or "-"
            capped = f" (raw {line['raw']}, capped)" if line["capped"] else ""
            lines.append(f"    {line['label_en']:<22} {line['score']:>3}/{line['max']}  {items}{capped}")
    else:
        ok = False
        lines.append(f"  GET own scorecard -> HTTP {status}")
    other = next(o for o in sorted(ctx.directory.outlets) if o != outlet_id)
    status, _ = ctx.gateway.call("GET", f"/api/v1/qa/scorecards/{other}/{month}", outlet)
    lines.append(f"  {outlet_id} asks for {other}'s scorecard -> HTTP {status} (its own only)")
    ok = ok and status == 403

    # -- a report chart for HQ, written to a file
    out_dir = ctx.run_folder("documents")
    for kind, fmt in (("ranking", "png"), ("callbacks", "svg")):
        resp = ctx.gateway.http.get(
            f"{ctx.gateway.base_url}/api/v1/qa/reports/{kind}",
            params={"format": fmt, "month": month} if kind == "ranking" else {"format": fmt},
            headers={"Authorization": f"Bearer {ctx.gateway.token(HQ)}"},
            timeout=30,
        )
        if resp.status_code != 200:
            lines.append(f"  report {kind}.{fmt} -> HTTP {resp.status_code}")
            ok = False
            continue
        path = out_dir / f"qa-{kind}-{month}.{fmt}"
        path.write_bytes(resp.content)
        ctx.record_document(path, f"QA report chart: {kind}, {fmt.upper()}")
        lines.append(f"  report chart written: {path} ({path.stat().st_size:,} bytes)")
    lines.append(f"  ({time.monotonic() - t0:.1f} s)")
    return lines, ok
