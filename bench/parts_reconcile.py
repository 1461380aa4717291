"""Parts reconciliation benchmark: one month, 500,000 movement legs across 200 outlets.

    .venv/bin/python bench/parts_reconcile.py                       # SQLite in a temp dir
    .venv/bin/python bench/parts_reconcile.py --db postgresql+psycopg2://postgres@127.0.0.1:5432/postgres

A child process generates a consistent month (issues, consumptions with RMAs, returns, receipts,
adjustments, scrap; balances equal to the sum of the movements; a few serial and quantity
mismatches, some old parts never returned); then this process reconciles every location with the
service's own code (`reconcile.reconcile_month` + `reconcile.store_reports`: set-based SQL, stored reports
and one `parts.reconciled` outbox event per location) and prints seconds and peak RSS.
Floor: within 20 s and under 1 GB. With a PostgreSQL URL a fresh database is created and dropped.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import warnings  # noqa: E402

warnings.filterwarnings("ignore")

TENANTS = ("C01", "C02", "C03", "C04", "C05", "C06")
FLOOR_SECONDS, FLOOR_MB = 20.0, 1024.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------- generation (child process)
def generate(url: str, month: str, legs_wanted: int, outlets_n: int, seed: int) -> dict:
    from sqlalchemy import insert

    from services.parts import domain
    from services.parts import seed as seeding
    from services.parts.models import Base, Consumption, IssuedSerial, Location, Movement, Rma, StockBalance
    from shared.db import Store
    from shared.tenants import TenantDirectory

    rnd = random.Random(seed)
    store = Store("parts", url, Base.metadata, "services.parts.migrations")
    store.create_schema()
    catalogue = domain.Catalogue.load()
    seeding.seed_reference(store, catalogue, TenantDirectory.load())
    parts = list(catalogue.parts.values())
    start, end = domain.parse_month(month)
    span = (end - start).total_seconds() - 60

    outlets = [(f"BO-{TENANTS[i % 6]}-{i:03d}", TENANTS[i % 6]) for i in range(outlets_n)]
    tenant_of = {o: t for o, t in outlets}
    for t in TENANTS:
        tenant_of[f"WH-{t}"] = t
    moves, rmas, consumptions, serial_rows = [], [], [], []
    stock = {}  # (loc, part, cond) -> qty
    outlet_parts = {o: {} for o, _ in outlets}  # outlet -> {part: qty}
    outlet_serials = {}  # (outlet, part) -> serials issued and not yet fitted
    open_rmas = []
    n = 0

    def leg(kind, loc, part, qty, at, cond="good", ref=None, counterpart=None, reason=None, serials=None):
        moves.append(
            {
                "tenant_id": tenant_of[loc],
                "movement_no": f"B{len(moves)}",
                "kind": kind,
                "location_id": loc,
                "counterpart_id": counterpart,
                "part_no": part,
                "condition": cond,
                "quantity": qty,
                "reason": reason,
                "ref": ref,
                "serials": serials,
                "occurred_at": at,
                "user": "bench",
            }
        )
        key = (loc, part, cond)
        stock[key] = stock.get(key, 0) + qty
        assert stock[key] >= 0, key

    opening_at = start - timedelta(days=1)
    for t in TENANTS:
        for p in parts:
            leg("receipt", f"WH-{t}", p.part_no, 100_000, opening_at, reason="opening balance")
    month_legs_from = len(moves)
    while len(moves) - month_legs_from < legs_wanted:
        at = start + timedelta(seconds=rnd.random() * span)
        outlet, tenant = outlets[rnd.randrange(outlets_n)]
        wh = f"WH-{tenant}"
        r = rnd.random()
        have = outlet_parts[outlet]
        if r < 0.30 and have:  # consumption at a visit
            part_no = rnd.choice(list(have))
            p = catalogue.parts[part_no]
            visit = f"V{n}"
            n += 1
            pool = outlet_serials.get((outlet, part_no))
            serial = pool.pop() if pool and rnd.random() < 0.5 else None
            if serial and rnd.random() < 0.01:
                serial = f"X{serial}"  # a serial never issued to this outlet
            leg("consumption", outlet, part_no, -1, at, ref=visit)
            have[part_no] -= 1
            if not have[part_no]:
                del have[part_no]
            rma_no = None
            if p.returnable:
                leg("consumption", outlet, part_no, 1, at, cond="defective", ref=visit, reason="old part removed")
                rma_no = f"RMA-{tenant}-B{n}"
                rmas.append(
                    {
                        "tenant_id": tenant,
                        "rma_no": rma_no,
                        "outlet_id": outlet,
                        "warehouse_id": wh,
                        "part_no": part_no,
                        "quantity": 1,
                        "removed_serial": f"OLD-{n}",
                        "new_serial": serial,
                        "visit_id": visit,
                        "ticket_id": None,
                        "unit_cost": p.unit_cost,
                        "status": "open",
                        "created_at": at,
                        "due_at": at + timedelta(days=30),
                    }
                )
                open_rmas.append(len(rmas) - 1)
            consumptions.append(
                {
                    "tenant_id": tenant,
                    "visit_id": visit,
                    "line": 1,
                    "ticket_id": None,
                    "outlet_id": outlet,
                    "part_no": part_no,
                    "quantity": 1,
                    "booked": 1,
                    "new_serial": serial,
                    "removed_serial": f"OLD-{n}",
                    "consumed_at": at,
                    "note": None,
                    "rma_no": rma_no,
                }
            )
        elif r < 0.45 and open_rmas:  # an old part comes back to the warehouse
            rma = rmas[open_rmas.pop(rnd.randrange(len(open_rmas)))]
            if rma["created_at"] > at:
                at = rma["created_at"] + timedelta(seconds=30)  # still inside the month (span ends 60 s early)
            leg(
                "return",
                rma["outlet_id"],
                rma["part_no"],
                -1,
                at,
                cond="defective",
                ref=rma["rma_no"],
                counterpart=rma["warehouse_id"],
            )
            leg(
                "return",
                rma["warehouse_id"],
                rma["part_no"],
                1,
                at,
                cond="defective",
                ref=rma["rma_no"],
                counterpart=rma["outlet_id"],
            )
            odd = rnd.random()
            rma.update(
                status="received_warehouse",
                warehouse_received_at=at,
                warehouse_location_id=rma["warehouse_id"],
                late=False,
                warehouse_serial=rma["removed_serial"] if odd > 0.01 else "WRONG",
                warehouse_quantity=1 if odd > 0.005 and odd < 0.995 else 2,
            )
        elif r < 0.55:  # new stock at a warehouse
            leg("receipt", wh, rnd.choice(parts).part_no, rnd.randint(5, 50), at, counterpart="FACTORY")
        elif r < 0.58 and have:  # stock count at an outlet
            part_no = rnd.choice(list(have))
            delta = rnd.choice((-1, 1))
            leg("adjustment", outlet, part_no, delta, at, reason="盘点")
            have[part_no] += delta
            if not have[part_no]:
                del have[part_no]
        elif r < 0.60 and stock.get((wh, parts[0].part_no, "defective"), 0) > 0:
            leg("scrap", wh, parts[0].part_no, -1, at, cond="defective", reason="报废")
        else:  # issue to the outlet (备件发放)
            p = rnd.choice(parts)
            qty = rnd.randint(1, 3)
            serials = [f"S{len(moves)}-{k}" for k in range(qty)] if rnd.random() < 0.2 else None
            leg("issue", wh, p.part_no, -qty, at, counterpart=outlet, serials=serials)
            leg("issue", outlet, p.part_no, qty, at, counterpart=wh, serials=serials)
            have[p.part_no] = have.get(p.part_no, 0) + qty
            for s in serials or ():
                serial_rows.append(
                    {
                        "tenant_id": tenant,
                        "part_no": p.part_no,
                        "serial": s,
                        "outlet_id": outlet,
                        "warehouse_id": wh,
                        "movement_no": f"B{len(moves)}",
                        "issued_at": at,
                    }
                )
                outlet_serials.setdefault((outlet, p.part_no), []).append(s)
    for r in rmas:
        for k in ("warehouse_received_at", "warehouse_location_id", "late", "warehouse_serial", "warehouse_quantity"):
            r.setdefault(k, None)
    balances = [
        {
            "tenant_id": tenant_of[loc],
            "location_id": loc,
            "part_no": part,
            "condition": cond,
            "on_hand": q,
            "reserved": 0,
        }
        for (loc, part, cond), q in stock.items()
    ]
    with store.engine.begin() as conn:
        conn.execute(
            insert(Location),
            [
                {"id": o, "kind": "outlet", "tenant_id": t, "name": f"bench outlet {o}", "parent_id": f"WH-{t}"}
                for o, t in outlets
            ],
        )
        _bulk(conn, Movement.__table__, moves)
        for table, rows in (
            (StockBalance.__table__, balances),
            (Rma.__table__, rmas),
            (Consumption.__table__, consumptions),
            (IssuedSerial.__table__, serial_rows),
        ):
            for i in range(0, len(rows), 20_000):
                conn.execute(insert(table), rows[i : i + 20_000])
    if url.startswith("postgresql"):
        with store.engine.connect() as conn:
            conn.execute(__import__("sqlalchemy").text("ANALYZE"))
            conn.commit()
    store.dispose()
    return {
        "legs_in_month": len(moves) - month_legs_from,
        "rmas": len(rmas),
        "consumptions": len(consumptions),
        "issued_serials": len(serial_rows),
        "outlets": outlets_n,
    }


def _bulk(conn, table, rows):
    from sqlalchemy import insert

    if conn.dialect.name != "postgresql":
        for i in range(0, len(rows), 50_000):
            conn.execute(insert(table), rows[i : i + 50_000])
        return
    cols = [c.name for c in table.columns if c.name != "id"]
    buf = io.StringIO()
    writer = csv.writer(buf)
    for r in rows:
        writer.writerow(["\\N" if r.get(c) is None else (json.dumps(r[c]) if c == "serials" else r[c]) for c in cols])
    buf.seek(0)
    raw = conn.connection.dbapi_connection.cursor()
    raw.copy_expert(
        f"COPY {table.name} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in cols)}) "
        "FROM STDIN WITH (FORMAT csv, NULL '\\N')",
        buf,
    )


# ---------------------------------------------------------------- reconciliation (this process)
def reconcile(url: str, month: str) -> dict:
    from sqlalchemy import func, select

    from services.parts import domain
    from services.parts import reconcile as rec
    from services.parts.models import Base, Location, Movement
    from shared import tenancy
    from shared.db import Store, utcnow

    store = Store("parts", url, Base.metadata)
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    with store.uow(tenancy.service_principal("parts-bench")) as uow:
        locs = {
            l.id: domain.LocationSpec(l.id, l.kind, l.tenant_id, l.name, l.parent_id)
            for l in uow.session.scalars(select(Location).where(Location.kind.in_(("outlet", "warehouse"))))
        }
        reports = rec.reconcile_month(uow.session, month, locs)
        rec.store_reports(uow, reports, utcnow())
        uow.commit()
    seconds = time.perf_counter() - t0
    with store.session(tenancy.service_principal("parts-bench")) as s:
        start, end = domain.parse_month(month)
        in_month = s.scalar(
            select(func.count()).select_from(Movement).where(Movement.occurred_at >= start, Movement.occurred_at < end)
        )
    store.dispose()
    by_kind = {}
    for r in reports:
        for k, v in r["by_kind"].items():
            by_kind[k] = by_kind.get(k, 0) + v
    outlets = [r for r in reports if r["location_kind"] == "outlet" and r["location_id"].startswith("BO-")]
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_mb": round(rss_before, 1),
        "movements_in_month": in_month,
        "locations": len(reports),
        "bench_outlets": len(outlets),
        "discrepancies": by_kind,
        "issued": sum(r["figures"]["issued"] for r in outlets),
        "consumed": sum(r["figures"]["consumed"] for r in outlets),
        "returned": sum(r["figures"]["returned"] for r in outlets),
    }


def _pg_database(base_url):
    import psycopg2

    name = f"fsm_bench_parts_{uuid.uuid4().hex[:8]}"
    dsn = base_url.replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{name}"')
    return conn, name, base_url.rsplit("/", 1)[0] + "/" + name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--db",
        help="database URL (default: SQLite in a temp dir; PostgreSQL: a fresh database "
        "is created on that server and dropped)",
    )
    ap.add_argument("--movements", type=int, default=500_000)
    ap.add_argument("--outlets", type=int, default=200)
    ap.add_argument("--month", default="2025-06")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--phase", choices=("all", "generate"), default="all", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.phase == "generate":
        print(json.dumps(generate(args.db, args.month, args.movements, args.outlets, args.seed)))
        return 0
    tmp = admin = None
    url = args.db
    if url is None:
        tmp = tempfile.mkdtemp(prefix="parts-bench-")
        url = f"sqlite:///{tmp}/parts.db"
    elif url.startswith("postgresql"):
        admin, dbname, url = _pg_database(url)
    try:
        t0 = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--phase",
                "generate",
                "--db",
                url,
                "--month",
                args.month,
                "--movements",
                str(args.movements),
                "--outlets",
                str(args.outlets),
                "--seed",
                str(args.seed),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return 1
        gen = json.loads(out.stdout.strip().splitlines()[-1])
        gen["seconds"] = round(time.perf_counter() - t0, 1)
        res = reconcile(url, args.month)
        dialect = url.split(":", 1)[0].split("+")[0]
        floor = {"seconds": res["seconds"] <= FLOOR_SECONDS, "memory": res["peak_rss_mb"] <= FLOOR_MB}
        print(
            f"parts reconciliation bench ({dialect}): month {args.month}, {res['movements_in_month']:,} movement "
            f"legs, {args.outlets} outlets ({res['locations']} locations reconciled)"
        )
        print(
            f"  generated in {gen['seconds']} s: {gen['rmas']:,} RMAs, {gen['consumptions']:,} consumptions, "
            f"{gen['issued_serials']:,} issued serials"
        )
        print(
            f"  reconciliation: {res['seconds']} s, peak RSS {res['peak_rss_mb']} MB "
            f"(floor {FLOOR_SECONDS:.0f} s / {FLOOR_MB:.0f} MB: {'ok' if all(floor.values()) else 'MISSED'})"
        )
        print(
            f"  outlets: issued {res['issued']:,}, consumed {res['consumed']:,}, returned {res['returned']:,}; "
            f"discrepancies {json.dumps(res['discrepancies'])}"
        )
        print(json.dumps({"db": dialect, "generate": gen, "reconcile": res, "floor": floor}))
        return 0 if all(floor.values()) else 2
    finally:
        if admin is not None:
            admin.cursor().execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            admin.close()
        if tmp is not None:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
