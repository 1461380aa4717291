"""The outbox relay's housekeeping on PostgreSQL: published rows older than the keep period
(and old request records) are purged by the relay's own loop (`publish_pending`), as on
SQLite; unpublished rows and recent ones stay."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import MetaData, select

from shared.db import Store, utcnow
from shared.outbox import OutboxRelay, outbox_table, processed_requests_table
from tests.service.test_outbox import FakeContainer

pytestmark = pytest.mark.postgres


def _row(created, published, seq):
    return dict(
        id=uuid.uuid4().hex,
        seq=seq,
        event_type="ticket.registered",
        payload=json.dumps({}),
        headers=json.dumps({}),
        created_at=created,
        published_at=published,
        attempts=0,
    )


@pytest.fixture
def pg_store(pg_url):
    store = Store("intake", pg_url, MetaData(), migrations_package="services.intake.migrations")
    store.create_schema()
    yield store
    store.dispose()


def _ids(store):
    with store.engine.connect() as conn:
        return {r.id for r in conn.execute(select(outbox_table.c.id))}


def test_relay_purges_old_published_rows_on_postgres(pg_store, service_config):
    now = utcnow()
    keep = OutboxRelay.keep_published_seconds
    old = now - timedelta(seconds=keep + 3600)
    rows = {
        "old_published": _row(old, old + timedelta(seconds=1), 1),
        "old_published_2": _row(old, old + timedelta(seconds=2), 2),
        "recent_published": _row(now - timedelta(hours=1), now - timedelta(hours=1), 3),
    }
    with pg_store.engine.begin() as conn:
        conn.execute(outbox_table.insert(), list(rows.values()))
        conn.execute(
            processed_requests_table.insert(),
            [
                dict(
                    request_id="old-request",
                    request_hash="",
                    result="{}",
                    created_at=now - timedelta(seconds=pg_store.requests.keep_seconds + 60),
                ),
                dict(request_id="new-request", request_hash="", result="{}", created_at=now),
            ],
        )
    relay = OutboxRelay(pg_store, FakeContainer("intake", service_config))
    assert pg_store.engine.dialect.name == "postgresql"

    # the relay's loop: nothing to publish, but its housekeeping runs (it returned before it on
    # PostgreSQL once)
    assert relay.publish_pending() == 0
    assert _ids(pg_store) == {rows["recent_published"]["id"]}
    with pg_store.engine.connect() as conn:
        kept = {r.request_id for r in conn.execute(select(processed_requests_table.c.request_id))}
    assert kept == {"new-request"}

    # every 10 minutes, not on every poll; force=True purges at once
    late = _row(old, old, 4)
    with pg_store.engine.begin() as conn:
        conn.execute(outbox_table.insert(), [late])
    relay.publish_pending()
    assert late["id"] in _ids(pg_store)
    relay._purge(force=True)
    assert _ids(pg_store) == {rows["recent_published"]["id"]}


def test_unpublished_rows_are_never_purged_on_postgres(pg_store, service_config):
    old = utcnow() - timedelta(seconds=OutboxRelay.keep_published_seconds + 3600)
    waiting = _row(old, None, 1)
    with pg_store.engine.begin() as conn:
        conn.execute(outbox_table.insert(), [waiting])
    relay = OutboxRelay(pg_store, FakeContainer("intake", service_config))
    relay._purge(force=True)
    assert _ids(pg_store) == {waiting["id"]}
