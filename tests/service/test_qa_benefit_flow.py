"""Benefit and department KPIs of the centers' assessment over the broker and the gateway: QA keeps
settlement's `claim.audited` (latest step per claim, out-of-order steps ignored), and GET
/api/v1/qa/center-assessments shows the month's service turnover (seed 001: 营业额) and the
complaint counts per department with their customer-opinion score (seed 004, seed 001's −3/−5)."""

from datetime import datetime, timedelta

from shared import clock
from tests.conftest import C01, HQ, wait_for
from tests.qa_fixtures import qa_config, qa_platform, send, visit  # noqa: F401

SH = clock.LOCAL_TZ
MONTH = "2026-03"
SERVED = datetime(2026, 3, 10, 10, tzinfo=SH)
API = "/api/v1"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def _claim(claim_id, status, amount, at, tenant="C01", outlet="C01-O01"):
    return {
        "tenant_id": tenant,
        "claim_id": claim_id,
        "outlet_id": outlet,
        "visit_id": f"v-{claim_id}",
        "ticket_id": f"t-{claim_id}",
        "level": "hq",
        "action": "decide",
        "status": status,
        "amount": amount,
        "at": at,
    }


def _complaint(number, at):
    return {
        "tenant_id": "C01",
        "ticket_id": f"tc-{number}",
        "number": number,
        "kind": "complaint",
        "channel": "hotline",
        "priority": 2,
        "received_at": at,
        "warranty": "warranty",
        "tier": "in_province",
        "geo_ambiguous": False,
    }


def test_center_assessment_shows_benefit_and_department_kpis(qa_platform, send, rpc_as):
    p = qa_platform
    send("dispatch", "visit.completed", visit("vk1", "tk1", "C01-O01", SERVED))
    send("dispatch", "visit.completed", visit("vk2", "tk2", "C01-O02", SERVED))
    send("settlement", "claim.audited", _claim("cl-1", "approved", "320.00", SERVED))
    send("settlement", "claim.audited", _claim("cl-2", "approved", "180.00", SERVED))
    send("settlement", "claim.audited", _claim("cl-3", "rejected", "90.00", SERVED))
    # an earlier step of cl-2 arriving late changes nothing; a C02 claim is C02's
    send("settlement", "claim.audited", _claim("cl-2", "center_review", "200.00", SERVED - timedelta(days=2)))
    send("settlement", "claim.audited", _claim("cl-9", "approved", "999.00", SERVED, tenant="C02", outlet="C02-O01"))
    send("intake", "ticket.registered", _complaint("C-1", SERVED))
    send("intake", "ticket.registered", _complaint("C-2", SERVED))

    def recorded():
        with rpc_as(HQ, "qa") as qa:
            return qa.work_list({"status": "all", "caller": "all"})["total"] >= 2

    wait_for(recorded, what="visits recorded")
    for number, department, level in (("C-1", "销售部", "company"), ("C-2", "销售部", "consumer_association")):

        def classify(number=number, department=department, level=level):
            r = p.post(
                f"{API}/qa/complaints/tc-{number}/classification",
                HQ,
                json={
                    "cause": "product_quality",
                    "responsibility": "other_department",
                    "level": level,
                    "department": department,
                },
            )
            return r.status_code == 200 and r.json()

        wait_for(classify, what=f"complaint {number} classified")

    def assessed():  # the claims come on their own queue: assess again until all four are kept
        ok(p.post(f"{API}/qa/center-assessments", HQ, json={"month": MONTH}))
        rows = ok(p.get(f"{API}/qa/center-assessments?month={MONTH}", HQ))
        money = {r["tenant_id"]: r["kpis"]["benefit"] for r in rows}
        done = (
            money["C01"]["claims_approved"] + money["C01"]["claims_rejected"] == 3 and money["C02"]["claims_approved"]
        )
        return done and rows

    rows = wait_for(assessed, what="claims kept and assessed")
    c01 = next(r for r in rows if r["tenant_id"] == "C01")
    money = c01["kpis"]["benefit"]
    assert money["turnover"] == "500.00" and money["claims_approved"] == 2 and money["claims_rejected"] == 1
    assert money["rejected_amount"] == "90.00" and money["turnover_per_job"] == "250.00" and money["profit"] is None
    sales = next(d for d in c01["departments"] if d["department"] == "销售部")
    assert sales["complaints"] == 2 and sales["deductions"] == -8 and sales["customer_opinion"] == 17
    assert sales["by_level"] == {"company": 1, "consumer_association": 1}
    c02 = next(r for r in rows if r["tenant_id"] == "C02")
    assert c02["kpis"]["benefit"]["turnover"] == "999.00"
    # a center sees its own figures only
    own = ok(p.get(f"{API}/qa/center-assessments?month={MONTH}", C01))
    assert [r["tenant_id"] for r in own] == ["C01"] and own[0]["kpis"]["benefit"]["turnover"] == "500.00"
