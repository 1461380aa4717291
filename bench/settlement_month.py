"""Settlement month-end benchmark: price and audit 200,000 claims, then issue the monthly
statements of 200 outlets, against a real database (SQLite file by default).

    .venv/bin/python bench/settlement_month.py [--claims 200000] [--outlets 200]
        [--database-url sqlite:////tmp/x.db | postgresql+psycopg2://...] [--out result.json]

It runs the service's own domain functions (`domain.price`, `domain.audit`,
`domain.build_statement`) and the service's tables, but in bulk: one pass of pure Python
over the claim facts (with the tariff book, the repeat-repair index by serial, the open
holds and SLA deductions in memory), multi-row INSERTs, one UPDATE for the three audit
levels, one ordered SELECT for the statements. No RabbitMQ: going through the broker per
claim would measure the broker (a few hundred messages/s per process), not settlement.

Prints each phase's seconds, the total, and the memory: peak RSS of the process
(getrusage) and, with --tracemalloc, Python's own peak allocation (slower).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sqlalchemy import insert, select, update  # noqa: E402

from services.settlement import domain, money  # noqa: E402
from services.settlement.models import Base, Claim, Deduction, Statement, StatementLine  # noqa: E402
from services.settlement.tariff import TariffBook  # noqa: E402
from shared.db import make_engine  # noqa: E402

FAULTS = [
    "排气温度过高",
    "控制面板失灵",
    "加工精度偏差",
    "报警代码E07",
    "运行异响",
    "液压系统漏油",
    "无法启动",
    "主轴过热",
]
LINES = {"立式加工中心": 2, "数控车床": 1, "螺杆空压机": 5, "注塑机": 1, "光纤激光切割机": 2}
KINDS = ["repair"] * 7 + ["install", "maintenance", "complaint"]
TIERS = ["local"] * 6 + ["in_province"] * 3 + ["out_of_province"]
TENANTS = ["C01", "C02", "C03", "C04", "C05", "C06"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_facts(n_claims, n_outlets, month, seed=7):
    """Synthetic but realistic claim facts for one month, plus the holds and SLA breaches."""
    rnd = random.Random(seed)
    year, mon = (int(x) for x in month.split("-"))
    outlets = [(f"{TENANTS[i % 6]}-B{i:03d}", TENANTS[i % 6], "ABC"[i % 3]) for i in range(n_outlets)]
    serials = [f"SN{i:07d}" for i in range(int(n_claims * 0.8))]  # some machines come back
    facts = []
    for i in range(n_claims):
        outlet, tenant, grade = outlets[i % n_outlets]
        line = rnd.choice(list(LINES))
        day = date(year, mon, 1 + rnd.randrange(28))
        self_paid = rnd.random() < 0.1
        if self_paid:
            bought = day - timedelta(days=rnd.randrange(30, 365 * 8))
        elif rnd.random() < 0.03:  # registered in warranty, lapsed by the visit date
            bought = day - timedelta(days=365 * LINES[line] + rnd.randrange(1, 20))
        else:
            bought = day - timedelta(days=rnd.randrange(10, 365 * LINES[line] - 5))
        tier = rnd.choice(TIERS)
        km = round(rnd.uniform(2, 60) if tier == "local" else rnd.uniform(40, 600), 1)
        claimed = None
        if rnd.random() < 0.05:  # the outlet asks for more labour than the tariff
            claimed = {"labour": Decimal(rnd.randrange(300, 900))}
        facts.append(
            domain.ClaimFacts(
                tenant_id=tenant,
                outlet_id=outlet,
                visit_id=f"V{i:08d}",
                ticket_id=f"T{i:08d}",
                visit_date=day,
                kind=rnd.choice(KINDS),
                product_line=line,
                fault=rnd.choice(FAULTS),
                serial_no=rnd.choice(serials),
                tier=tier,
                planned_km=km,
                parts_count=rnd.choice((0, 0, 0, 1, 1, 2)),
                grade=grade,
                warranty="self_paid" if self_paid else "warranty",
                purchase_date=bought,
                customer_confirmed=rnd.random() > 0.01,
                claimed=claimed,
            )
        )
    holds = {f.visit_id for f in facts if rnd.random() < 0.02}
    callbacks = {f.visit_id for f in facts if rnd.random() < 0.01}
    breaches = {f.ticket_id for f in facts if rnd.random() < 0.03}
    return outlets, facts, holds, callbacks, breaches


def price_and_audit(book, facts, holds, callbacks, breaches, directory_years, deductions, batch=5000):
    """Pure domain: every claim priced from the tariff in force on its visit date and audited;
    yields the claim rows in batches (so the month never sits in memory as rows)."""
    by_serial = {}
    rows = []
    now = datetime.now(UTC)
    facts.sort(key=lambda f: f.visit_date)
    for f in facts:
        tariff = book.in_force(f.tenant_id, f.visit_date)
        p = domain.price(f, tariff, book)
        sla = ()
        if f.ticket_id in breaches:
            amount, line = tariff.sla_deduction("onsite")
            sla = (("onsite", amount, line),)
            deductions.append(
                {
                    "id": "DD" + f.ticket_id,
                    "tenant_id": f.tenant_id,
                    "kind": "sla_breach",
                    "ref": f"{f.ticket_id}:onsite",
                    "outlet_id": f.outlet_id,
                    "ticket_id": f.ticket_id,
                    "visit_id": f.visit_id,
                    "amount_fen": money.to_fen(amount),
                    "tariff_line": line,
                    "rule": "sla_breach:onsite",
                    "reason": "on-site SLA breached",
                    "effective_at": now,
                    "statement_id": None,
                }
            )
        ctx = domain.AuditContext(
            warranty_years=directory_years[f.product_line],
            prior_same_serial=tuple(by_serial.get(f.serial_no, ())),
            open_part_holds=(("RMA" + f.visit_id, "P-1", f.visit_date),) if f.visit_id in holds else (),
            open_callback_holds=(("CB" + f.visit_id, "dissatisfied"),) if f.visit_id in callbacks else (),
            sla_deductions=sla,
        )
        a = domain.audit(f, p, ctx)
        by_serial.setdefault(f.serial_no, []).append(domain.PriorClaim("CL" + f.visit_id, f.visit_date, f.fault))
        cap = a.results[-1]
        center = None
        receipt = None
        if f.warranty == "self_paid":
            receipt = p.total
            _, center, share_line = domain.self_paid_split(receipt, tariff)
        rows.append(
            {
                "id": "CL" + f.visit_id,
                "tenant_id": f.tenant_id,
                "outlet_id": f.outlet_id,
                "visit_id": f.visit_id,
                "visit_key": f.visit_id,
                "ticket_id": f.ticket_id,
                "source": "visit",
                "visit_at": now,
                "visit_date": f.visit_date,
                "kind": f.kind,
                "product_line": f.product_line,
                "fault": f.fault,
                "fault_class": p.fault_class,
                "serial_no": f.serial_no,
                "tier": f.tier,
                "payer": "self_paid" if f.warranty == "self_paid" else "warranty",
                "warranty": f.warranty,
                "purchase_date": f.purchase_date,
                "customer_confirmed": f.customer_confirmed,
                "grade": p.grade,
                "km": p.km,
                "actual_km": None,
                "parts_count": f.parts_count,
                "travel_days": p.travel_days,
                "tariff_versions": list(p.tariff_versions),
                "price_lines": [l.as_dict() for l in p.lines],
                "tariff_ref": p.tariff_ref,
                "claimed_lines": None,
                "tariff_fen": money.to_fen(p.total),
                "claimed_fen": money.to_fen(a.claimed_total),
                "approved_fen": money.to_fen(a.allowed_total),
                "adjustments": [{"rule": "tariff_cap", "reason": cap.reason, "delta": str(cap.amount)}]
                if cap.outcome == domain.CAP
                else [],
                "rules": [r.as_dict() for r in a.results],
                "status": a.status,
                "flagged": a.flagged,
                "held": a.held,
                "was_held": a.held,
                "receipt_no": "R" + f.visit_id if receipt is not None else None,
                "receipt_fen": None if receipt is None else money.to_fen(receipt),
                "outlet_share_fen": None,
                "center_share_fen": None if center is None else money.to_fen(center),
                "share_line": share_line if receipt is not None else None,
                "statement_id": None,
                "note": None,
                "created_at": now,
                "decided_at": None,
                "version": 1,
            }
        )
        if len(rows) >= batch:
            yield rows
            rows = []
    if rows:
        yield rows


def bulk_insert(conn, model, rows):
    """Multi-row INSERT. On SQLite straight through the driver's executemany with the JSON
    columns serialised here (SQLAlchemy's per-row processing costs more than the insert)."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(model), rows)
        return
    table = model.__table__
    cols = [c.name for c in table.columns if c.name in rows[0]]
    jsons = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"

    def value(name, v):
        if name in jsons:
            return None if v is None else json.dumps(v, ensure_ascii=False)
        if isinstance(v, datetime):
            return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        if isinstance(v, date):
            return v.isoformat()
        return v

    conn.connection.driver_connection.executemany(sql, [tuple(value(c, r[c]) for c in cols) for r in rows])


def chunks(seq, n):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def issue_statements(engine, outlets, month):
    """Per outlet, as the service does it: one indexed SELECT of its payable claims and
    deductions, `domain.build_statement`, the statement and its lines inserted in bulk, the
    claims and deductions marked with one UPDATE each. One outlet's month in memory at a time."""
    last_day = domain.month_last_day(month)
    _, end = domain.month_bounds(month)
    cols = (
        Claim.id,
        Claim.visit_id,
        Claim.ticket_id,
        Claim.visit_date,
        Claim.payer,
        Claim.claimed_fen,
        Claim.approved_fen,
        Claim.adjustments,
        Claim.was_held,
        Claim.receipt_fen,
        Claim.center_share_fen,
        Claim.share_line,
        Claim.tariff_ref,
    )
    totals, n_lines = {}, 0
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for outlet_id, tenant, _ in outlets:
            payable = (
                Claim.outlet_id == outlet_id,
                Claim.status == domain.Status.APPROVED,
                Claim.statement_id.is_(None),
                Claim.held.is_(False),
                Claim.visit_date <= last_day,
            )
            claims = [
                domain.StatementClaim(
                    claim_id=r.id,
                    visit_id=r.visit_id,
                    ticket_id=r.ticket_id,
                    visit_date=r.visit_date,
                    payer=r.payer,
                    claimed=money.from_fen(r.claimed_fen),
                    approved=money.from_fen(r.approved_fen),
                    adjustments=tuple((a["rule"], a["reason"], Decimal(a["delta"])) for a in r.adjustments or ()),
                    hold_released=bool(r.was_held),
                    receipt=None if r.receipt_fen is None else money.from_fen(r.receipt_fen),
                    center_share=None if r.center_share_fen is None else money.from_fen(r.center_share_fen),
                    share_line=r.share_line,
                    tariff_ref=r.tariff_ref,
                )
                for r in conn.execute(select(*cols).where(*payable))
            ]
            open_deductions = (
                Deduction.outlet_id == outlet_id,
                Deduction.statement_id.is_(None),
                Deduction.effective_at < end,
            )
            deds = [
                domain.StatementDeduction(r.ref, r.kind, money.from_fen(r.amount_fen), r.tariff_line, r.rule, r.reason)
                for r in conn.execute(select(Deduction).where(*open_deductions))
            ]
            if not claims and not deds:
                continue
            st_lines, total = domain.build_statement(claims, deds)
            sid = "ST" + uuid.uuid4().hex[:18]
            totals[outlet_id] = (sid, total, len(st_lines))
            bulk_insert(
                conn,
                Statement,
                [
                    {
                        "id": sid,
                        "tenant_id": tenant,
                        "outlet_id": outlet_id,
                        "month": month,
                        "issued_at": now,
                        "issued_by": "bench",
                        "total_fen": money.to_fen(total),
                        "paid_fen": 0,
                        "status": "issued",
                    }
                ],
            )
            bulk_insert(
                conn,
                StatementLine,
                [
                    {
                        "tenant_id": tenant,
                        "statement_id": sid,
                        "outlet_id": outlet_id,
                        "seq": seq,
                        "kind": l.kind,
                        "ref": l.ref,
                        "claim_id": l.claim_id,
                        "description": l.description,
                        "amount_fen": money.to_fen(l.amount),
                        "tariff_line": l.tariff_line,
                        "rule": l.rule,
                    }
                    for seq, l in enumerate(st_lines, 1)
                ],
            )
            n_lines += len(st_lines)
            conn.execute(update(Claim).where(*payable).values(statement_id=sid))
            conn.execute(update(Deduction).where(*open_deductions).values(statement_id=sid))
    return totals, n_lines


def run(n_claims=200_000, n_outlets=200, database_url=None, month="2026-10", trace=False):
    from shared.tenants import TenantDirectory

    if trace:
        tracemalloc.start()
    tmp = None
    if database_url is None:
        tmp = tempfile.mkdtemp(prefix="fsm-settlement-bench-")
        database_url = f"sqlite:///{tmp}/settlement.db"
    engine = make_engine(database_url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    directory = TenantDirectory.load()
    years = {line: directory.warranty_terms(line).warranty_years for line in LINES}
    book = TariffBook.load()
    timings = {}

    t = time.perf_counter()
    outlets, facts, holds, callbacks, breaches = make_facts(n_claims, n_outlets, month)
    timings["generate"] = time.perf_counter() - t

    t0 = time.perf_counter()
    deductions, statuses = [], {}
    held = flagged = capped = 0
    pricing = storing = 0.0
    batches = price_and_audit(book, facts, holds, callbacks, breaches, years, deductions)
    with engine.begin() as conn:
        while True:
            t = time.perf_counter()
            rows = next(batches, None)
            pricing += time.perf_counter() - t
            if rows is None:
                break
            t = time.perf_counter()
            bulk_insert(conn, Claim, rows)
            storing += time.perf_counter() - t
            for r in rows:
                statuses[r["status"]] = statuses.get(r["status"], 0) + 1
                held += r["held"]
                flagged += r["flagged"]
                capped += bool(r["adjustments"])
        t = time.perf_counter()
        for part in chunks(deductions, 5000):
            bulk_insert(conn, Deduction, part)
        storing += time.perf_counter() - t
    timings["price_and_audit"], timings["store_claims"] = pricing, storing
    del facts, rows

    t = time.perf_counter()  # the three levels pass everything that is in review (bulk)
    with engine.begin() as conn:
        approved = conn.execute(
            update(Claim)
            .where(Claim.status == domain.Status.CENTER_REVIEW)
            .values(status=domain.Status.APPROVED, decided_at=datetime.now(UTC))
        ).rowcount
    timings["three_level_approve"] = time.perf_counter() - t

    t = time.perf_counter()
    totals, n_lines = issue_statements(engine, outlets, month)
    timings["issue_statements"] = time.perf_counter() - t
    timings["total_after_generate"] = time.perf_counter() - t0

    peak_py = None
    if trace:
        peak_py = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    grand = sum((v[1] for v in totals.values()), Decimal("0.00"))
    result = {
        "claims": n_claims,
        "outlets": n_outlets,
        "month": month,
        "database": engine.dialect.name,
        "statuses": statuses,
        "held": held,
        "flagged_repeat": flagged,
        "capped": capped,
        "approved_bulk": approved,
        "statements": len(totals),
        "statement_lines": n_lines,
        "statements_total_yuan": str(grand),
        "seconds": {k: round(v, 2) for k, v in timings.items()},
        "claims_per_second_price_audit": round(n_claims / timings["price_and_audit"]),
        "peak_rss_mb": round(rss_mb(), 1),
        "python_peak_mb": peak_py and round(peak_py, 1),
        "within_60s": timings["total_after_generate"] < 60,
    }
    engine.dispose()
    if tmp:
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--claims", type=int, default=200_000)
    ap.add_argument("--outlets", type=int, default=200)
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--tracemalloc", action="store_true", help="also measure Python's peak allocation (slower)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    result = run(args.claims, args.outlets, args.database_url, args.month, args.tracemalloc)
    s = result["seconds"]
    print(
        f"settlement month: {result['claims']:,} claims, {result['outlets']} outlets, {result['month']} "
        f"({result['database']})"
    )
    print(f"  generate facts          {s['generate']:7.2f} s (not counted)")
    print(
        f"  price + audit (domain)  {s['price_and_audit']:7.2f} s  "
        f"({result['claims_per_second_price_audit']:,} claims/s)"
    )
    print(f"  store claims (bulk)     {s['store_claims']:7.2f} s")
    print(f"  three levels (bulk)     {s['three_level_approve']:7.2f} s  ({result['approved_bulk']:,} approved)")
    print(
        f"  issue statements        {s['issue_statements']:7.2f} s  ({result['statements']} statements, "
        f"{result['statement_lines']:,} lines, total {result['statements_total_yuan']} yuan)"
    )
    print(
        f"  total                   {s['total_after_generate']:7.2f} s  "
        f"({'within' if result['within_60s'] else 'OVER'} 60 s)"
    )
    print(
        f"  rules: {result['statuses']}, held {result['held']:,}, flagged {result['flagged_repeat']:,}, "
        f"capped {result['capped']:,}"
    )
    print(
        f"  memory: peak RSS {result['peak_rss_mb']} MB"
        + (f", Python peak {result['python_peak_mb']} MB" if result["python_peak_mb"] else "")
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0 if result["within_60s"] else 1


if __name__ == "__main__":
    sys.exit(main())
