"""Loading input with marshmallow, turning its messages into one error type that names the fields.

Besides the schema, `load` refuses what no schema field can see but a database or an encoder
would choke on later (as a 500): text with a NUL character or a lone UTF-16 surrogate, values
nested absurdly deep, and integers beyond 64 bits. Shared pieces (`MONTH`, `PageQuery`) keep
every service's schemas within what the code after them can handle, with the same bounds.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable, Sequence
from typing import Any, cast

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from shared.errors import ValidationFailed

MAX_DEPTH = 32  # JSON nesting: our payloads go 4 deep; far below what recursion can take
TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"
MAX_OFFSET = 10**9  # paging: beyond any table, far within 64 bits
MAX_LIMIT = 5000  # paging: the longest page of any list (the largest any service took before: parts' 5000)
DEFAULT_LIMIT = 100
INT64 = (-(2**63), 2**63 - 1)  # what SQLite and PostgreSQL BIGINT can store

# A month YYYY-MM whose year the calendar code can take (year 0 is no year; 9999-12 has no next month).
MONTH = validate.Regexp(
    r"^(19[7-9]\d|20\d\d)-(0[1-9]|1[0-2])$", error="Must be a month YYYY-MM between 1970-01 and 2099-12."
)


def paging_offset(**kwargs: Any) -> fields.Integer:
    """The `offset` of a page: 0 up to `MAX_OFFSET`."""
    return fields.Int(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET), **kwargs)


def paging_limit(default: int = DEFAULT_LIMIT, **kwargs: Any) -> fields.Integer:
    """The `limit` of a page: 1 up to `MAX_LIMIT`, `default` when the caller names none."""
    if not 1 <= default <= MAX_LIMIT:
        raise ValueError(f"a default page length must be between 1 and {MAX_LIMIT}")
    return fields.Int(load_default=default, validate=validate.Range(min=1, max=MAX_LIMIT), **kwargs)


class PageQuery(Schema):
    """The paging of every list: `limit` (1 to `MAX_LIMIT`, default `DEFAULT_LIMIT`) and `offset`
    (0 to `MAX_OFFSET`). A list query derives from it, adding its filters; a list whose page is
    another length by default derives from ``PageQuery.with_default_limit(n)``."""

    class Meta:
        unknown = RAISE

    limit = paging_limit()
    offset = paging_offset()

    @classmethod
    @functools.cache
    def with_default_limit(cls, default: int) -> type[PageQuery]:
        """This schema with `default` as the page length when the caller names none (the same
        class for the same default)."""
        name = f"{cls.__name__}{default}"

        def body(namespace: dict[str, Any]) -> None:
            namespace.update(
                {
                    "limit": paging_limit(default),
                    "__module__": cls.__module__,
                    "__qualname__": name,
                    "__doc__": f"{cls.__name__}, {default} a page.",
                }
            )

        # as a class statement would: made by the bases' metaclass (marshmallow's, which collects the fields)
        return cast("type[PageQuery]", types.new_class(name, (cls,), exec_body=body))


def text_problem(value: object, path: Iterable[str] = ()) -> tuple[tuple[str, ...], str] | None:
    """(path, message) for the first string or key in a JSON-like value that cannot be stored or
    encoded (a NUL character, a lone surrogate), or for nesting deeper than `MAX_DEPTH`; else None.
    Iterative, so no input can exhaust the stack here."""
    stack: list[tuple[object, tuple[str, ...]]] = [(value, tuple(path))]
    while stack:
        item, where = stack.pop()
        if len(where) > MAX_DEPTH:
            return where[:MAX_DEPTH], TOO_DEEP
        if isinstance(item, str):
            problem = _bad_text(item)
            if problem:
                return where, problem
        elif isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str):
                    problem = _bad_text(k)
                    if problem:  # the name as it can be shown (escaped), since it is named in the answer
                        shown = k.encode("utf-8", "backslashreplace").decode("utf-8")
                        return where + (shown,), f"the name {problem}"
                stack.append((v, where + (str(k),)))
        elif isinstance(item, (list, tuple)):
            stack.extend((v, where + (str(i),)) for i, v in enumerate(item))
    return None


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character, which is not allowed"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode text"
    return None


def field_error(where: Sequence[str], message: str, default: str = "_schema") -> ValidationFailed:
    """The ValidationFailed that names the top-level field of `where` (a path of keys)."""
    path = ".".join(where) if where else default
    return ValidationFailed(f"{path}: {message}", {where[0] if where else default: [f"{path}: {message}"]})


def _huge_int(value: object, path: Iterable[str] = ()) -> tuple[str, ...] | None:
    stack: list[tuple[object, tuple[str, ...]]] = [(value, tuple(path))]
    while stack:
        item, where = stack.pop()
        if isinstance(item, bool):
            continue
        if isinstance(item, int):
            if not INT64[0] <= item <= INT64[1]:
                return where
        elif isinstance(item, dict):
            stack.extend((v, where + (str(k),)) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, where + (str(i),)) for i, v in enumerate(item))
    return None


def load(schema: Schema, data: object, *, partial: bool = False) -> Any:
    """`data` loaded by `schema` (what its load returns: a dict unless the schema makes an object)."""
    if not isinstance(data, dict):
        raise ValidationFailed("request body must be a JSON object", {"_schema": ["must be a JSON object"]})
    problem = text_problem(data)
    if problem:
        raise field_error(*problem)
    try:
        result = schema.load(data, partial=partial)
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        names = ", ".join(sorted(messages))
        raise ValidationFailed(f"invalid input: {names}", messages) from None
    where = _huge_int(result)
    if where:  # an integer field without a range: the database could not store it (a 500 later)
        raise field_error(where, f"must be between {INT64[0]} and {INT64[1]}")
    return result
