"""The published OpenAPI document against the running platform: the gateway serves the document it
builds, valid; and real answers of all seven services, driven through a repair from registration
to a paid statement with the parts, certification and QA calls around it, match the schemas the
document gives them (tests/openapi_check.py: undocumented fields refused), so the document cannot
drift from the code."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openapi_spec_validator import validate

from shared.tenancy import Principal
from tests.conftest import C01, HQ, Platform, wait_for
from tests.openapi_check import AnswerCheck

ROOT = Path(__file__).resolve().parents[2]
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
API = "/api/v1"
OUTLET = "C01-O01"
O1 = Principal("openapi-o1-clerk", "outlet", tenant="C01", outlet=OUTLET)
WAREHOUSE = Principal("openapi-wh", "warehouse", tenant="C01", warehouse="WH-C01")
C01_LEAD = Principal("openapi-c01-lead", "center", tenant="C01", duty="technical_lead")
HQ_AUDITOR = Principal("openapi-hq-auditor", "hq")
SPINDLE = "CKL-SPB-6150"
REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "襄阳文档校验机械有限公司",
    "phone": "13907105678",
    "address": "湖北省襄阳市樊城区人民路8号",
    "product_line": "数控车床",
    "model": "CK6150",
    "serial_no": "CK6150OPENAPI1",
    "purchase_date": "2026-03-01",
    "fault": "主轴过热",
}
# every operation the flow below must have seen answer (the rest are exercised where they can be)
MUST_CHECK = {
    "me",
    "create_ticket",
    "list_tickets",
    "get_ticket",
    "transition",
    "import_tickets",
    "ledger",
    "sla_summary",
    "dispatch_board",
    "outlet_jobs",
    "dispatch_reoptimise",
    "dispatch_plan_runs",
    "get_visit",
    "check_in",
    "check_out",
    "request_return_visit",
    "pin_visit",
    "list_technicians",
    "import_technicians",
    "technician_route",
    "list_outlets",
    "get_outlet",
    "own_outlet_file",
    "cert_technicians",
    "cert_technician",
    "cert_trainings",
    "cert_record_training",
    "cert_record_exam",
    "network_plan",
    "parts_catalogue",
    "parts_locations",
    "parts_stock",
    "parts_movements",
    "parts_receive",
    "parts_adjust",
    "parts_transfer",
    "parts_scrap",
    "parts_reservations",
    "parts_request",
    "parts_release",
    "parts_issue",
    "parts_rmas",
    "parts_rma_ageing",
    "parts_rma",
    "parts_rejected",
    "parts_book_scan",
    "parts_scans",
    "parts_reconcile",
    "parts_reconciliations",
    "parts_outlet_balance",
    "settlement_list_claims",
    "settlement_get_claim",
    "settlement_audit_claim",
    "settlement_list_statements",
    "settlement_issue_statement",
    "settlement_get_statement",
    "settlement_record_payment",
    "settlement_balance",
    "settlement_open_items",
    "settlement_tariff",
    "settlement_issue_month",
    "qa_work_list",
    "qa_overdue",
    "qa_get_callback",
    "qa_record_result",
    "qa_plan_care",
    "qa_classify",
    "qa_complaint_analysis",
    "qa_record_finding",
    "qa_publish",
    "qa_scorecards",
    "qa_scorecard",
    "qa_score_facts",
    "qa_report",
    "qa_assess_centers",
    "qa_center_assessments",
    "qa_record_region",
    "qa_region_grades",
}


@pytest.fixture
def platform7(runner_factory, dispatch_config):
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    config = dict(
        dispatch_config,
        DISPATCH_BATCH_SECONDS=3600,
        DISPATCH_REOPT_SECONDS=3600,
        CERTIFICATION_CHECK_SECONDS=3600,
        PARTS_OVERDUE_CHECK_SECONDS=3600,
        QA_AUTO_MONTHLY="false",
        QA_SAMPLE_SEED="openapi-seed",
        max_workers=6,
    )
    runner = runner_factory(
        config,
        GatewayService,
        IntakeService,
        DispatchService,
        PartsService,
        SettlementService,
        CertificationService,
        QaService,
    )
    runner.start()
    yield Platform(runner, config)


def test_the_gateway_serves_its_document(platform7):
    from services.gateway.docs import openapi_document

    served = platform7.get("/openapi.json")
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("application/json")
    validate(served.json())
    assert served.json() == openapi_document()


class Client:
    """Calls through the gateway; every answer is checked against the document."""

    def __init__(self, platform):
        self.platform = platform
        self.check = AnswerCheck(platform.get("/openapi.json").json())

    def __call__(self, method, path, principal, expect=(200, 201), **kw):
        r = self.platform.request(method, API + path, principal, **kw)
        assert r.status_code in ((expect,) if isinstance(expect, int) else expect), f"{method} {path}: {r.text}"
        self.check(r)
        return r.json() if r.headers["Content-Type"].startswith("application/json") else r

    def poll(self, path, principal, found, what):
        def probe():
            r = self.platform.get(API + path, principal)
            return r.status_code == 200 and found(r.json()) and r

        r = wait_for(probe, timeout=20, what=what)
        self.check(r)
        return r.json()


def _technicians_csv():
    rows = list(csv.DictReader(io.StringIO((ROOT / "shared/data/technicians.csv").read_text(encoding="utf-8"))))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(r for r in rows if r["tenant_id"] == "C01")
    return out.getvalue().encode("utf-8")


def test_real_answers_match_the_document(platform7):
    call = Client(platform7)
    month = datetime.now(LOCAL_TZ).strftime("%Y-%m")
    csv_type = {"Content-Type": "text/csv"}

    # ------------------------------------------------------------ intake
    call("GET", "/me", C01)
    ticket = call("POST", "/tickets", C01, json=REPAIR, expect=201)
    imported = call(
        "POST",
        "/tickets/import",
        C01,
        headers=csv_type,
        data="kind,channel,customer_name,phone,address,product_line,model,fault\n"
        "complaint,hotline,荆州投诉客户,13907169999,湖北省荆州市荆州区北京路9号,数控车床,CK6150,维修后仍漏油\n"
        "repair,pigeon,,,,,,\n".encode(),
    )
    assert imported["imported"] == 1 and imported["failed"] == 1, imported
    complaint = imported["rows"][0]["ticket_id"]
    call("POST", f"/tickets/{complaint}/transitions", C01, json={"action": "accept"})
    call("GET", "/tickets?limit=5", C01)
    call("GET", f"/tickets/{ticket['id']}", C01)
    call("GET", "/ledger?limit=5", C01)
    call("GET", "/ledger.csv", C01)
    call("GET", "/sla/summary", HQ)

    # ------------------------------------------------------------ dispatch: plan, go on site
    call("POST", "/technicians/import", C01, headers=csv_type, data=_technicians_csv())
    call("GET", f"/technicians?outlet_id={OUTLET}", C01)
    board = call.poll(
        "/dispatch/board", C01, lambda b: any(v["ticket_id"] == ticket["id"] for v in b["items"]), "visit"
    )
    visit = next(v for v in board["items"] if v["ticket_id"] == ticket["id"])
    call("POST", f"/visits/{visit['id']}/pin", C01, json={"technician_id": f"{OUTLET}-T1"})
    call("POST", "/dispatch/reoptimise", C01, json={"tenant_id": "C01"})
    call("GET", "/dispatch/plan-runs", C01)
    visit = call("GET", f"/visits/{visit['id']}", C01)
    assert visit["status"] == "scheduled", visit
    day = datetime.fromisoformat(visit["planned_arrival"]).astimezone(LOCAL_TZ).date().isoformat()
    call("GET", f"/technicians/{OUTLET}-T1/route?date={day}", C01)
    call("GET", f"/technicians/{OUTLET}-T1/route.csv?date={day}", C01)
    call("GET", "/outlet/jobs", O1)

    # ------------------------------------------------------------ parts: stock, a request, the issue
    call("GET", "/parts/catalogue?product_line=数控车床&model=CK6150&fault=主轴过热", C01)
    call("GET", "/parts/locations", C01)
    call("POST", "/parts/receipts", WAREHOUSE, json={"location_id": "WH-C01", "part_no": "CKL-FAN-01", "quantity": 5})
    call(
        "POST",
        "/parts/adjustments",
        WAREHOUSE,
        json={"location_id": "WH-C01", "part_no": "CKL-FAN-01", "quantity": -1, "reason": "盘点短少"},
    )
    call(
        "POST",
        "/parts/transfers",
        C01,
        json={"from_location_id": "WH-C01", "to_location_id": "WH-HQ", "part_no": "CKL-FAN-01", "quantity": 1},
    )
    call(
        "POST",
        "/parts/scrap",
        WAREHOUSE,
        json={"location_id": "WH-C01", "part_no": "CKL-FAN-01", "quantity": 1, "condition": "good", "reason": "破损"},
    )
    extra = call("POST", "/parts/reservations", O1, json={"outlet_id": OUTLET, "lines": [{"part_no": "CKL-FAN-01"}]})
    call("DELETE", f"/parts/reservations/{extra[0]['id']}", O1)
    reserved = call.poll(f"/parts/reservations?visit_id={visit['id']}", C01, lambda r: r["items"], "reservation")
    line = {"part_no": SPINDLE, "quantity": 1, "serials": ["SPB-DOC-1"], "reservation_id": reserved["items"][0]["id"]}
    call("POST", "/parts/issues", WAREHOUSE, json={"outlet_id": OUTLET, "lines": [line]})
    call("GET", f"/parts/stock?location_id={OUTLET}", C01)

    # ------------------------------------------------------------ on site
    call("POST", f"/visits/{visit['id']}/check-in", O1, json={"lat": 32.04, "lon": 112.14})
    used = {"part_no": SPINDLE, "quantity": 1, "new_serial": "SPB-DOC-1", "removed_serial": "SPB-OLD-1"}
    call(
        "POST",
        f"/visits/{visit['id']}/check-out",
        O1,
        json={"work_done": "更换主轴轴承", "customer_confirmed": True, "parts_used": [used]},
    )
    rmas = call.poll(f"/parts/rmas?visit_id={visit['id']}", C01, lambda r: r["items"], "an RMA")
    call("GET", f"/parts/rmas/{rmas['items'][0]['rma_no']}", C01)
    call("GET", "/parts/rmas/ageing", C01)
    call("GET", f"/parts/movements?location_id={OUTLET}", C01)
    call("GET", "/parts/receipts/rejected", WAREHOUSE)
    scan = {"kind": "stock", "location_id": "WH-C01", "part_no": "CKL-FAN-01", "quantity": 1}
    call("POST", "/parts/scans", WAREHOUSE, json=scan, expect=201)
    call("GET", "/parts/scans?kind=stock", WAREHOUSE)
    call("POST", "/parts/reconciliations", C01, json={"month": month})
    call("GET", f"/parts/reconciliations?month={month}", C01)
    call("GET", f"/parts/reconciliations.csv?month={month}", C01)
    call("GET", f"/parts/reconciliations.xlsx?month={month}", C01)
    call("GET", f"/parts/outlets/{OUTLET}/balance", C01)

    # ------------------------------------------------------------ settlement: audit, statement, payment
    claims = call.poll(f"/settlement/claims?outlet_id={OUTLET}", C01, lambda c: c["items"], "a claim")
    claim = call("GET", f"/settlement/claims/{claims['items'][0]['id']}", C01)
    for level, who in (("center", C01), ("technical_lead", C01_LEAD), ("hq", HQ_AUDITOR)):
        claim = call("POST", f"/settlement/claims/{claim['id']}/audit", who, json={"level": level, "action": "approve"})
    statement = call("POST", "/settlement/statements", C01, json={"outlet_id": OUTLET, "month": month}, expect=201)
    call("GET", f"/settlement/statements/{statement['id']}", O1)
    call("GET", f"/settlement/statements?month={month}", C01)
    call("GET", f"/settlement/statements/{statement['id']}/download/xlsx", O1)
    call(
        "POST",
        f"/settlement/statements/{statement['id']}/payments",
        C01,
        json={"amount": statement["total"], "reference": "BANK-DOC-1"},
        expect=201,
    )
    call("GET", f"/settlement/outlets/{OUTLET}/balance", O1)
    call("GET", f"/settlement/outlets/{OUTLET}/open-items", C01)
    call("GET", "/settlement/tariff?tenant_id=C01", C01)
    call("POST", "/settlement/statements/issue-month", C01, json={"month": month})

    # ------------------------------------------------------------ certification
    call("GET", "/outlets?tenant_id=C01&limit=3", C01)
    call("GET", f"/outlets/{OUTLET}", C01)
    call("GET", "/outlet/file", O1)
    call("GET", f"/certification/technicians?outlet_id={OUTLET}", C01)
    call("GET", f"/certification/technicians/{OUTLET}-T1", C01)
    call(
        "POST",
        "/certification/trainings",
        C01,
        json={"product_line": "数控车床", "title": "数控车床主轴维修", "held_on": "2026-01-10"},
    )
    call("GET", "/certification/trainings", C01)
    call(
        "POST",
        "/certification/exams",
        C01,
        json={"technician_id": f"{OUTLET}-T2", "product_line": "数控车床", "score": "92"},
    )
    call("GET", "/network-plan?capacity=1000", C01)

    # ------------------------------------------------------------ qa
    work = call.poll("/qa/callbacks", C01, lambda w: any(c["visit_id"] == visit["id"] for c in w["items"]), "callback")
    callback = next(c for c in work["items"] if c["visit_id"] == visit["id"])
    call("GET", f"/qa/callbacks/{callback['id']}", C01)
    call(
        "POST",
        f"/qa/callbacks/{callback['id']}/result",
        C01,
        json={"onsite_within_24h": True, "service_delivered": True, "fee_schedule_shown": True, "satisfaction": 5},
    )
    call("GET", "/qa/callbacks/overdue", C01)
    call("POST", "/qa/care-calls", C01, json={"month": month})
    call.poll("/qa/complaints/analysis", C01, lambda a: a["complaints"] >= 1, "QA saw the complaint")
    call(
        "POST",
        f"/qa/complaints/{complaint}/classification",
        C01,
        json={"cause": "repair_quality", "responsibility": "own", "outlet_id": OUTLET},
    )
    call("GET", "/qa/complaints/analysis", C01)
    call("POST", "/qa/findings", C01, json={"outlet_id": OUTLET, "kind": "no_periodic_inspection", "note": "未巡查"})
    call("GET", f"/qa/scorecards/{OUTLET}/{month}?preview=1", C01)
    call("POST", "/qa/scorecards/publish", HQ, json={"month": month})
    call("GET", f"/qa/scorecards?month={month}", C01)
    call("GET", f"/qa/scorecards/{OUTLET}/{month}", O1)
    call("GET", f"/qa/scorecards/{OUTLET}/{month}/facts", O1)
    call("POST", "/qa/center-assessments", HQ, json={"month": month})
    call("GET", f"/qa/center-assessments?month={month}", C01)
    call("PUT", "/qa/regions/C01", HQ, json={"competition": 60, "resources": 70})
    call("GET", "/qa/regions", C01)
    call("GET", "/qa/reports/ontime", C01)
    call("GET", "/qa/reports/callbacks?format=csv", C01)

    # ------------------------------------------------------------ the outlet asks to go back
    call("POST", f"/visits/{visit['id']}/return-visit", O1, json={"reason": "客户反映主轴仍有异响"}, expect=201)
    assert call("GET", f"/visits/{visit['id']}", O1)["return_visit_refusal"] == "open_visit"

    missing = MUST_CHECK - set(call.check.checked)
    assert not missing, f"not checked: {sorted(missing)}"
    print(f"{len(call.check.checked)} operations' answers checked against the document")
