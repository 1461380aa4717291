"""Alembic migrations per service, run programmatically at service start (and by `fsm migrate`).

Each service has ``services/<name>/migrations/`` with an ``env.py`` that calls `run_env`
with its metadata; the outbox tables of `shared.outbox` are part of every service's schema.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from alembic import command
from alembic.config import Config


def _config(package: str, connection=None) -> Config:
    module = importlib.import_module(package)
    location = str(Path(module.__file__).resolve().parent)
    cfg = Config()
    cfg.set_main_option("script_location", location)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, package: str, revision: str = "head"):
    with engine.begin() as connection:
        command.upgrade(_config(package, connection), revision)


def revision(engine, package: str, message: str):
    """Autogenerate a new revision against the database at `engine` (developer tool)."""
    with engine.begin() as connection:
        command.revision(_config(package, connection), message=message, autogenerate=True)


def run_env(target_metadata):
    """Body of every service's migrations/env.py."""
    from alembic import context

    from shared.outbox import infra_metadata

    metadata = [target_metadata, infra_metadata]
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through shared.migrations (fsm migrate)")
    context.configure(connection=connection, target_metadata=metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def create_processed_requests():
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


def drop_processed_requests():
    from alembic import op

    op.drop_index("ix_processed_requests_created_at", table_name="processed_requests")
    op.drop_table("processed_requests")
