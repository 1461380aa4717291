"""Error types shared by every service, each with the HTTP status the gateway maps it to.

They are registered with nameko so that an error raised in a service arrives at the
caller (the gateway, another service) as the same class with the same fields, not as
an opaque RemoteError. Every constructor argument is JSON-serialisable for that reason.
"""
from nameko.exceptions import deserialize_to_instance


class DomainError(Exception):
    """Base class: an error the caller caused and can act on."""

    http_status = 400
    code = "bad_request"

    def __init__(self, message, fields=None):
        super().__init__(message, fields or {})
        self.message = message
        self.fields = fields or {}

    def __str__(self):
        if self.fields:
            return f"{self.message}: {self.fields}"
        return self.message

    def to_dict(self):
        body = {"code": self.code, "message": self.message}
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


class TenancyViolation(Exception):
    """A programming error: data access without a principal, or a write across tenants.

    Deliberately not a DomainError: it must never be shown as a normal 4xx answer
    with details, it is logged and answered as 403.
    """


def as_domain_error(exc):
    """Return a DomainError for any exception (unknown ones become a 500 shape)."""
    if isinstance(exc, DomainError):
        return exc
    if isinstance(exc, TenancyViolation):
        return Forbidden("access denied")
    err = DomainError("internal error")
    err.http_status = 500
    err.code = "internal_error"
    return err
