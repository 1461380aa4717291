"""A fresh PostgreSQL database for each of several services (one test's), dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import psycopg2
import pytest


@contextmanager
def postgres_databases(services: Iterable[str]) -> Iterator[dict[str, str]]:
    """``{service: "postgresql+psycopg2://.../fsm_test_<svc>_<hex>"}``, one new database each on the
    server at FSM_TEST_PG (default 127.0.0.1:5432, user postgres), dropped on exit."""
    base = os.environ.get("FSM_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    dsn = base.replace("postgresql+psycopg2://", "postgresql://")
    try:
        conn = psycopg2.connect(dsn)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL not reachable at {dsn}: {exc}")
    conn.autocommit = True
    names = {service: f"fsm_test_{service[:4]}_{uuid.uuid4().hex[:8]}" for service in services}
    try:
        for name in names.values():
            conn.cursor().execute(f'CREATE DATABASE "{name}"')
        yield {service: base.rsplit("/", 1)[0] + "/" + name for service, name in names.items()}
    finally:
        for name in names.values():
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
