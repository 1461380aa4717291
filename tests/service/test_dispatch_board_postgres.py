"""The dispatch board's SQL on PostgreSQL (NULL due times sort last there, first on SQLite; times
compare as timestamptz): the same answer as the rule applied visit by visit, as
tests/unit/test_dispatch_board.py checks on SQLite."""

import pytest

from tests.dispatch_board_data import C01, FILTERS, HQ, O01, board, board_store, reference

pytestmark = pytest.mark.postgres


def test_board_on_postgresql(pg_url):
    store = board_store(pg_url)
    try:
        for principal in (HQ, C01, O01):
            for filters in FILTERS:
                for limit, offset in ((100, 0), (7, 14)):
                    found = board(store, principal, filters, limit, offset)
                    assert found == reference(store, principal, filters, limit, offset), (principal, filters)
        ids, total, _, at_risk = board(store, HQ, {"late_risk": True}, 1000, 0)
        assert total == at_risk == len(ids) > 0
    finally:
        store.dispose()
