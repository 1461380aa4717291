"""The service ledger (服务信息台帐) over the real broker (issue 17): a checked-out visit
(dispatch's visit.completed) gives the row its 服务方式, 服务内容 and 服务人员, and the callback QA
records (qa's own callback.completed) its 回访记录, in the JSON rows and the CSV alike."""

import csv
import io
from datetime import timedelta

from tests.conftest import C01, wait_for
from tests.qa_fixtures import REPAIR, now_utc, qa_config, qa_platform, send, visit  # noqa: F401

API = "/api/v1"


def _row(platform, number):
    rows = platform.get(f"{API}/ledger", C01, params={"q": number}).json()
    return next((r for r in rows if r["number"] == number), None)


def test_a_checked_out_visit_and_a_recorded_callback_show_in_the_ledger(qa_platform, rpc_as, send):
    with rpc_as(C01, "intake") as intake:
        ticket = intake.register_ticket(dict(REPAIR, channel="web", customer_name="台帐回访测试公司"))
    before = _row(qa_platform, ticket["number"])
    # not served yet: no way of service (before, the web channel stood there), no content, no callback
    assert (before["service_mode"], before["work_done"], before["technician_name"], before["callback"]) == (
        None,
        None,
        None,
        None,
    )
    assert before["channel"] == "web"

    started = now_utc() - timedelta(hours=3)
    done = now_utc() - timedelta(hours=2)
    send("dispatch", "visit.started", visit("v-ledger-1", ticket["id"], "C01-O01", started))
    send(
        "dispatch",
        "visit.completed",
        visit(
            "v-ledger-1",
            ticket["id"],
            "C01-O01",
            done,
            technician_id="C01-O01-T1",
            technician_name="周晓东",
            work_done="更换主轴轴承, 试机正常",
        ),
    )
    served = wait_for(
        lambda: (r := _row(qa_platform, ticket["number"])) and r["work_done"] and r["onsite_at"] and r,
        what="the check-out in the ledger",
    )
    assert (served["service_mode"], served["work_done"], served["technician_name"]) == (
        "onsite",
        "更换主轴轴承, 试机正常",
        "周晓东",
    )
    assert served["callback"] is None

    # QA planned the franchised outlet's callback; the agent reaches the customer
    def planned():
        with rpc_as(C01, "qa") as qa:
            items = qa.work_list({"status": "all"})["items"]
        # the job's service callback (its seven-day tracking call is planned with it)
        return [c for c in items if c["ticket_id"] == ticket["id"] and c["purpose"] == "service"]

    [callback] = wait_for(planned, what="callback planned")
    with rpc_as(C01, "qa") as qa:
        qa.record_result(
            callback["id"],
            {
                "onsite_within_24h": True,
                "service_delivered": True,
                "fee_schedule_shown": True,
                "satisfaction": 5,
                "comment": "师傅很专业",
            },
        )
    row = wait_for(lambda: (r := _row(qa_platform, ticket["number"])) and r["callback"] and r, what="回访记录")
    assert "满意度 5/5" in row["callback"] and "师傅很专业" in row["callback"] and "不满意" not in row["callback"]

    # the CSV has the same cells under the seed's headings
    text = qa_platform.get(f"{API}/ledger.csv", C01, params={"q": ticket["number"]}).text.lstrip("\ufeff")
    header, *rows = list(csv.reader(io.StringIO(text)))
    [cells] = [dict(zip(header, r, strict=True)) for r in rows if r[0] == ticket["number"]]
    assert (cells["服务方式"], cells["服务内容"], cells["服务人员"], cells["受理渠道"]) == (
        "onsite",
        "更换主轴轴承, 试机正常",
        "周晓东",
        "web",
    )
    assert cells["回访记录"] == row["callback"]
