"""QA's timer on the product clock: overdue callbacks counted, and on the scorecard day the previous
month's care-call list and scorecards, only for a month QA followed."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from nameko.testing.services import entrypoint_hook

from shared import clock
from shared.metrics import REGISTRY
from tests.conftest import C01, HQ, wait_for
from tests.qa_fixtures import qa_config, send, visit  # noqa: F401

SH = ZoneInfo("Asia/Shanghai")


def test_housekeeping_publishes_followed_months(container_factory, qa_config, rpc_as, send):
    from services.qa.service import QaService

    qa_config["QA_AUTO_MONTHLY"] = "true"
    container = container_factory(QaService, qa_config)
    container.start()
    served = datetime(2026, 3, 10, 10, tzinfo=SH)
    for i in range(10):
        send("dispatch", "visit.completed", visit(f"m{i}", f"tm{i}", "C01-O01", served + timedelta(hours=i)))

    def planned():
        with rpc_as(C01, "qa") as qa:
            return qa.work_list({"status": "all"})["total"] == 20  # a service call and a tracking call each

    wait_for(planned, what="March jobs planned")
    try:
        # 5 April: callbacks overdue, scorecard day (8th) not reached: only the care list is planned
        clock.travel_to(datetime(2026, 4, 5, 9, tzinfo=SH))
        with entrypoint_hook(container, "housekeeping") as tick:
            tick()
        assert (
            REGISTRY.get_sample_value("fsm_qa_callbacks_overdue", {"service": "qa", "tenant": "C01"}) == 12
        )  # 10 + HQ 2; the tracking calls, planned (today) after their 7 days had passed, are due later
        with rpc_as(HQ, "qa") as qa:
            care = qa.work_list({"status": "all", "caller": "all", "purpose": "care"})["items"]
            assert len(care) == 2 and {c["period"] for c in care} == {"2026-03"}
            assert qa.scorecards({"month": "2026-03"}) == []
        # 9 April: March is published (ten missed callbacks: -10); February, not followed, is not
        clock.travel_to(datetime(2026, 4, 9, 9, tzinfo=SH))
        with entrypoint_hook(container, "housekeeping") as tick:
            tick()
        with rpc_as(HQ, "qa") as qa:
            cards = {c["outlet_id"]: c for c in qa.scorecards({"month": "2026-03"})}
            assert len(cards) == 36 and cards["C01-O01"]["score"] == "90.0"
            assert cards["C01-O01"]["rank_nationwide"] == 1  # the only outlet with jobs: the rest not rated
            assert sum(1 for c in cards.values() if c["rated"] is False and c["score"] is None) == 35
        clock.travel_to(datetime(2026, 3, 9, 9, tzinfo=SH))
        with entrypoint_hook(container, "housekeeping") as tick:
            tick()
        with rpc_as(HQ, "qa") as qa:
            assert qa.scorecards({"month": "2026-02"}) == []
    finally:
        clock.reset()
