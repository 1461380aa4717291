"""Payloads of notify's RPC and HTTP calls."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.notify import domain
from shared.validation import PageQuery


class InboxQuery(PageQuery):
    """The caller's inbox: `unread` true (only unread), false (only read), absent (all)."""

    class Meta:
        unknown = RAISE

    unread = fields.Bool(load_default=None, allow_none=True)


class NoticeQuery(PageQuery):
    """Notices and their delivery status (center: its tenant's; HQ: every tenant's)."""

    class Meta:
        unknown = RAISE

    status = fields.Str(load_default=None, validate=validate.OneOf(domain.STATUSES))
    channel = fields.Str(load_default=None, validate=validate.OneOf(domain.CHANNELS))
    ticket_id = fields.Str(load_default=None, validate=validate.Length(min=1, max=32))


class NoticeOut(Schema):
    """One notice (通知): what it says, to whom, by which channel, and how its delivery went."""

    id = fields.Int(required=True)
    tenant_id = fields.Str(required=True)
    kind = fields.Str(required=True, metadata={"enum": sorted(domain.TEMPLATES)})
    event_type = fields.Str(required=True)
    audience = fields.Str(required=True, metadata={"enum": list(domain.AUDIENCES)})
    audience_id = fields.Str(required=True)
    channel = fields.Str(required=True, metadata={"enum": list(domain.CHANNELS)})
    address = fields.Str(required=True)
    subject = fields.Str(required=True)
    body = fields.Str(required=True)
    ticket_id = fields.Str(allow_none=True)
    urgent = fields.Bool(required=True)
    status = fields.Str(required=True, metadata={"enum": list(domain.STATUSES)})
    attempts = fields.Int(required=True)
    error = fields.Str(allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)
    sent_at = fields.AwareDateTime(allow_none=True)
    read_at = fields.AwareDateTime(allow_none=True)


class InboxPage(Schema):
    items = fields.List(fields.Nested(NoticeOut), required=True)
    total = fields.Int(required=True)
    unread = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)


class NoticePage(Schema):
    items = fields.List(fields.Nested(NoticeOut), required=True)
    total = fields.Int(required=True)
    limit = fields.Int(required=True)
    offset = fields.Int(required=True)
