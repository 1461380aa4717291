"""Migrations under the service's PostgreSQL advisory lock: processes that start together on a
fresh database (replicas, the migration Job) take turns, all come up and the schema is at head."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]

UPGRADE = textwrap.dedent("""
    import sys, time
    from shared import migrations
    from shared.db import make_engine
    url, package, start_at, locked = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4] == "1"
    engine = make_engine(url)
    if not locked:  # the old behaviour, to show what the lock prevents
        migrations._advisory_xact_lock = lambda *a, **k: None
    with engine.connect():  # connected before the start line: both upgrades begin together
        pass
    time.sleep(max(0.0, start_at - time.time()))
    migrations.upgrade(engine, package)
    print("ok")
""")


def _heads(package):
    from alembic.script import ScriptDirectory

    from shared.migrations import _config

    return set(ScriptDirectory.from_config(_config(package)).get_heads())


def _race(pg_url, package, n=3, locked=True):
    start_at = time.time() + 3.0  # after every interpreter has imported alembic and SQLAlchemy
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, pg_url, package, str(start_at), "1" if locked else "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    return [(p.wait(120), *p.communicate()) for p in procs]


@pytest.mark.parametrize("service", ["dispatch", "intake"])
def test_concurrent_upgrades_of_a_fresh_database_all_succeed(pg_url, service):
    package = f"services.{service}.migrations"
    results = _race(pg_url, package)
    for code, out, err in results:
        assert code == 0 and out.strip() == "ok", err[-2000:]
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            versions = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
            tables = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))}
    finally:
        engine.dispose()
    assert versions == _heads(package)
    assert {"outbox", "processed_messages", "processed_requests"} <= tables


def test_lock_key_is_stable_and_per_service():
    from shared.migrations import lock_key

    keys = {
        lock_key(f"services.{s}.migrations")
        for s in ("intake", "dispatch", "parts", "settlement", "certification", "qa")
    }
    assert len(keys) == 6
    assert lock_key("services.dispatch.migrations") == lock_key("services.dispatch.migrations")
    assert all(0 <= k < 2**32 for k in keys)  # fits PostgreSQL's bigint key


def test_without_the_lock_concurrent_upgrades_collide(pg_url):
    """The reason for the lock: on a fresh database, upgrades started together without it fail
    (both create alembic_version and the first tables). Not a guarantee of the race, so a run
    where the processes happened to take turns is skipped rather than passed."""
    results = _race(pg_url, "services.dispatch.migrations", locked=False)
    if all(code == 0 for code, _, _ in results):
        pytest.skip("the unlocked upgrades did not overlap this time")
    assert any(code != 0 for code, _, _ in results)
