"""Loading input with marshmallow, turning its messages into one error type that names the fields."""
from __future__ import annotations

from marshmallow import Schema, ValidationError

from shared.errors import ValidationFailed


def load(schema: Schema, data, *, partial=False):
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object", {"_schema": ["must be a JSON object"]})
    try:
        return schema.load(data, partial=partial)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        names = ", ".join(sorted(messages))
        raise ValidationFailed(f"invalid input: {names}", messages) from None
