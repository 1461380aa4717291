"""The dispatch board is filtered, counted and paged by the database (services/dispatch/queries.py,
here on SQLite) with the same answer as the rule applied visit by visit (`domain.late_risk`)."""

import pytest
from sqlalchemy import event

from services.dispatch.domain import VisitStatus
from tests.dispatch_board_data import C01, FILTERS, HQ, O01, board, board_store, reference


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = board_store(f"sqlite:///{tmp_path_factory.mktemp('dispatch')}/board.db")
    yield store
    store.dispose()


@pytest.mark.parametrize("principal", [HQ, C01, O01], ids=["hq", "center", "outlet"])
@pytest.mark.parametrize("filters", FILTERS, ids=[str(f) for f in FILTERS])
@pytest.mark.parametrize("limit,offset", [(100, 0), (7, 0), (7, 14), (5, 1000)])
def test_board_in_sql_is_the_board_in_python(store, principal, filters, limit, offset):
    assert board(store, principal, filters, limit, offset) == reference(store, principal, filters, limit, offset)


def test_board_risk_counts_cover_both_rules(store):
    ids, total, by_status, at_risk = board(store, HQ, {"late_risk": True}, 1000, 0)
    assert set(by_status) == {VisitStatus.UNPLANNED, VisitStatus.SCHEDULED, VisitStatus.UNASSIGNABLE}
    assert total == at_risk == len(ids) > 0


def test_board_pages_in_the_database(store):
    """Only the page's rows come back: LIMIT/OFFSET and the counts are SQL."""
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        board(store, C01, {"late_risk": True}, 3, 2)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    assert any("LIMIT" in s and "OFFSET" in s for s in seen)
    assert any("GROUP BY" in s and "count(" in s for s in seen)
