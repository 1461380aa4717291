"""shared.validation: what no schema field sees but a database or an encoder would choke on."""

import json

import pytest
from marshmallow import Schema, fields

from shared.errors import ValidationFailed
from shared.validation import MAX_DEPTH, MAX_OFFSET, MONTH, TOO_DEEP, load, paging_offset, text_problem


class Page(Schema):
    offset = paging_offset()
    month = fields.Str(load_default=None, validate=MONTH)
    version = fields.Int(load_default=None)
    name = fields.Str(load_default=None)
    tags = fields.List(fields.Str(), load_default=None)


def _refused(data):
    with pytest.raises(ValidationFailed) as info:
        load(Page(), data)
    return info.value.fields


def test_offset_beyond_the_bound_names_offset():
    assert load(Page(), {"offset": str(MAX_OFFSET)})["offset"] == MAX_OFFSET
    assert "offset" in _refused({"offset": str(MAX_OFFSET + 1)})
    assert "offset" in _refused({"offset": "9" * 30})  # beyond 64 bits: SQLite and PostgreSQL cannot take it


def test_month_years_the_calendar_can_take():
    assert load(Page(), {"month": "2026-01"})["month"] == "2026-01"
    for bad in ("0000-01", "0001-12", "1969-12", "2100-01", "9999-12", "2026-13", "2026-00"):
        assert "month" in _refused({"month": bad}), bad


def test_an_integer_field_without_range_cannot_pass_64_bits():
    assert load(Page(), {"version": 2**63 - 1})["version"] == 2**63 - 1
    fields_ = _refused({"version": 2**63})
    assert list(fields_) == ["version"]


def test_lone_surrogates_and_nul_are_refused_naming_the_field():
    surrogate = json.loads('"a\\ud800b"')  # what a JSON body may carry; no UTF-8 encoder takes it
    assert list(_refused({"name": surrogate})) == ["name"]
    assert list(_refused({"tags": ["ok", surrogate]})) == ["tags"]
    assert list(_refused({"name": "a\x00b"})) == ["name"]
    named = _refused({surrogate: 1})
    assert len(named) == 1 and "\\ud800" in next(iter(named))  # named as it can be shown
    json.dumps(named, ensure_ascii=False).encode("utf-8")
    assert load(Page(), {"name": "武汉 😀"})["name"] == "武汉 😀"  # real astral characters are fine


def test_nesting_is_bounded_without_recursion():
    deep = "x"
    for _ in range(100_000):  # far deeper than Python's recursion limit
        deep = [deep]
    where, message = text_problem({"tags": deep})
    assert message == TOO_DEEP and where[0] == "tags" and len(where) == MAX_DEPTH
    assert text_problem({"tags": [[["ok"]]]}) is None
