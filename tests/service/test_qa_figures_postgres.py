"""QA's report figures on PostgreSQL: the local month of an answer (timezone() there, a fixed
offset on SQLite) and the counts agree with what tests/unit/test_qa_figures.py checks on SQLite."""

import pytest

from services.qa import queries
from tests.qa_report_data import HQ, NOW, report_store

pytestmark = pytest.mark.postgres


def test_figures_on_postgresql(pg_url, tmp_path):
    stores = {"postgresql": report_store(pg_url), "sqlite": report_store(f"sqlite:///{tmp_path}/figures.db")}
    try:
        found = {}
        for name, store in stores.items():
            with store.session(HQ) as session:
                found[name] = (
                    queries.satisfaction_figures(session),
                    queries.satisfaction_figures(session, month="2026-04"),
                    queries.callback_figures(session, now=NOW),
                    queries.ontime_figures(session, month="2026-03"),
                )
    finally:
        for store in stores.values():
            store.dispose()
    satisfaction, april, callbacks, ontime = found["postgresql"]
    assert [(f["tenant_id"], f["month"], f["answers"]) for f in satisfaction] == [
        ("C01", "2026-03", 3),
        ("C01", "2026-04", 1),
        ("C02", "2026-03", 1),
        ("C02", "2026-04", 1),
    ]
    assert [(f["tenant_id"], f["month"]) for f in april] == [("C01", "2026-04"), ("C02", "2026-04")]
    assert found["postgresql"][:3] == found["sqlite"][:3]
    assert sorted(ontime[0], key=str) == sorted(found["sqlite"][3][0], key=str)
    assert sorted(ontime[1], key=str) == sorted(found["sqlite"][3][1], key=str)
