"""Intake's part of `fsm demo`, the lead: the sample requests registered by RPC (dates moved back
whole weeks so that none lies in the future), their ``ticket.registered`` events watched on
``intake.events``, a center agent taking a ticket and a complaint through the gateway; and the
report's opening: tickets per tenant by SLA tier, warranty and kind, the earliest on-site
deadlines, the rows sent to HQ triage."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import eventlet

from fsm.common import SAMPLE_REQUESTS, CliError, format_table, local_time, pad, print_error, progress, step_line
from services.intake.cli import error_table, import_principal, read_requests, send_rpc
from services.intake.domain import TRIAGE_TENANT
from shared.clock import LOCAL_TZ
from shared.sla import KINDS, TIERS

REPORT_TIERS = TIERS + ("unplaced",)


# ====================================================================== the part
def prepare(ctx):
    """Read the requests before anything starts (a bad file or center fails at once)."""
    from shared.tenants import TenantDirectory

    path = ctx.option("requests") or str(SAMPLE_REQUESTS)
    _, rows = read_requests(path)
    if not rows:
        raise CliError(f"{path}: no data rows")
    shifted = 0 if ctx.option("no_shift") else shift_into_past(rows)
    centers = ctx.option("centers")
    if centers:
        unknown = set(centers) - set(TenantDirectory.from_config(ctx.config).centers) - {TRIAGE_TENANT}
        if unknown:
            raise CliError(f"unknown center(s): {', '.join(sorted(unknown))}")
    ctx.requests = rows
    ctx.notes["intake"] = {"shifted": shifted}


def run(ctx):
    from shared.tenancy import Principal

    notes = ctx.notes.setdefault("intake", {"shifted": 0})
    rows, timings = ctx.requests, ctx.timings
    event_timeout = ctx.option("event_timeout", 20.0)
    tap = ctx.tap = EventTap(ctx.config["AMQP_URI"])
    try:
        with ctx.rpc("intake", Principal("fsm-demo", "hq"), timeout=60) as intake:
            intake.list_tickets({"limit": 1})

            t1 = time.monotonic()
            with progress(len(rows), "import via rpc") as bar:
                send_rpc(rows, ctx.config, import_principal(None), ctx.option("batch", 50), bar)
            timings["import"] = time.monotonic() - t1

            t1 = time.monotonic()
            expected = {
                r.result["ticket_id"]
                for r in rows
                if r.result
                and r.result["ok"]
                and r.result.get("tenant_id") != TRIAGE_TENANT
                and not r.result.get("duplicate")
            }
            events_ok = tap.wait_registered(expected, timeout=event_timeout)
            timings["events"] = time.monotonic() - t1
            if not events_ok:
                print_error(
                    f"only {len(tap.registered_ids & expected)} of {len(expected)} ticket.registered "
                    f"events arrived within {event_timeout:.0f} s"
                )

            t1 = time.monotonic()
            workflow_lines, workflow_ok = workflow(ctx.gateway, all_tickets(intake))
            timings["workflow"] = time.monotonic() - t1
            eventlet.sleep(0.5)  # let the relay publish what the workflow emitted
            tap.drain()
            ctx.tickets = all_tickets(intake)
            notes.update(summary=intake.sla_summary(), expected=expected, events_ok=events_ok)
    finally:
        tap.close()
    if any(not (r.result and r.result["ok"]) for r in rows):
        ctx.partial = True
    return ["Workflow through the gateway API (center token):"] + workflow_lines, events_ok and workflow_ok


def all_tickets(intake, page=500) -> list:
    items, offset = [], 0
    while True:
        res = intake.list_tickets({"limit": page, "offset": offset})
        items.extend(res["items"])
        offset += len(res["items"])
        if not res["items"] or offset >= res["total"]:
            return items


def shift_into_past(rows, now=None) -> int:
    """Move every row's dates back by whole weeks so that no request lies in the future.

    The sample export runs up to a fixed date; on a machine whose clock is earlier, intake
    rightly refuses requests "received" in the future. Whole weeks keep weekdays and times
    of day (and so the working-time SLA arithmetic) alike. Returns the weeks shifted (0: none).
    """
    now = now or datetime.now(UTC)
    latest = None
    for row in rows:
        value = row.payload.get("received_at")
        if not value:
            continue
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            continue
        dt = dt if dt.tzinfo else dt.replace(tzinfo=LOCAL_TZ)
        latest = dt if latest is None or dt > latest else latest
    if latest is None or latest < now - timedelta(minutes=5):
        return 0
    weeks = int((latest - now) / timedelta(weeks=1)) + 1
    delta = timedelta(weeks=weeks)
    for row in rows:
        for key in ("received_at", "purchase_date", "wished_visit_at"):
            value = row.payload.get(key)
            if not value:
                continue
            try:
                if len(value) == 10:
                    row.payload[key] = (date.fromisoformat(value) - delta).isoformat()
                else:
                    row.payload[key] = (datetime.fromisoformat(value) - delta).isoformat()
            except ValueError:
                pass  # left for intake to report
    return weeks


class EventTap:
    """A private queue on ``intake.events`` (every routing key) read with pika: what was published."""

    def __init__(self, amqp_uri, source="intake"):
        import pika

        from shared.bridge import pika_parameters

        self.connection = pika.BlockingConnection(pika_parameters(amqp_uri, connection_attempts=1, socket_timeout=10))
        self.channel = self.connection.channel()
        exchange = f"{source}.events"
        # the same declaration nameko's publishers make (topic, durable, not auto-delete)
        self.channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True, auto_delete=False)
        self.queue = f"fsm-demo-tap-{uuid.uuid4().hex[:8]}"
        self.channel.queue_declare(self.queue, exclusive=True, auto_delete=True)
        self.channel.queue_bind(self.queue, exchange, routing_key="#")
        self.counts = Counter()
        self.registered_ids = set()
        self.registered_by_tenant = Counter()

    def drain(self) -> int:
        got = 0
        while True:
            method, _props, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return got
            got += 1
            self.counts[method.routing_key] += 1
            if method.routing_key == "ticket.registered":
                try:
                    payload = json.loads(body)
                except ValueError:
                    continue
                self.registered_ids.add(payload.get("ticket_id"))
                self.registered_by_tenant[payload.get("tenant_id")] += 1

    def wait_registered(self, ticket_ids: set, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            if ticket_ids <= self.registered_ids:
                return True
            if time.monotonic() > deadline:
                return False
            eventlet.sleep(0.1)

    def close(self):
        try:
            if self.connection.is_open:
                self.connection.close()
        except Exception:  # pragma: no cover
            pass


# ====================================================================== the workflow
def workflow(gateway, tickets: list) -> tuple[list[str], bool]:
    """A center agent accepts a ticket and takes a complaint through 立案 → 内查 → 派员预案."""
    from shared.tenancy import Principal

    lines, ok = [], True

    def local(iso):
        return local_time(iso) if iso else "-"

    def met(t, sla):
        d = next((d for d in t.get("deadlines", []) if d["sla"] == sla), None)
        if d is None:
            return f"{sla}: no deadline"
        state = ("met late" if d.get("breached_at") else "met in time") if d.get("met_at") else "open"
        return f"{sla} due {local(d['due_at'])}: {state}"

    def step(principal, ticket_id, action, note, **extra):
        nonlocal ok
        status, body = gateway.call(
            "POST",
            f"/api/v1/tickets/{ticket_id}/transitions",
            principal,
            json={"action": action, "note": note, **extra},
        )
        if status >= 400:
            ok = False
        return status, body

    repair = next(
        (t for t in tickets if t["tenant_id"] == "C01" and t["status"] == "registered" and t["kind"] == "repair"), None
    ) or next((t for t in tickets if t["status"] == "registered" and t["kind"] != "complaint"), None)
    if repair is None:
        return ["  (no registered ticket to accept)"], False
    agent = Principal(f"demo-agent-{repair['tenant_id'].lower()}", "center", tenant=repair["tenant_id"])
    lines.append(
        f"{agent.user} ({repair['tenant_id']}) accepts {repair['number']} "
        f"({repair['kind']}, {repair['city'] or repair['province']}):"
    )
    status, body = gateway.call("GET", "/api/v1/tickets?status=registered&kind=repair&limit=1", agent)
    lines.append(
        step_line(
            "GET /tickets?status=registered",
            status,
            body,
            lambda b: f"{b['total']} registered repair tickets in {agent.tenant}",
        )
    )
    status, body = step(agent, repair["id"], "accept", "受理: 已电话联系客户")
    lines.append(step_line("accept (受理)", status, body, lambda b: f"status {b['status']}, {met(b, 'accept')}"))
    other = Principal("demo-agent-other", "center", tenant="C02" if repair["tenant_id"] != "C02" else "C01")
    status, body = gateway.call("GET", f"/api/v1/tickets/{repair['id']}", other)
    lines.append(
        f"  {pad(f'GET it as a {other.tenant} agent', 32)} -> HTTP {status}  "
        + ("not found: other tenants cannot see it" if status == 404 else "VISIBLE (tenancy leak!)")
    )
    if status != 404:
        ok = False

    complaint = next(
        (
            t
            for t in tickets
            if t["tenant_id"] == agent.tenant and t["kind"] == "complaint" and t["case_state"] == "accepted"
        ),
        None,
    ) or next(
        (
            t
            for t in tickets
            if t["kind"] == "complaint" and t["case_state"] == "accepted" and t["tenant_id"] != TRIAGE_TENANT
        ),
        None,
    )
    if complaint is None:
        lines.append("  (no complaint to take through the case workflow)")
        return lines, False
    agent = Principal(f"demo-agent-{complaint['tenant_id'].lower()}", "center", tenant=complaint["tenant_id"])
    lines.append(
        f"{agent.user} ({complaint['tenant_id']}) takes complaint {complaint['number']} "
        f"({complaint['fault'] or complaint['product_line']}) through the case workflow:"
    )
    for action, label, note, extra in (
        ("register", "register (立案)", "立案: 客户投诉设备质量", {}),
        (
            "internal_check",
            "internal_check (内查)",
            "内查: 调取出厂检验记录",
            {"cause": "product_quality", "responsibility": "own"},
        ),
        ("plan_dispatch", "plan_dispatch (派员预案)", "派员预案: 派工程师现场核实", {}),
    ):
        status, body = step(agent, complaint["id"], action, note, **extra)
        lines.append(
            step_line(
                label,
                status,
                body,
                lambda b, action=action: (
                    f"status {b['status']}, case {b['case_state']}"
                    + (f", {met(b, 'complaint_plan')}" if action == "plan_dispatch" else "")
                    # 立案 first is the complaint's acceptance (受理): it meets the accept deadline
                    + (f", {met(b, 'accept')}" if action == "register" else "")
                ),
            )
        )
        if status >= 400:
            break
    status, body = gateway.call("GET", f"/api/v1/tickets/{complaint['id']}", agent)
    if status == 200:
        trail = " → ".join(f"{a['action']}({a['to_state']})" for a in body.get("audit", []))
        lines.append(f"  audit trail: {trail}")
    return lines, ok


# ====================================================================== the report's opening
def calendar_line() -> str:
    """What the services' working-day calendar knows of the next 90 days: the years it does not
    know and how to fix it (`fsm calendar import`), or that every day is covered."""
    from shared import clock
    from shared.workcal import ChinaCalendar, outlook

    found = outlook(ChinaCalendar.default(), clock.now())
    return ("WARNING " if found.warning else "") + found.message()


def summary(ctx) -> list[str]:
    notes = ctx.notes.get("intake") or {}
    tickets, directory, import_rows, tap, timings = ctx.tickets, ctx.directory, ctx.requests, ctx.tap, ctx.timings
    expected, events_ok = notes.get("expected", set()), notes.get("events_ok", False)
    summary_by_tenant, shifted_weeks, centers = notes.get("summary") or {}, notes.get("shifted"), ctx.option("centers")
    out = []
    by_tenant = defaultdict(list)
    for t in tickets:
        by_tenant[t["tenant_id"]].append(t)
    tenants = sorted(directory.centers) + [TRIAGE_TENANT]
    tenants += sorted(set(by_tenant) - set(tenants))
    if centers:
        tenants = [t for t in tenants if t in centers]

    rows_ok = [r for r in import_rows if r.result and r.result["ok"]]
    failed = [r for r in import_rows if not (r.result and r.result["ok"])]
    triage_rows = [r for r in rows_ok if r.result.get("tenant_id") == TRIAGE_TENANT]
    placed = len(rows_ok) - len(triage_rows)

    out.append(
        f"requests registered: {len(rows_ok)}/{len(import_rows)} "
        f"({placed} placed with {len([t for t in directory.centers if by_tenant.get(t)])} centers, "
        f"{len(triage_rows)} in HQ triage, {len(failed)} failed)"
    )
    out.append(f"tickets in intake:   {len(tickets)}")
    event_list = ", ".join(f"{k} {v}" for k, v in sorted(tap.counts.items())) or "none"
    out.append(f"events seen:         {sum(tap.counts.values())} on intake.events ({event_list})")
    out.append(
        f"ticket.registered:   {len(tap.registered_ids & expected)}/{len(expected)} "
        f"expected ({'all published' if events_ok else 'MISSING SOME'}; triage tickets publish none)"
    )
    if shifted_weeks:
        out.append(
            f"dates:               shifted back {shifted_weeks} weeks so that no request lies in the "
            "future (the sample runs past today)"
        )
    out.append("calendar:            " + calendar_line())
    out.append("timings:             " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    out.append("")

    per = {}
    for tenant in tenants:
        items = by_tenant.get(tenant, [])
        tiers = Counter((t["tier"] or "unplaced") for t in items)
        s_tiers = (summary_by_tenant.get(tenant) or {}).get("by_tier", {})
        if s_tiers and dict(s_tiers) != dict(tiers):  # sla_summary counts in SQL; prefer it if they differ
            tiers = Counter(s_tiers)
        per[tenant] = {
            "n": len(items),
            "tiers": tiers,
            "kinds": Counter(t["kind"] for t in items),
            "warranty": Counter(t["warranty"] for t in items),
            "open": sum(1 for t in items if t["status"] not in ("closed", "cancelled")),
        }

    def name_of(tenant):
        return directory.centers[tenant].name if tenant in directory.centers else "HQ triage (待分拨)"

    header = [
        "tenant",
        "tickets",
        "open",
        "local",
        "in_province",
        "out_of_province",
        "unplaced",
        "warranty",
        "self_paid",
        "unknown",
        "events",
    ]
    table, totals = [header], Counter()
    for tenant in tenants:
        d = per[tenant]
        counts = (
            [d["n"], d["open"]]
            + [d["tiers"].get(x, 0) for x in REPORT_TIERS]
            + [d["warranty"].get(w, 0) for w in ("warranty", "self_paid", "unknown")]
            + [tap.registered_by_tenant.get(tenant, 0)]
        )
        totals.update(dict(zip(header[1:], counts)))
        table.append([tenant] + [str(c) for c in counts])
    table.append(["all"] + [str(totals[k]) for k in header[1:]])
    out.append("Tickets per tenant by SLA tier and warranty (保修 / 自费); events = ticket.registered seen:")
    out.append(format_table(table, align="l" + "r" * (len(header) - 1)))
    out.append("")

    header = ["tenant", "center"] + list(KINDS)
    table, totals = [header], Counter()
    for tenant in tenants:
        kinds = per[tenant]["kinds"]
        totals.update(kinds)
        table.append([tenant, name_of(tenant)] + [str(kinds.get(k, 0)) for k in KINDS])
    table.append(["all", ""] + [str(totals.get(k, 0)) for k in KINDS])
    out.append("Tickets per tenant by kind:")
    out.append(format_table(table, align="ll" + "r" * len(KINDS)))
    out.append("")

    out.append("Earliest open on-site deadlines per tenant (Asia/Shanghai time):")
    table = [["tenant", "#", "ticket", "due (CST)", "tier"]]
    for tenant in tenants:
        entries = (summary_by_tenant.get(tenant) or {}).get("earliest_onsite", [])[:3]
        if not entries:
            if tenant != TRIAGE_TENANT:
                table.append([tenant, "", "(none open)", "", ""])
            continue
        for i, e in enumerate(entries, 1):
            table.append([tenant if i == 1 else "", str(i), e["number"], local_time(e["due_at"]), e.get("tier") or ""])
    out.append(format_table(table, align="lrlll"))
    out.append("")

    out.append(f"Rows sent to HQ triage ({len(triage_rows)}): the territory cannot be told from the address")
    if triage_rows:
        by_number = {t["number"]: t for t in tickets}
        table = [["row", "request id", "address", "why", "candidates"]]
        for r in triage_rows:
            t = by_number.get(r.result.get("number"), {})
            why = t.get("triage_reason") or "unplaced"
            candidates = ""
            if t.get("geo_ambiguous") or why == "ambiguous district name":
                geo = _geocoder().parse(r.payload.get("address"))
                candidates = ", ".join(f"{c['city']}{c['district']}" for c in geo.candidates[:4])
            table.append([str(r.number), r.request_id, r.payload.get("address", ""), why, candidates])
        out.append(format_table(table, align="rllll"))
    out.append("")

    if failed:
        out.append(error_table(failed))
        out.append("")
    return out


_GEOCODER = None


def _geocoder():
    global _GEOCODER
    if _GEOCODER is None:
        from shared.geo import ChinaGeocoder

        _GEOCODER = ChinaGeocoder()
    return _GEOCODER
