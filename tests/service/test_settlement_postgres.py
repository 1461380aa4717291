"""Settlement on PostgreSQL, where workers really run side by side: the same visit.completed
delivered many times at once (different message ids) still makes exactly one claim, and
no message is dead-lettered."""

import pytest

from tests.conftest import HQ
from tests.settlement_fixtures import new_id, publish, ticket_event, visit_event, wait_claim  # noqa: F401


@pytest.mark.postgres
def test_concurrent_duplicates_make_one_claim(runner_factory, service_config, pg_url, publish, rpc_as):
    from services.settlement.service import SettlementService
    from shared.metrics import REGISTRY

    config = dict(service_config, DATABASES=dict(service_config["DATABASES"], settlement=pg_url))
    runner = runner_factory(config, SettlementService)
    runner.start()
    dead = {"service": "settlement", "source": "visit.completed"}
    dead_before = REGISTRY.get_sample_value("fsm_dead_letters_total", dead) or 0
    visits = []
    for _ in range(3):
        tid, vid = new_id("T"), new_id("V")
        publish("ticket.registered", ticket_event(tid))
        event = visit_event(vid, tid)
        for _ in range(8):  # eight deliveries, eight message ids, all at once
            publish("visit.completed", event)
        visits.append(vid)
    for vid in visits:
        wait_claim(rpc_as, vid)

    def settled():
        with rpc_as(HQ, "settlement") as s:
            items = s.list_claims({"limit": 500})["items"]
        return items if len(items) >= 3 else None

    import time

    time.sleep(1.5)  # let every delivery be handled
    items = settled()
    assert sorted(c["visit_id"] for c in items) == sorted(visits)
    assert (REGISTRY.get_sample_value("fsm_dead_letters_total", dead) or 0) == dead_before
