"""The customer's appointment SMS end to end over the real broker (seed 001: customers learn of
their appointment): intake registers a ticket with the customer's phone, dispatch plans its visit
and puts the phone on visit.scheduled only, notify sends 上门预约 to the provider's HTTP double; a
masked phone is recorded undeliverable, never sent; the outlet's view of the visit has no phone."""

import pytest

from services.dispatch.schemas import technician_row_to_payload
from shared.tenancy import Principal
from tests import notify_doubles as doubles
from tests.conftest import C01, HQ, Platform, technician_rows, wait_for

API = "/api/v1"
REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉预约短信客户",
    "phone": "13812345678",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}


@pytest.fixture
def platform(runner_factory, dispatch_config, tmp_path):
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.notify.service import NotifyService

    sms_port = doubles.free_port()
    config = dict(
        dispatch_config,
        NOTIFY_SMS_URL=f"http://127.0.0.1:{sms_port}/sms",
        NOTIFY_QUIET_HOURS="off",
        NOTIFY_RETRY_SECONDS=0.5,
        NOTIFY_SEND_TIMEOUT_SECONDS=3,
    )
    sms = doubles.start("sms", sms_port, tmp_path / "sms")
    runner = runner_factory(config, IntakeService, DispatchService, NotifyService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    p.sms_dir = tmp_path / "sms"
    yield p
    doubles.stop(sms)


def test_the_customer_gets_the_appointment_sms_and_a_masked_phone_none(platform, rpc_as):
    p = platform
    with rpc_as(C01, "dispatch") as dispatch:
        results = dispatch.import_technicians([technician_row_to_payload(r) for r in technician_rows("C01")])
        assert all(r["ok"] for r in results), results
    clear = p.post(f"{API}/tickets", C01, json=REPAIR).json()
    masked = p.post(f"{API}/tickets", C01, json=dict(REPAIR, customer_name="遮蔽号码客户", phone="139****5678")).json()

    def scheduled(ticket):
        with rpc_as(C01, "dispatch") as dispatch:
            items = dispatch.board({})["items"]
            return [i for i in items if i["ticket_id"] == ticket["id"] and i["status"] == "scheduled"]

    visit = wait_for(lambda: scheduled(clear), timeout=60, what="the visit planned")[0]
    texts = wait_for(
        lambda: [t for t in doubles.texts(p.sms_dir) if t["to"] == "13812345678"], what="the customer's SMS"
    )
    assert len(texts) == 1 and "上门" in texts[0]["text"] and "（北京时间）" in texts[0]["text"]

    wait_for(lambda: scheduled(masked), timeout=60, what="the masked customer's visit planned")

    def customer_notice(ticket):
        r = p.get(f"{API}/notify/notices", HQ, params={"ticket_id": ticket["id"], "channel": "sms"})
        return [n for n in r.json()["items"] if n["audience"] == "customer"]

    [notice] = wait_for(lambda: customer_notice(masked), what="the masked customer's notice")
    assert notice["status"] == "undeliverable" and "masked" in notice["error"]
    assert not [t for t in doubles.texts(p.sms_dir) if "*" in t["to"]]
    assert customer_notice(clear)[0]["status"] == "sent"

    outlet = Principal("o", "outlet", tenant="C01", outlet=visit["outlet_id"])
    r = p.get(f"{API}/visits/{visit['id']}", outlet)
    assert r.status_code == 200, r.text
    assert "13812345678" not in r.text  # the outlet's view of the visit shows no phone
