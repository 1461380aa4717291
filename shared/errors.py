"""Error types shared by every service, each with the HTTP status the gateway maps it to.

They are registered with nameko so that an error raised in a service arrives at the
caller (the gateway, another service) as the same class with the same fields, not as
an opaque RemoteError. Every constructor argument is JSON-serialisable for that reason.
"""

from typing import Any

from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    """Base class: an error the caller caused and can act on."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message, fields or {})
        self.message = message
        self.fields = fields or {}

    def __str__(self) -> str:
        if self.fields:
            return f"{self.message}: {self.fields}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


@deserialize_to_instance
class BadRequest(DomainError):
    http_status = 400
    code = "bad_request"


@deserialize_to_instance
class ValidationFailed(DomainError):
    """Input that does not match its schema; `fields` maps each field to its messages."""

    http_status = 422
    code = "validation_failed"


@deserialize_to_instance
class Unauthorized(DomainError):
    http_status = 401
    code = "unauthorized"


@deserialize_to_instance
class Forbidden(DomainError):
    http_status = 403
    code = "forbidden"


@deserialize_to_instance
class NotFound(DomainError):
    """Also what another tenant's record looks like: it does not exist for the caller."""

    http_status = 404
    code = "not_found"


@deserialize_to_instance
class Conflict(DomainError):
    http_status = 409
    code = "conflict"


@deserialize_to_instance
class InvalidTransition(DomainError):
    """A workflow step that is not allowed from the record's current state or by this role."""

    http_status = 409
    code = "invalid_transition"


@deserialize_to_instance
class ServiceUnavailable(DomainError):
    """A service or the broker cannot be reached now; the caller may try again after
    `retry_after` seconds (the gateway answers 503 with ``Retry-After``)."""

    http_status = 503
    code = "service_unavailable"

    def __init__(self, message: str, fields: dict[str, Any] | None = None, retry_after: float = 5) -> None:
        super().__init__(message, fields)
        self.args = (message, self.fields, retry_after)
        self.retry_after = int(retry_after)


@deserialize_to_instance
class TooManyRequests(DomainError):
    """Too many attempts in a short time (failed sign-ins); the caller may try again after
    `retry_after` seconds (429 with ``Retry-After``)."""

    http_status = 429
    code = "too_many_requests"

    def __init__(self, message: str, fields: dict[str, Any] | None = None, retry_after: float = 60) -> None:
        super().__init__(message, fields)
        self.args = (message, self.fields, retry_after)
        self.retry_after = int(retry_after)


@deserialize_to_instance
class PayloadTooLarge(DomainError):
    """A request body over the configured limit (gateway config MAX_BODY_BYTES)."""

    http_status = 413
    code = "payload_too_large"


class AssetsMissing(DomainError):
    """Front-end files the server should serve are not installed (ASSETS_DIR without the npm
    package): the operator's to fix, so a 500 that says what is missing and how to install it."""

    http_status = 500
    code = "assets_missing"


CONCURRENT_CHANGE = "the record was changed by another request at the same time; reload it and try again"


class TenancyViolation(Exception):
    """A programming error: data access without a principal, or a write across tenants.

    Deliberately not a DomainError: it must never be shown as a normal 4xx answer
    with details, it is logged and answered as 403.
    """


def as_domain_error(exc: BaseException) -> DomainError:
    """Return a DomainError for any exception (unknown ones become a 500 shape)."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, TenancyViolation):
        return Forbidden("access denied")
    transient = _transient_database_error(exc)
    if transient is not None:
        return transient
    err = DomainError("internal error")
    err.http_status = 500
    err.code = "internal_error"
    return err


def _transient_database_error(exc: BaseException) -> DomainError | None:
    """The DomainError a database failure the caller can retry becomes: a concurrent change
    (SQLAlchemy's ``StaleDataError``, a version counter that moved) is 409; a database that
    is locked, gone or deadlocked is 503. Anything else: None."""
    from sqlalchemy.exc import DBAPIError, OperationalError
    from sqlalchemy.orm.exc import StaleDataError

    if isinstance(exc, StaleDataError):
        return Conflict(CONCURRENT_CHANGE)
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return ServiceUnavailable("the database is busy or unreachable; try again", retry_after=2)
    name = type(getattr(exc, "orig", None)).__name__
    if name in ("DeadlockDetected", "SerializationFailure", "LockNotAvailable"):
        return Conflict(CONCURRENT_CHANGE)
    return None


def retryable(exc: BaseException) -> bool:
    """True for a database error that a second attempt may not meet (a concurrent change, a
    deadlock, a lock or a lost connection)."""
    from sqlalchemy.exc import IntegrityError

    return isinstance(exc, IntegrityError) or _transient_database_error(exc) is not None
