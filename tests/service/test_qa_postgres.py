"""QA on PostgreSQL with ten concurrent workers: the quota of each outlet-month stays exact while
jobs of the same outlet are planned at the same time (an advisory lock per outlet-month)."""

from collections import Counter
from datetime import timedelta

import pytest

from tests.conftest import HQ, wait_for
from tests.qa_fixtures import now_utc, qa_config, send, visit  # noqa: F401

pytestmark = pytest.mark.postgres


def test_concurrent_planning_keeps_quotas(container_factory, qa_config, pg_url, rpc_as, send):
    from services.qa.service import QaService

    qa_config["DATABASES"]["qa"] = pg_url
    qa_config["max_workers"] = 10
    container = container_factory(QaService, qa_config)
    container.start()
    base = now_utc() - timedelta(hours=5)
    counts = Counter()
    for i in range(300):
        outlet = ("C01-O05", "C01-O01")[i % 2]  # self-run, franchised
        counts[outlet] += 1
        send("dispatch", "visit.completed", visit(f"pg{i:03d}", f"tp{i:03d}", outlet, base + timedelta(seconds=i)))
    expected = 150 + 75 + 30 + 30  # franchised 100%, self-run 50%, HQ 20% of each

    def planned():
        with rpc_as(HQ, "qa") as qa:
            page = qa.work_list({"status": "all", "caller": "all", "purpose": "service", "limit": 1000})
        return page["total"] >= expected and page["items"]

    items = wait_for(planned, timeout=60, what="300 jobs planned")
    import eventlet

    eventlet.sleep(1.0)  # anything still in flight would overshoot now
    with rpc_as(HQ, "qa") as qa:
        items = qa.work_list({"status": "all", "caller": "all", "purpose": "service", "limit": 1000})["items"]
    tally = Counter((c["outlet_id"], c["stratum"]) for c in items)
    assert tally == {
        ("C01-O01", "franchised"): 150,
        ("C01-O05", "self_run"): 75,
        ("C01-O01", "hq"): 30,
        ("C01-O05", "hq"): 30,
    }
    assert len({(c["visit_id"], c["stratum"]) for c in items}) == len(items)
