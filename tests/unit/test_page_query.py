"""One paging schema (`shared.validation.PageQuery`): every list of every service pages with
the same bounds, each keeping its own default page length."""

import pytest

from services.certification.schemas import OutletQuery
from services.dispatch.schemas import BoardQuery
from services.gateway.schemas import PlanRunsQuery
from services.intake.schemas import ListQuery
from services.parts import schemas as parts
from services.qa.schemas import WorkListQuery
from services.settlement.schemas import ClaimQuery, StatementQuery
from shared.errors import ValidationFailed
from shared.validation import MAX_LIMIT, MAX_OFFSET, PageQuery, load

DEFAULTS = {
    ListQuery: 50,
    BoardQuery: 100,
    OutletQuery: 100,
    WorkListQuery: 100,
    ClaimQuery: 50,
    StatementQuery: 50,
    parts.StockQuery: 200,
    parts.MovementQuery: 200,
    parts.ReservationQuery: 200,
    parts.RmaQuery: 200,
    parts.ReconciliationQuery: 200,
    parts.RejectedQuery: 200,
}


@pytest.mark.parametrize("schema", list(DEFAULTS), ids=lambda s: s.__name__)
def test_every_list_pages_with_the_same_bounds_and_its_own_default(schema):
    assert issubclass(schema, PageQuery)
    assert load(schema(), {})["limit"] == DEFAULTS[schema]
    page = load(schema(), {"limit": str(MAX_LIMIT), "offset": str(MAX_OFFSET)})
    assert (page["limit"], page["offset"]) == (MAX_LIMIT, MAX_OFFSET)
    for bad in ({"limit": "0"}, {"limit": str(MAX_LIMIT + 1)}, {"limit": "x"}):
        with pytest.raises(ValidationFailed) as info:
            load(schema(), bad)
        assert list(info.value.fields) == ["limit"]
    with pytest.raises(ValidationFailed) as info:
        load(schema(), {"offset": "-1"})
    assert list(info.value.fields) == ["offset"]


def test_plan_runs_take_the_same_limit_with_their_default():
    assert load(PlanRunsQuery(), {})["limit"] == 20
    assert load(PlanRunsQuery(), {"limit": str(MAX_LIMIT)})["limit"] == MAX_LIMIT
    with pytest.raises(ValidationFailed):
        load(PlanRunsQuery(), {"limit": str(MAX_LIMIT + 1)})


def test_a_default_is_one_class_and_within_the_bounds():
    assert PageQuery.with_default_limit(50) is PageQuery.with_default_limit(50)
    assert load(PageQuery(), {})["limit"] == 100
    with pytest.raises(ValueError):
        PageQuery.with_default_limit(MAX_LIMIT + 1)


def test_unknown_query_fields_keep_each_schemas_policy():
    with pytest.raises(ValidationFailed):
        load(ListQuery(), {"nope": "1"})  # intake refuses them
    assert "nope" not in load(ClaimQuery(), {"nope": "1"})  # settlement's lists ignore them
