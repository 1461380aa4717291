"""Alembic migrations per service, run programmatically at service start (and by `fsm migrate`).

Each service has ``services/<name>/migrations/`` with an ``env.py`` that calls `run_env`
with its metadata; the outbox tables of `shared.outbox` are part of every service's schema.
"""

from __future__ import annotations

import importlib
import logging
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, cast

from alembic import command
from alembic.config import Config
from eventlet.semaphore import Semaphore

if TYPE_CHECKING:
    from sqlalchemy import MetaData
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

# Alembic keeps the running migration's context and operations in module globals (the
# `alembic.context` and `alembic.op` proxies): two upgrades at once in one process, as when
# `nameko run` starts several services' containers together, run each other's operations on
# each other's connection (psycopg2: "execute cannot be used while an asynchronous query is
# underway") and remove each other's proxies. So one Alembic command at a time per process;
# a green lock, as every service of a `nameko run` shares one OS thread.
_ALEMBIC_TURN = Semaphore(1)


def _config(package: str, connection: Connection | None = None) -> Config:
    module = importlib.import_module(package)
    # a migrations package is a regular package: it has a file
    location = str(Path(cast(str, module.__file__)).resolve().parent)
    cfg = Config()
    cfg.set_main_option("script_location", location)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def lock_key(package: str) -> int:
    """The PostgreSQL advisory lock key of a service's migrations: stable across processes,
    hosts and releases (a CRC of the migrations package's name, not Python's salted hash)."""
    return zlib.crc32(f"fsm-migrations:{package}".encode())


def upgrade(engine: Engine, package: str, revision: str = "head", lock_timeout: float = 600.0) -> None:
    """Bring the database to `revision`. On PostgreSQL the upgrade runs under the service's
    advisory lock (`lock_key`), so replicas and the migration Job starting together take turns:
    the first upgrades, the others then find the schema at head. SQLite: no lock (one file,
    one host). The lock is taken with ``pg_try_advisory_xact_lock`` in a polling loop rather
    than a blocking ``pg_advisory_lock``: a blocking libpq call would stop the whole eventlet
    hub of a process running several services; it is released when the upgrade commits. Within
    one process the upgrades take turns too (`_ALEMBIC_TURN`)."""
    with _ALEMBIC_TURN, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            _advisory_xact_lock(connection, lock_key(package), package, lock_timeout)
        command.upgrade(_config(package, connection), revision)


def _advisory_xact_lock(connection: Connection, key: int, package: str, timeout: float) -> None:
    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    waited = False
    while not connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar():
        if time.monotonic() > deadline:
            raise TimeoutError(f"migrations of {package}: another process held the lock for {timeout:.0f} s")
        if not waited:
            log.info("migrations of %s: another process is upgrading; waiting", package)
            waited = True
        time.sleep(0.2)


def revision(engine: Engine, package: str, message: str) -> None:
    """Autogenerate a new revision against the database at `engine` (developer tool)."""
    with _ALEMBIC_TURN, engine.begin() as connection:
        command.revision(_config(package, connection), message=message, autogenerate=True)


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py."""
    from alembic import context

    from shared.outbox import infra_metadata

    metadata = [target_metadata, infra_metadata]
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through shared.migrations (fsm migrate)")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def create_processed_requests() -> None:
    """The `processed_requests` table of `shared.outbox` (the same revision body in every service)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "processed_requests",
        sa.Column("request_id", sa.String(320), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_index("ix_processed_requests_created_at", "processed_requests", ["created_at"])


def drop_processed_requests() -> None:
    from alembic import op

    op.drop_index("ix_processed_requests_created_at", table_name="processed_requests")
    op.drop_table("processed_requests")


def create_leases() -> None:
    """The `leases` table of `shared.outbox` (shared.leases; the same revision body in every service)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "leases",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def drop_leases() -> None:
    from alembic import op

    op.drop_table("leases")
