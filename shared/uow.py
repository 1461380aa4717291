"""The unit of work: one transaction of a service's work, with the events it causes.

``with store.uow(principal) as uow: ...; uow.emit(...); uow.commit()``. The session acts as
the principal (tenant scoping, `shared.db`); `emit` writes the event into the outbox table in
the same transaction (`shared.outbox` publishes it after commit); `already_processed` claims a
consumed message's id with the work; the RPC request the unit carries out, if any, is recorded
with it (`processed_requests`), so a redelivered or retried request finds it done. Leaving the
block without `commit` rolls everything back, events, claims and records included.

It knows the store only by what it offers (`open_session`, `write_lock`, `committed`), so this
module imports neither `shared.db` nor anything that does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, cast

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared import clock
from shared import events as catalogue
from shared.errors import Conflict
from shared.outbox import (
    EVENT_AT_KEY,
    EVENT_ID_KEY,
    EVENT_VERSION_KEY,
    next_seq,
    outbox_table,
    processed_requests_table,
    processed_table,
)
from shared.tenancy import Principal

# (request_id, request_hash, on_claimed): the RPC request a unit of work carries out
RequestClaim = tuple[str, str, Callable[[], None]]


class Store(Protocol):
    """What a unit of work needs of its service's store (`shared.db.Store`)."""

    write_lock: Any  # SQLite's green writers' lock (acquire/release), None on PostgreSQL

    def open_session(self, principal: Principal) -> Session: ...

    def committed(self) -> None: ...


class UnitOfWork:
    """``with store.uow(principal) as uow: ...; uow.emit(...); uow.commit()``.

    Leaving the block without `commit` rolls everything back, events included.
    """

    def __init__(
        self,
        store: Store,
        principal: Principal,
        context_data: dict[str, Any],
        request_claim: RequestClaim | None = None,
    ):
        self.store = store
        self.principal = principal
        self.context_data = context_data
        self.session = cast(Session, None)  # opened by __enter__
        self.committed = False
        self.emitted: list[tuple[str, str]] = []
        # (request_id, request_hash, on_claimed): the RPC request this unit of work carries out;
        # recorded with the work so that a redelivered or retried request finds it done
        self.request_claim = request_claim

    def __enter__(self) -> UnitOfWork:
        self._lock = self.store.write_lock
        if self._lock is not None:
            self._lock.acquire()
        self.session = self.store.open_session(self.principal)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self.committed:
                self.session.rollback()
        finally:
            self.session.close()
            if self._lock is not None:
                self._lock.release()

    def emit(self, event_type: str, payload: dict[str, Any]) -> str:
        """Record `event_type` with `payload` to be published once this unit commits."""
        body = catalogue.dump(event_type, payload)
        event_id = uuid.uuid4().hex
        headers = {k: v for k, v in self.context_data.items() if v is not None}
        headers[EVENT_ID_KEY] = event_id
        headers[EVENT_VERSION_KEY] = catalogue.CATALOGUE[event_type].version
        headers[EVENT_AT_KEY] = round(time.time(), 3)  # for the consumers' queue-lag metric
        self.session.execute(
            outbox_table.insert().values(
                id=event_id,
                seq=next_seq(),
                event_type=event_type,
                payload=json.dumps(body, ensure_ascii=False, default=str),
                headers=json.dumps(headers, default=str),
                created_at=clock.now(),
                attempts=0,
            )
        )
        self.emitted.append((event_type, event_id))
        return event_id

    def already_processed(self, message_id: str | None, consumer: str) -> bool:
        """True if `message_id` was handled by `consumer` before; otherwise claims it in
        this transaction (so the claim commits or rolls back with the work)."""
        if not message_id:
            return False
        row = self.session.execute(
            select(processed_table.c.message_id).where(
                processed_table.c.message_id == message_id, processed_table.c.consumer == consumer
            )
        ).first()
        if row is not None:
            return True
        self.session.execute(
            processed_table.insert().values(message_id=message_id, consumer=consumer, processed_at=clock.now())
        )
        return False

    def commit(self) -> None:
        claim = self.request_claim
        if claim is not None and not (
            self.emitted
            or self.session.new
            or self.session.dirty
            or self.session.deleted
            or self.session.info.get("wrote")
        ):
            claim = None  # a unit of work that changed nothing carries out nothing to repeat
        if claim is not None:
            request_id, request_hash, _ = claim
            self.session.execute(
                processed_requests_table.insert().values(
                    request_id=request_id, request_hash=request_hash or "", created_at=clock.now()
                )
            )
        try:
            self.session.commit()
        except IntegrityError as exc:
            self.session.rollback()
            if claim is not None and "processed_requests" in str(exc):
                raise Conflict(
                    "the same request is being carried out by another attempt; try again shortly",
                    {"Idempotency-Key": ["a request with this key is in progress"]},
                ) from None
            raise
        self.committed = True
        if claim is not None:
            self.request_claim = None
            claim[2]()
        if self.emitted:
            self.store.committed()

    def rollback(self) -> None:
        self.session.rollback()
