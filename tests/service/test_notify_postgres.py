"""Notify's records on PostgreSQL (its migrations): a notice claimed by one worker is not
claimed by another (the guarded UPDATE; a true race waits on the row lock, then finds it taken);
a failed attempt waits out its backoff; a fact recorded twice gives its notices once; the inbox
is scoped by the reader's principal."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.notify import domain, operations
from services.notify.models import Base
from shared import clock, tenancy
from shared.db import Store
from shared.outbox import outbox_table

pytestmark = pytest.mark.postgres

SERVICE = tenancy.service_principal("notify")
C01 = tenancy.Principal("wuhan", "center", tenant="C01")
C02 = tenancy.Principal("jinan", "center", tenant="C02")
CONTACTS = domain.Contacts.parse({"centers": {"C01": {"email": ["c01@example.com"]}}})
FACT = {
    "tenant_id": "C01",
    "ticket_id": "t-pg",
    "number": "C01-PG-0001",
    "kind": "repair",
    "channel": "web",
    "received_at": None,
}


def test_claims_retries_duplicates_and_inbox_on_postgres(pg_url):
    store = Store("notify", pg_url, Base.metadata, migrations_package="services.notify.migrations")
    store.create_schema()
    now = clock.now()
    try:
        for _ in range(2):  # the same fact twice: its notices once
            with store.uow(SERVICE) as uow:
                due = operations.record(uow, "ticket.registered", "evt-1", FACT, CONTACTS, None, now)
                uow.commit()
        with store.uow(SERVICE) as uow:
            total, rows = operations.notices(
                uow.session, status=None, channel=None, ticket_id="t-pg", limit=10, offset=0
            )
            assert total == 2 and sorted(n.channel for n in rows) == ["email", "inbox"]
        assert due == []  # the second time nothing new was recorded

        # a second worker, once the first claimed it, finds nothing left: one sends the e-mail
        first, second = store.uow(SERVICE), store.uow(SERVICE)
        with first as a, second as b:
            got_a = operations.claim_due(a.session, now)
            got_b = operations.claim_due(b.session, now) if not got_a else []
            a.commit()
            got_b = got_b or operations.claim_due(b.session, now)
            b.commit()
        assert len(got_a) + len(got_b) == 1
        claimed = (got_a or got_b)[0]
        assert claimed.attempts == 1 and claimed.address == "c01@example.com"

        # it failed: pending again after the backoff, not claimable before
        with store.uow(SERVICE) as uow:
            status = operations.settle(uow, claimed, "SMTP down", now, retryable=True, max_attempts=3, retry_base=60)
            uow.commit()
        assert status == domain.PENDING
        with store.uow(SERVICE) as uow:
            assert operations.claim_due(uow.session, now + timedelta(seconds=30)) == []
            again = operations.claim_due(uow.session, now + timedelta(seconds=61))
            uow.commit()
        assert [c.attempts for c in again] == [2]
        with store.uow(SERVICE) as uow:
            assert operations.settle(uow, again[0], None, now, retryable=True, max_attempts=3, retry_base=60)
            uow.commit()

        # the inbox: C01's reader sees it, C02's does not, nor can mark it read
        with store.uow(C01) as uow:
            total, unread, rows = operations.inbox(uow.session, "center", None, unread=None, limit=10, offset=0)
            notice_id = rows[0].id
        assert (total, unread) == (1, 1)
        with store.uow(C02) as uow:
            assert operations.inbox(uow.session, "center", None, unread=None, limit=10, offset=0)[:2] == (0, 0)
            with pytest.raises(Exception, match="no notice"):
                operations.mark_read(uow.session, "center", None, notice_id, now)
        with store.uow(C01) as uow:
            assert operations.mark_read(uow.session, "center", None, notice_id, now).read_at is not None
            uow.commit()
        with store.uow(SERVICE) as uow:
            assert operations.pending_counts(uow.session) == {}
        # the end of the e-mail was published (notice.sent, by the outbox); nothing for the retry
        with store.engine.connect() as conn:
            published = conn.execute(select(outbox_table.c.event_type, outbox_table.c.payload)).all()
        assert [(kind, json.loads(body)["status"]) for kind, body in published] == [("notice.sent", "sent")]
    finally:
        store.engine.dispose()
