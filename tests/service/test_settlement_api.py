"""Settlement through the gateway: roles and tenancy, the three-level audit refusing a wrong
role or a skipped level, outlet submissions (duplicate, cap), self-paid receipts, downloads,
bad input, and rules that depend on other claims (repeat repair, warranty on the visit date)."""

import io
from datetime import UTC, date, datetime, timedelta, timezone

from tests.conftest import C01, C02, HQ
from tests.pdf_tools import pdf_text
from tests.settlement_fixtures import (  # noqa: F401
    C01_LEAD,
    C02_LEAD,
    HQ_AUDITOR,
    OUTLET_A,
    OUTLET_B,
    OUTLET_C02,
    new_id,
    publish,
    settlement_platform,
    ticket_event,
    visit_event,
    wait_claim,
)

S = "/api/v1/settlement"
UTC = UTC


def make_claim(publish, rpc_as, tenant="C01", outlet="C01-O01", **ticket_kw):
    tid, vid = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(tid, tenant, **ticket_kw))
    publish("visit.completed", visit_event(vid, tid, tenant, outlet))
    return wait_claim(rpc_as, vid), vid, tid


def test_roles_and_tenancy(settlement_platform, publish, rpc_as):
    p = settlement_platform
    mine, _, _ = make_claim(publish, rpc_as)
    other_outlet, _, _ = make_claim(publish, rpc_as, outlet="C01-O03")
    c02_claim, _, _ = make_claim(publish, rpc_as, tenant="C02", outlet="C02-O01")

    ids = lambda r: {c["id"] for c in r.json()["items"]}  # noqa: E731
    r = p.get(f"{S}/claims", OUTLET_A)
    assert r.status_code == 200 and ids(r) == {mine["id"]}
    assert p.get(f"{S}/claims/{other_outlet['id']}", OUTLET_A).status_code == 404
    assert ids(p.get(f"{S}/claims", C01)) == {mine["id"], other_outlet["id"]}
    assert p.get(f"{S}/claims/{c02_claim['id']}", C01).status_code == 404
    assert ids(p.get(f"{S}/claims", C02)) == {c02_claim["id"]}
    assert ids(p.get(f"{S}/claims", HQ)) == {mine["id"], other_outlet["id"], c02_claim["id"]}

    # an outlet does not audit; a center cannot audit another tenant's claim
    r = p.post(f"{S}/claims/{mine['id']}/audit", OUTLET_A, json={"level": "center", "action": "approve"})
    assert r.status_code == 403
    r = p.post(f"{S}/claims/{c02_claim['id']}/audit", C01, json={"level": "center", "action": "approve"})
    assert r.status_code == 404
    # balances: an outlet sees its own only
    assert p.get(f"{S}/outlets/C01-O01/balance", OUTLET_A).status_code == 200
    assert p.get(f"{S}/outlets/C01-O03/balance", OUTLET_A).status_code == 404
    assert p.get(f"{S}/outlets/C02-O01/balance", C01).status_code == 404
    # statements: issued by the center for its outlet; another center cannot; outlets read their own
    month = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    assert p.post(f"{S}/statements", OUTLET_A, json={"outlet_id": "C01-O01", "month": month}).status_code == 403
    r = p.post(f"{S}/statements", C02, json={"outlet_id": "C01-O01", "month": month})
    assert r.status_code == 422 and "outlet_id" in r.json()["error"]["fields"]
    r = p.post(f"{S}/statements", C01, json={"outlet_id": "C01-O01", "month": month})
    assert r.status_code == 201, r.text
    st = r.json()
    assert p.get(f"{S}/statements/{st['id']}", OUTLET_A).status_code == 200
    assert p.get(f"{S}/statements/{st['id']}", OUTLET_B).status_code == 404
    assert p.get(f"{S}/statements/{st['id']}", C02).status_code == 404
    assert p.post(f"{S}/statements", C01, json={"outlet_id": "C01-O01", "month": month}).status_code == 409


def test_three_level_audit_over_http(settlement_platform, publish, rpc_as):
    p = settlement_platform
    claim, _, _ = make_claim(publish, rpc_as)
    url = f"{S}/claims/{claim['id']}/audit"
    # HQ cannot skip the center and the technical lead
    r = p.post(url, HQ_AUDITOR, json={"level": "hq", "action": "approve"})
    assert r.status_code == 409 and "skip" in r.json()["error"]["message"]
    # a plain center user is not the technical lead; the lead is not the center auditor
    assert p.post(url, C01, json={"level": "technical_lead", "action": "approve"}).status_code == 403
    assert p.post(url, C01_LEAD, json={"level": "center", "action": "approve"}).status_code == 403
    assert p.post(url, C01, json={"level": "hq", "action": "approve"}).status_code == 403
    r = p.post(url, C01, json={"level": "center", "action": "adjust", "amount": "300.00"})
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
    r = p.post(url, C01, json={"level": "center", "action": "approve"})
    assert r.status_code == 200 and r.json()["status"] == "tech_review"
    # the center level has decided: it cannot decide again
    assert p.post(url, C01, json={"level": "center", "action": "approve"}).status_code == 409
    r = p.post(
        url,
        C01_LEAD,
        json={
            "level": "technical_lead",
            "action": "adjust",
            "amount": "400.00",
            "reason": "transport shorter than planned",
        },
    )
    assert r.status_code == 200 and r.json()["approved"] == "400.00"
    r = p.post(url, HQ_AUDITOR, json={"level": "hq", "action": "approve"})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "approved"
    assert [(a["level"], a["action"], a["amount_after"]) for a in body["audits"]] == [
        ("center", "approve", "441.50"),
        ("technical_lead", "adjust", "400.00"),
        ("hq", "approve", "400.00"),
    ]
    assert body["adjustments"][-1]["rule"] == "audit:technical_lead"
    assert p.post(url, HQ_AUDITOR, json={"level": "hq", "action": "approve"}).status_code == 409
    # a rejection at any level ends the claim
    other, _, _ = make_claim(publish, rpc_as)
    r = p.post(
        f"{S}/claims/{other['id']}/audit",
        C01,
        json={"level": "center", "action": "reject", "reason": "work order illegible"},
    )
    assert r.json()["status"] == "rejected"


def test_outlet_submission_duplicate_and_bad_input(settlement_platform, publish, rpc_as):
    p = settlement_platform
    claim, vid, _ = make_claim(publish, rpc_as)
    r = p.post(f"{S}/claims", OUTLET_A, json={"visit_id": vid, "claimed": {"labour": "346.50"}, "note": "按标准"})
    assert r.status_code == 201 and r.json()["id"] == claim["id"] and r.json()["source"] == "outlet"
    dup_rule = next(x for x in r.json()["rules"] if x["rule"] == "duplicate_claim")
    assert dup_rule["outcome"] == "pass"
    # the same visit claimed again: a duplicate, rejected by the rule, the first claim untouched
    r = p.post(f"{S}/claims", OUTLET_A, json={"visit_id": vid})
    dup = r.json()
    assert r.status_code == 201 and dup["status"] == "rejected" and dup["duplicate"] is True
    assert next(x for x in dup["rules"] if x["rule"] == "duplicate_claim")["outcome"] == "reject"
    assert p.get(f"{S}/claims/{claim['id']}", OUTLET_A).json()["status"] == "center_review"
    # another outlet's visit does not exist for this outlet
    _, other_vid, _ = make_claim(publish, rpc_as, outlet="C01-O03")
    assert p.post(f"{S}/claims", OUTLET_A, json={"visit_id": other_vid}).status_code == 404
    # bad input names the field and changes nothing
    for body, field in (
        ({"visit_id": vid, "claimed": {"labour": 1.234}}, "claimed"),
        ({"visit_id": vid, "claimed": {"bonus": "5"}}, "claimed"),
        ({"visit_id": vid, "travel_days": -1}, "travel_days"),
        ({"visit_id": vid, "receipt_no": "R1"}, "receipt_amount"),
        ({"claimed": {}}, "visit_id"),
        ({"visit_id": vid, "surprise": 1}, "surprise"),
    ):
        r = p.post(f"{S}/claims", OUTLET_A, json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
    r = p.post(f"{S}/claims/{claim['id']}/audit", C01, json={"level": "middle", "action": "approve"})
    assert r.status_code == 422 and "level" in r.json()["error"]["fields"]
    r = p.post(f"{S}/statements", C01, json={"outlet_id": "C01-O01", "month": "2026-13"})
    assert r.status_code == 422 and "month" in r.json()["error"]["fields"]
    assert p.get(f"{S}/claims/{claim['id']}", C01).json()["version"] == 2  # only the good submission


def test_repeat_repair_and_warranty_on_visit_date(settlement_platform, publish, rpc_as):
    p = settlement_platform
    now = datetime.now(UTC)
    tid1, vid1, tid2, vid2 = new_id("T"), new_id("V"), new_id("T"), new_id("V")
    serial = new_id("SN")
    publish("ticket.registered", ticket_event(tid1, serial_no=serial, fault="主轴过热"))
    publish("visit.completed", visit_event(vid1, tid1, at=now - timedelta(days=20)))
    first = wait_claim(rpc_as, vid1)
    assert next(r for r in first["rules"] if r["rule"] == "repeat_repair")["outcome"] == "pass"
    publish("ticket.registered", ticket_event(tid2, serial_no=serial, fault="主轴过热"))
    publish("visit.completed", visit_event(vid2, tid2, at=now - timedelta(days=2)))
    second = wait_claim(rpc_as, vid2)
    rep = next(r for r in second["rules"] if r["rule"] == "repeat_repair")
    assert rep["outcome"] == "flag" and first["id"] in rep["reason"] and second["flagged"]
    url = f"{S}/claims/{second['id']}/audit"
    assert p.post(url, C01, json={"level": "center", "action": "approve"}).status_code == 200
    r = p.post(url, C01_LEAD, json={"level": "technical_lead", "action": "approve"})
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
    r = p.post(
        url,
        C01_LEAD,
        json={"level": "technical_lead", "action": "approve", "reason": "different spindle bearing failed"},
    )
    assert r.status_code == 200 and r.json()["status"] == "hq_review"

    # 数控车床 has a 1-year warranty: bought 13 months before the visit → rejected; 11 months → valid
    visit_day = (now - timedelta(days=1)).date()
    for months, outcome in ((13, "reject"), (11, "pass")):
        tid, vid = new_id("T"), new_id("V")
        bought = date(
            visit_day.year - (1 if visit_day.month <= months else 0),
            (visit_day.month - months - 1) % 12 + 1,
            min(visit_day.day, 28),
        )
        publish("ticket.registered", ticket_event(tid, purchase_date=bought))
        publish("visit.completed", visit_event(vid, tid, at=now - timedelta(days=1)))
        c = wait_claim(rpc_as, vid)
        assert next(r for r in c["rules"] if r["rule"] == "warranty_valid")["outcome"] == outcome, (bought, c["rules"])


def test_self_paid_receipt_and_downloads(settlement_platform, publish, rpc_as):
    p = settlement_platform
    claim, _, _ = make_claim(publish, rpc_as, warranty="self_paid")
    assert claim["payer"] == "self_paid"
    r = p.post(f"{S}/claims/{claim['id']}/receipt", OUTLET_A, json={"receipt_no": "SJ-0001", "amount": "441.50"})
    assert r.status_code == 200, r.text
    receipt = r.json()["receipt"]
    assert (receipt["outlet_share"], receipt["center_share"]) == ("353.20", "88.30")
    assert receipt["tariff_line"] == "HQ-2026:self_paid_outlet_share"
    warranty_claim, _, _ = make_claim(publish, rpc_as)
    r = p.post(f"{S}/claims/{warranty_claim['id']}/receipt", OUTLET_A, json={"receipt_no": "X", "amount": "1"})
    assert r.status_code == 409
    for c in (claim, warranty_claim):
        url = f"{S}/claims/{c['id']}/audit"
        p.post(url, C01, json={"level": "center", "action": "approve"})
        p.post(url, C01_LEAD, json={"level": "technical_lead", "action": "approve"})
        assert p.post(url, HQ_AUDITOR, json={"level": "hq", "action": "approve"}).json()["status"] == "approved"
    month = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m")
    r = p.post(f"{S}/statements/issue-month", C01, json={"month": month})
    assert r.status_code == 200
    issued = {i["outlet_id"]: i for i in r.json()["issued"]}
    assert set(issued) == {"C01-O01"}  # outlets with nothing to settle get no statement
    st = p.get(f"{S}/statements/{issued['C01-O01']['statement_id']}", OUTLET_A).json()
    assert sorted((l["kind"], l["amount"]) for l in st["lines"]) == [("claim", "441.50"), ("self_paid_share", "-88.30")]
    assert st["total"] == "353.20"
    x = p.get(f"{S}/statements/{st['id']}/download/xlsx", OUTLET_A)
    assert x.status_code == 200 and x.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(x.content)).active
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert "合计 Total" in values and any(isinstance(v, float) and round(v, 2) == 353.2 for v in values)
    assert "襄阳新阳特约服务站 (C01-O01)" in values and "中国建设银行襄阳襄城支行" in values
    pdf = p.get(f"{S}/statements/{st['id']}/download/pdf", OUTLET_A)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = " ".join(pdf_text(pdf.content)[0].split())
    assert "襄阳新阳特约服务站" in text and "合计 Total 353.20" in text and "自费分成" in text
    local = datetime.fromisoformat(st["issued_at"]).astimezone(timezone(timedelta(hours=8)))
    assert local.strftime("%Y-%m-%d %H:%M") in text  # the issue time as the outlet's clock shows it
    # a machine without the font: a clear 503 naming the setting, the XLSX still served
    p.containers["settlement"].config["PDF_FONT"] = "/nonexistent/wqy-zenhei.ttc"
    try:
        r = p.get(f"{S}/statements/{st['id']}/download/pdf", OUTLET_A)
        assert r.status_code == 503 and "FSM_PDF_FONT" in r.json()["error"]["message"], r.text
        assert p.get(f"{S}/statements/{st['id']}/download/xlsx", OUTLET_A).status_code == 200
    finally:
        del p.containers["settlement"].config["PDF_FONT"]
    assert p.get(f"{S}/statements/{st['id']}/download/pdf", OUTLET_B).status_code == 404
    assert p.get(f"{S}/statements/{st['id']}/download/doc", OUTLET_A).status_code == 422
    # payments: center or HQ, never more than outstanding
    assert (
        p.post(f"{S}/statements/{st['id']}/payments", OUTLET_A, json={"amount": "1.00", "reference": "B1"}).status_code
        == 403
    )
    r = p.post(f"{S}/statements/{st['id']}/payments", HQ, json={"amount": "400.00", "reference": "B1"})
    assert r.status_code == 422 and "amount" in r.json()["error"]["fields"]
    r = p.post(f"{S}/statements/{st['id']}/payments", HQ, json={"amount": "353.20", "reference": "B1"})
    assert r.status_code == 201 and r.json()["status"] == "paid"
    bal = p.get(f"{S}/outlets/C01-O01/balance", OUTLET_A).json()
    assert bal["balance"] == "0.00" and bal["paid"] == "353.20"
