"""Settlement's part of `make demo`: the claims of the demo's completed visits, a three-level
audit of one (center → technical lead → HQ), the outlet's monthly statement with its
total, and the statement downloaded as XLSX and PDF through the gateway (both written to the
run's documents folder)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from shared.tenancy import Principal


def _claims(ctx, wait=6.0):
    deadline = time.monotonic() + wait
    while True:
        with ctx.rpc("settlement") as s:
            items = s.list_claims({"limit": 200})["items"]
        if items or time.monotonic() > deadline:
            return items
        time.sleep(0.3)


def _simulate_visits(ctx, n=2):
    """No visit was completed in this run: publish dispatch's `visit.completed` for a few of the
    demo's own tickets (settlement has their `ticket.registered`), as dispatch would."""
    import uuid

    from nameko.standalone.events import event_dispatcher

    from shared import events as catalogue

    dispatch = event_dispatcher(ctx.config)
    done = 0
    for t in ctx.tickets:
        outlets = ctx.directory.outlets_of(t.get("tenant_id")) if t.get("tenant_id") in ctx.directory.centers else []
        if t.get("kind") not in ("repair", "install", "maintenance") or not outlets:
            continue
        outlet = t.get("assigned_outlet_id") or outlets[0].id
        body = catalogue.dump(
            "visit.completed",
            {
                "tenant_id": t["tenant_id"],
                "visit_id": uuid.uuid4().hex,
                "ticket_id": t["id"],
                "outlet_id": outlet,
                "technician_id": None,
                "at": datetime.now(UTC) - timedelta(hours=1),
                "planned_km": 38.0,
                "product_line": t.get("product_line"),
                "kind": t["kind"],
                "work_done": "现场检修",
                "parts_used": [],
                "customer_confirmed": True,
                "onsite_on_time": True,
            },
        )
        dispatch("dispatch", "visit.completed", body)
        done += 1
        if done == n:
            break
    return done


def run(ctx):
    lines, ok = [], True
    gw = ctx.gateway
    claims = _claims(ctx)
    source = "from the demo's completed visits"
    if not claims:
        n = _simulate_visits(ctx)
        source = f"from {n} visit.completed published for demo tickets (no visit completed in this run)"
        claims = _claims(ctx, wait=8.0)
    lines.append(f"  {len(claims)} fee claim(s) {source}")
    if not claims:
        return lines + ["  no claim was created"], False
    # a warranty claim shows the whole path to the statement (a self-paid one waits for its receipt)
    claim = next(
        (c for c in claims if c["status"] == "center_review" and c.get("payer") == "warranty"),
        next((c for c in claims if c["status"] == "center_review"), claims[0]),
    )
    lines.append(
        f"  claim {claim['id']} ({claim.get('payer')}) of outlet {claim['outlet_id']} (grade {claim['grade']}), visit "
        f"{claim['visit_date']}, {claim['product_line']} {claim['kind']}, tariff "
        f"{'+'.join(claim['tariff_versions'])}:"
    )
    for pl in claim["price_lines"]:
        lines.append(f"    {pl['code']:<16} {pl['amount']:>9}  [{pl['tariff_line']}]")
    tripped = ", ".join(f"{r['rule']} {r['outcome']}" for r in claim["rules"] if r["outcome"] != "pass")
    lines.append(f"    {'total':<16} {claim['tariff_total']:>9}; rules: {tripped or 'all 8 pass'}")
    if claim["status"] != "center_review":
        return lines + [f"  claim is {claim['status']}: no audit to show"], ok
    tenant = claim["tenant_id"]
    steps = [
        (Principal("demo-center-auditor", "center", tenant=tenant), {"level": "center", "action": "approve"}),
        (
            Principal("demo-tech-lead", "center", tenant=tenant, duty="technical_lead"),
            {"level": "technical_lead", "action": "approve", "reason": "工作单与配件记录核对无误"},
        ),
        (Principal("demo-hq-auditor", "hq"), {"level": "hq", "action": "approve"}),
    ]
    url = f"/api/v1/settlement/claims/{claim['id']}/audit"
    status, body = gw.call("POST", url, steps[2][0], json={"level": "hq", "action": "approve"})
    refusal = body.get("error", {}) if isinstance(body, dict) else {}
    lines.append(
        f"  HQ tries to audit before the center: refused ({status} {refusal.get('code', '')}): "
        f"{refusal.get('message', body)}"
    )
    ok = ok and status == 409
    for principal, step in steps:
        status, body = gw.call("POST", url, principal, json=step)
        shown = body["status"] if status == 200 else body
        lines.append(f"  {step['level']:<15} {principal.user:<20} {step['action']:<8} -> HTTP {status} {shown}")
        ok = ok and status == 200
    if not ok:
        return lines, False
    if claim.get("payer") == "self_paid":
        # the customer paid the outlet: its receipt makes the center's share part of the statement
        outlet = Principal("demo-outlet-clerk", "outlet", tenant=tenant, outlet=claim["outlet_id"])
        status, body = gw.call(
            "POST",
            f"/api/v1/settlement/claims/{claim['id']}/receipt",
            outlet,
            json={"receipt_no": "SF-DEMO-0001", "amount": claim["tariff_total"]},
        )
        receipt = (body.get("receipt") or {}) if status == 200 else {}
        shown = (
            f"outlet's share {receipt.get('outlet_share')}, center's {receipt.get('center_share')}"
            if status == 200
            else body
        )
        lines.append(f"  self-paid: the outlet records the customer's receipt -> HTTP {status} {shown}")
        ok = ok and status == 200
    month = claim["visit_date"][:7]
    center = steps[0][0]
    status, st = gw.call(
        "POST", "/api/v1/settlement/statements", center, json={"outlet_id": claim["outlet_id"], "month": month}
    )
    if status != 201:
        return lines + [f"  statement -> HTTP {status} {st}"], False
    lines.append(
        f"  statement {st['id']} of {claim['outlet_id']} for {month}: {len(st['lines'])} line(s), "
        f"total {st['total']} yuan"
    )
    for l in st["lines"][:6]:
        lines.append(f"    {l['seq']:>2} {l['kind']:<15} {l['amount']:>10}  {l['description'][:60]}")
    outlet = Principal("demo-outlet-clerk", "outlet", tenant=tenant, outlet=claim["outlet_id"])
    headers = {"Authorization": f"Bearer {gw.token(outlet)}"}
    sizes = []
    known = ctx.directory.outlets.get(claim["outlet_id"])
    name = known.name if known else claim["outlet_id"]
    for fmt in ("xlsx", "pdf"):
        resp = gw.http.get(
            f"{gw.base_url}/api/v1/settlement/statements/{st['id']}/download/{fmt}", headers=headers, timeout=30
        )
        sizes.append(f"{fmt.upper()} {len(resp.content):,} bytes (HTTP {resp.status_code})")
        ok = ok and resp.status_code == 200
        if resp.status_code == 200:  # the file as the outlet receives it, kept in the run folder
            path = ctx.run_folder("documents") / f"statement-{claim['outlet_id']}-{month}.{fmt}"
            path.write_bytes(resp.content)
            ctx.record_document(path, f"{name}'s statement for {month}, {fmt.upper()}")
    lines.append("  downloaded by the outlet: " + ", ".join(sizes))
    status, bal = gw.call("GET", f"/api/v1/settlement/outlets/{claim['outlet_id']}/balance", outlet)
    if status == 200:
        lines.append(
            f"  balance of {claim['outlet_id']}: statements {bal['statements_total']}, paid {bal['paid']}, "
            f"owed {bal['balance']}, in review {bal['in_review']}"
        )
    return lines, ok and status == 200
