"""A form's values and its errors, each next to the field it names.

A page reads the posted values, hands them to the same RPC the REST API calls, and on a
`DomainError` (`ValidationFailed` and the others) puts the service's messages next to the
fields they name; what names no field on the form is shown above it::

    form = Form.posted(request, ("lat", "lon"))
    try:
        self.dispatch.check_in(visit_id, form.payload(lat=float_or_none, lon=float_or_none))
    except DomainError as exc:
        form.take(exc)
        return page.render("outlet/job.html", status=422, form=form, ...)

A nested field of the service (``parts_used.0.quantity``) is one dotted name; ``aliases`` maps a
service's field name to the form's where they differ. Templates draw fields with the macros of
``templates/_forms.html``, which show `errors_of(name)` under the input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from services.gateway.portal.messages import zh
from shared.errors import DomainError

GENERAL = "_form"  # errors that name no field of the form


def flatten(fields: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error dict as {dotted name: [messages]}."""
    out: dict[str, list[str]] = {}
    for key, value in fields.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        elif isinstance(value, (list, tuple)):
            texts = [m for m in value if not isinstance(m, Mapping)]
            for i, m in enumerate(value):
                if isinstance(m, Mapping):
                    out.update(flatten(m, f"{name}.{i}"))
            if texts:
                out.setdefault(name, []).extend(str(t) for t in texts)
        else:
            out.setdefault(name, []).append(str(value))
    return out


class Form:
    """Values by field name (as typed, strings) and errors by field name (in Chinese)."""

    def __init__(self, names: Iterable[str] = (), values: Mapping[str, Any] | None = None):
        self.names = tuple(names)
        self.values: dict[str, Any] = dict(values or {})
        self.errors: dict[str, list[str]] = {}

    @classmethod
    def posted(cls, request: Any, names: Iterable[str]) -> Form:
        """The form's fields as posted (missing ones empty; passwords are not kept for re-display
        by the macros)."""
        names = tuple(names)
        return cls(names, {n: request.form.get(n, "") for n in names})

    def value(self, name: str, default: Any = "") -> Any:
        value = self.values.get(name)
        return default if value is None else value

    def text(self, name: str) -> str | None:
        """The field's text, stripped; None when empty."""
        value = str(self.values.get(name) or "").strip()
        return value or None

    def payload(self, **converters: Callable[[str | None], Any]) -> dict[str, Any]:
        """The fields as an RPC payload: each stripped, empty ones left out, `converters`
        applied by name (a value they cannot convert goes as typed: the service names it)."""
        out: dict[str, Any] = {}
        for name in self.names:
            text = self.text(name)
            if text is None:
                continue
            convert = converters.get(name)
            if convert is None:
                out[name] = text
                continue
            try:
                out[name] = convert(text)
            except (TypeError, ValueError):
                out[name] = text
        return out

    def add_error(self, name: str, message: str) -> None:
        key = name if name in self.names else GENERAL
        text = zh(message)
        if key == GENERAL and name not in (GENERAL, "_schema", "_body"):
            text = f"{name}：{text}"
        self.errors.setdefault(key, []).append(text)

    def take(self, exc: DomainError, aliases: Mapping[str, str] | None = None) -> Form:
        """Put the error's messages next to the fields it names (service name → form name
        through `aliases`), the rest above the form; its message when it names no field."""
        aliases = aliases or {}
        fields = flatten(exc.fields or {})
        for name, messages in fields.items():
            for message in messages:
                self.add_error(aliases.get(name, name), message)
        if not fields:
            self.add_error(GENERAL, exc.message)
        return self

    def errors_of(self, name: str) -> list[str]:
        return self.errors.get(name, [])

    @property
    def general_errors(self) -> list[str]:
        return self.errors.get(GENERAL, [])

    @property
    def ok(self) -> bool:
        return not self.errors
