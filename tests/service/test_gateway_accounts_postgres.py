"""The gateway's accounts on PostgreSQL: its Alembic migration (as `fsm migrate gateway` and the
migrate Job run it), an account, a sign-in, a lock and a portal session."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from services.gateway import accounts
from services.gateway.models import Base, User
from services.gateway.portal import sessions
from services.gateway.portal.web import GATEWAY
from shared.db import Store
from shared.errors import TooManyRequests, Unauthorized

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CHEAP = accounts.Passwords(time_cost=1, memory_kib=8192, parallelism=1)


def test_fsm_migrate_creates_the_gateway_schema_and_accounts_work_on_postgres(pg_url):
    env = dict(os.environ, DATABASE_URL_GATEWAY=pg_url)
    r = subprocess.run(
        [str(REPO / ".venv" / "bin" / "fsm"), "migrate", "gateway"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "gateway: up to date" in r.stdout, r.stderr
    store = Store("gateway", pg_url, Base.metadata, "services.gateway.migrations")
    try:
        store.create_schema()  # at head already: nothing to do, no error
        assert {"users", "portal_sessions", "login_address_failures"} <= set(inspect(store.engine).get_table_names())
        with store.uow(GATEWAY) as uow:
            accounts.add_user(
                uow.session, CHEAP, NOW, "o5", "correct horse 1", "outlet", tenant="C01", outlet="C01-O05"
            )
            uow.commit()
        throttle = accounts.Throttle(max_failures=2, max_address_failures=10, window_seconds=600, lock_seconds=600)

        def sign_in(password, now=NOW):
            return accounts.sign_in(lambda: store.uow(GATEWAY), CHEAP, throttle, now, "o5", password, "10.0.0.1")

        user = sign_in("correct horse 1")
        assert accounts.principal_of(user).outlet == "C01-O05"
        with pytest.raises(Unauthorized):
            sign_in("wrong wrong 1")
        with pytest.raises(TooManyRequests):
            sign_in("wrong wrong 2")
        with pytest.raises(TooManyRequests):
            sign_in("correct horse 1")
        assert sign_in("correct horse 1", NOW + timedelta(minutes=11)).username == "o5"
        with store.uow(GATEWAY) as uow:
            session_id = sessions.begin(uow.session, uow.session.get(User, "o5"), NOW, 60, "10.0.0.1")
            uow.commit()
        with store.session(GATEWAY) as s:
            assert sessions.find(s, session_id, NOW).user.username == "o5"
            assert sessions.find(s, session_id, NOW + timedelta(minutes=2)) is None
    finally:
        store.dispose()
