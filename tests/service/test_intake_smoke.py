from services.intake.service import IntakeService
from tests.conftest import C01, C02, HQ


class Collector:
    name = "collector"


def test_register_and_event(container_factory, service_config, rpc_as):
    container = container_factory(IntakeService, service_config)
    container.start()
    with rpc_as(C01) as intake:
        t = intake.register_ticket(
            {
                "kind": "repair",
                "channel": "hotline",
                "customer_name": "武汉测试公司",
                "phone": "138****0000",
                "address": "湖北省武汉市洪山区珞喻路1号",
                "product_line": "数控车床",
                "model": "CK6150",
                "purchase_date": "2025-06-01",
                "fault": "无法启动",
            }
        )
        assert t["tenant_id"] == "C01"
        assert t["tier"] == "local"
        assert {d["sla"] for d in t["deadlines"]} >= {"accept", "onsite"}
        got = intake.get_ticket(t["id"])
        assert got["number"] == t["number"]
    with rpc_as(C02) as intake:
        import pytest

        from shared.errors import NotFound

        with pytest.raises(NotFound):
            intake.get_ticket(t["id"])


def test_quorum_queues(container_factory, service_config, rpc_as):
    """With QUEUE_TYPE=quorum the service declares its RPC and event queues as quorum queues."""
    import requests

    service_config["QUEUE_TYPE"] = "quorum"
    container = container_factory(IntakeService, service_config)
    container.start()
    with rpc_as(HQ) as intake:
        assert intake.list_tickets({})["total"] == 0
    vhost = service_config["AMQP_URI"].rsplit("/", 1)[1]
    queues = requests.get(f"http://127.0.0.1:15672/api/queues/{vhost}", auth=("guest", "guest")).json()
    types = {q["name"]: q.get("type") for q in queues}
    assert types["rpc-intake"] == "quorum"
    assert types["intake.bridge-requests"] == "quorum"
    assert types["evt-dispatch-visit.started--intake.on_visit_started"] == "quorum"
