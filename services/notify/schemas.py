"""Payloads of notify's RPC and HTTP calls."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate

from services.notify import domain, preferences
from shared.validation import PageQuery


class InboxQuery(PageQuery):
    """The caller's inbox: `unread` true (only unread), false (only read), absent (all)."""

    class Meta:
        unknown = RAISE

    unread = fields.Bool(load_default=None, allow_none=True)


class MarkAllReadBody(Schema):
    """Mark read every unread notice of the caller's inbox as it shows them (not the kinds switched
    off); `upto`: only those up to that notice id (the newest the caller saw), so one come since stays."""

    class Meta:
        unknown = RAISE

    upto = fields.Int(load_default=None, allow_none=True, strict=False, validate=validate.Range(min=1, max=2**62))


class MarkedAllOut(Schema):
    marked = fields.Int(required=True, metadata={"description": "notices marked read now"})
    unread = fields.Int(required=True, metadata={"description": "unread notices left in the inbox"})


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


class PreferencesBody(Schema):
    """Your notice preferences (个人通知设置); fields left out stay as they are. ``channels`` maps a
    notice kind to the channels you take it by (email, sms: your own copy at your address; inbox:
    shown in your inbox); ``quiet_hours`` holds your e-mail and SMS until it ends (urgent notices
    go at once), ``off`` for none, null for the platform's."""

    class Meta:
        unknown = RAISE

    email = fields.Str(allow_none=True, validate=validate.Length(max=200))
    phone = fields.Str(allow_none=True, validate=validate.Length(max=32))
    quiet_hours = fields.Str(allow_none=True, validate=validate.Length(max=16), metadata={"example": "22:00-08:00"})
    channels = fields.Dict(
        keys=fields.Str(validate=validate.OneOf(sorted(preferences.KIND_TITLES))),
        values=fields.List(fields.Str(validate=validate.OneOf(domain.CHANNELS))),
    )


class PreferencesOut(Schema):
    """Your notice preferences, every kind with the channels you take it by."""

    user = fields.Str(required=True)
    email = fields.Str(allow_none=True)
    phone = fields.Str(allow_none=True)
    quiet_hours = fields.Str(allow_none=True)
    channels = fields.Dict(keys=fields.Str(), values=fields.List(fields.Str()), required=True)
