"""The monthly center report over the real broker (issue 18.5): qa makes a center's month from its own
rows and what intake, parts and settlement answer over RPC; the PDF (read back with pdftotext) names
the center in Chinese and prints its on-time share; the XLSX has its sheets; a center cannot read
another center's report; HQ's stored reports are made once per center and month, with the roll-up
and (the month closing a quarter) the quarterly satisfaction reports."""

import io
import subprocess
from datetime import datetime

import pytest
from nameko.testing.services import entrypoint_hook

from services.qa import domain
from shared import clock
from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ, Platform, wait_for
from tests.qa_fixtures import qa_config, send, visit  # noqa: F401
from tests.report_waiting import generate_and_wait, rollup_and_wait

SH = clock.LOCAL_TZ
MONTH = "2026-03"
SERVED = datetime(2026, 3, 10, 10, tzinfo=SH)
R = "/api/v1/reports"
O1 = Principal("o1-clerk", "outlet", tenant="C01", outlet="C01-O01")


@pytest.fixture
def report_platform(runner_factory, qa_config):
    """intake, parts, settlement, qa and the gateway."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    # the test ticks the timers itself
    config = dict(qa_config, QA_AUTO_REPORTS="true", QA_REPORT_SECONDS=3600, QA_REPORT_JOB_SECONDS=3600)
    runner = runner_factory(config, IntakeService, PartsService, SettlementService, QaService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def _ticket(number, tier, kind="repair"):
    return {
        "tenant_id": "C01",
        "ticket_id": f"t-{number}",
        "number": number,
        "kind": kind,
        "channel": "hotline",
        "priority": 3,
        "received_at": SERVED,
        "warranty": "warranty",
        "tier": tier,
        "geo_ambiguous": False,
        "product_line": "数控车床",
    }


def _tick_jobs(p):
    with entrypoint_hook(p.containers["qa"], "report_jobs") as run:
        run()


def _text(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def test_a_centers_monthly_report_pdf_xlsx_and_who_reads_it(report_platform, send):
    p = report_platform
    for number, tier in (("A-1", "local"), ("A-2", "local"), ("A-3", "in_province")):
        send("intake", "ticket.registered", _ticket(number, tier))
    send("intake", "ticket.registered", _ticket("A-9", "local", kind="complaint"))
    send("dispatch", "visit.completed", visit("v1", "t-A-1", "C01-O01", SERVED))
    send("dispatch", "visit.completed", visit("v2", "t-A-2", "C01-O01", SERVED, onsite_on_time=False))
    send("dispatch", "visit.completed", visit("v3", "t-A-3", "C01-O01", SERVED))

    def recorded():
        answer = p.get(f"{R}/monthly?month={MONTH}", C01)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        total = body["onsite"]["rows"][-1] if body["onsite"]["rows"] else {}
        return body if total.get("visits") == 3 and body["complaints"]["total"] == 1 else None

    report = wait_for(recorded, what="visits and the complaint in the month's report")
    assert report["center_name"] == "武汉区域服务中心" and report["tenant_id"] == "C01"
    onsite = {r["tier"]: r for r in report["onsite"]["rows"]}
    assert onsite["all"]["on_time_pct"] == "66.7" and onsite["local"]["on_time_pct"] == "50.0"
    assert onsite["in_province"]["on_time_pct"] == "100.0"
    # the other services answered over RPC (their sections are there, empty: nothing of theirs this month)
    for section in ("served", "sla", "parts", "money"):
        assert report[section]["available"] is True, (section, report[section])
    assert report["complaints"]["pareto"][0]["label"] == "未分类"

    pdf = p.get(f"{R}/monthly?tenant=C01&month={MONTH}&format=pdf", C01)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = _text(pdf.content)
    assert "武汉区域服务中心" in text and "2026年3月服务月报" in text
    assert "66.7%" in text and "上门准时率" in text and "投诉原因（帕累托）" in text

    from openpyxl import load_workbook

    xlsx = p.get(f"{R}/monthly?month={MONTH}&format=xlsx", C01)
    assert xlsx.status_code == 200, xlsx.text
    book = load_workbook(io.BytesIO(xlsx.content))
    assert {"概要", "客户与产品", "SLA按时率", "上门准时率", "投诉帕累托", "回访与满意度", "网点考评"} <= set(
        book.sheetnames
    )
    assert book["概要"]["B3"].value == "武汉区域服务中心"

    # another center's report: refused, naming the field; an outlet none; bad input names the field
    other = p.get(f"{R}/monthly?tenant=C01&month={MONTH}&format=pdf", C02)
    assert other.status_code == 403 and "tenant" in other.text
    bad = p.get(f"{R}/monthly?month=2026-13&format=doc", HQ)
    assert bad.status_code == 422 and {"month", "format"} <= set(bad.json()["error"]["fields"])
    assert p.get(f"{R}/monthly?tenant=C99&month={MONTH}", HQ).status_code == 422

    # before HQ assesses the month the center is 未考核; after, its score, grade and rank among the centers
    assert report["headline"]["assessment"] == "未考核"
    assert p.post("/api/v1/qa/center-assessments", HQ, json={"month": MONTH}).status_code == 200
    assessed = p.get(f"{R}/monthly?month={MONTH}", C01).json()
    assert assessed["assessment"]["assessed"] is True and assessed["headline"]["assessment_rank"] == 1
    assert "中心考核（得分、等级）" in _text(p.get(f"{R}/monthly?month={MONTH}&format=pdf", C01).content)

    # HQ's roll-up on demand (made in the background: test_qa_rollup_jobs): the centers side by
    # side, the country's total
    hq = rollup_and_wait(p, MONTH, "pdf", tick=lambda: _tick_jobs(p))
    hq_text = _text(hq.content)
    assert "武汉区域服务中心" in hq_text and "济南区域服务中心" in hq_text and "全国合计" in hq_text

    # the schedule's step, asked by HQ: a request answered at once (202), made by qa's report_jobs
    # timer in the background; once per center and month (the roll-up and the quarter too)
    assert p.post(f"{R}/generate", C01, json={"month": MONTH}).status_code == 403
    assert p.post(f"{R}/generate", HQ, json={"month": "2026-3"}).json()["error"]["fields"].keys() == {"month"}
    asked = p.post(f"{R}/generate", HQ, json={"month": MONTH})
    assert asked.status_code == 202, asked.text
    job = asked.json()
    assert (job["state"], job["done"], job["total"], job["quarter"]) == (
        "pending",
        0,
        14,
        "2026-Q1",
    )  # 6 centers and HQ, month and quarter
    assert p.post(f"{R}/generate", HQ, json={"month": MONTH}).json()["id"] == job["id"]  # one job while pending
    assert p.get(f"{R}/jobs/{job['id']}", C01).status_code == 403
    assert p.get(f"{R}/jobs/x", HQ).status_code == 422 and p.get(f"{R}/jobs/999", HQ).status_code == 404
    with entrypoint_hook(p.containers["qa"], "report_jobs") as run:
        assert run()["job"] == job["id"]
        assert run() is None  # nothing left to do
    made = p.get(f"{R}/jobs/{job['id']}", HQ).json()
    assert (made["state"], made["done"], made["total"]) == ("done", 14, 14) and made["finished_at"]
    assert "C01:monthly:2026-03" in made["made"]
    assert "HQ:monthly:2026-03" not in made["made"]  # stored when HQ downloaded the closed month above
    assert "C01:quarterly:2026-Q1" in made["made"]
    again = p.post(f"{R}/generate", HQ, json={"month": MONTH}).json()
    assert again["id"] != job["id"] and again["state"] == "pending"  # a finished request is not reopened
    with entrypoint_hook(p.containers["qa"], "report_jobs") as run:
        run()
    assert p.get(f"{R}/jobs/{again['id']}", HQ).json()["made"] == []  # what is stored stays

    mine = p.get(f"{R}?kind=monthly", C01).json()
    assert [(r["tenant_id"], r["period"], r["center_name"]) for r in mine["items"]] == [
        ("C01", MONTH, "武汉区域服务中心")
    ]
    everything = p.get(f"{R}?period={MONTH}", HQ).json()["items"]
    roll_up = next(r for r in everything if r["tenant_id"] == "HQ")
    assert p.get(f"{R}/{roll_up['id']}/file?format=pdf", C01).status_code == 404
    stored = p.get(f"{R}/{mine['items'][0]['id']}/file?format=pdf", C01)
    assert stored.status_code == 200 and "66.7%" in _text(stored.content)
    assert p.get(f"{R}/{mine['items'][0]['id']}/file?format=doc", C01).status_code == 422
    assert p.get(f"{R}/x1/file", C01).status_code == 422

    # the center's written part (seed 001), written after the month was stored: the stored report is
    # made again with it, and HQ's roll-up says Wuhan wrote; bad input names the field
    notes = {"month": MONTH, "technical": "主轴轴承批次磨损偏快", "competitors": "竞品推出两年保修"}
    written = p.post(f"{R}/notes", C01, json=notes)
    assert written.status_code == 200, written.text
    assert written.json()["remade"] == ["C01:monthly:2026-03"]  # now; HQ's roll-up reads every center:
    remake = written.json()["rollup_job"]  # made again in the background
    assert (remake["kind"], remake["state"], remake["url"]) == ("rollup", "pending", f"{R}/jobs/{remake['id']}")
    _tick_jobs(p)
    assert p.get(remake["url"], HQ).json()["made"] == ["HQ:monthly:2026-03"]
    bad = p.post(f"{R}/notes", C01, json={"month": MONTH, "product": "长" * 4001})
    assert bad.status_code == 422 and "product" in bad.json()["error"]["fields"]
    assert p.post(f"{R}/notes", O1, json=notes).status_code == 403
    again = _text(p.get(f"{R}/{mine['items'][0]['id']}/file?format=pdf", C01).content)
    assert "主轴轴承批次磨损偏快" in again and "竞品推出两年保修" in again and "（未填写）" in again
    rolled = _text(p.get(f"{R}/{roll_up['id']}/file?format=pdf", HQ).content)
    assert "各中心书面报告" in rolled and "已提交" in rolled and "未提交" in rolled
    sheet = load_workbook(io.BytesIO(p.get(f"{R}/{mine['items'][0]['id']}/file?format=xlsx", C01).content))
    assert "客户与产品档案" in sheet.sheetnames and sheet["书面报告"]["B3"].value == "主轴轴承批次磨损偏快"

    # the timer's tick (from the 1st of a month): the month before now, once
    previous = domain.previous_month(datetime.now(SH).strftime("%Y-%m"))
    with entrypoint_hook(p.containers["qa"], "report_schedule") as tick:
        first = tick()
        assert f"C01:monthly:{previous}" in first["made"] and f"HQ:monthly:{previous}" in first["made"]
        assert tick()["made"] == []
    assert p.get(f"{R}?period={previous}", C02).json()["total"] == 1  # Jinan sees its own month only

    quarter = p.get(f"{R}/quarterly?quarter=2026-Q1&format=xlsx", HQ)
    assert quarter.status_code == 200
    assert load_workbook(io.BytesIO(quarter.content)).sheetnames == ["满意度"]


def test_the_month_reads_intakes_tickets_and_sla_deadlines_over_rpc(report_platform):
    """A ticket registered and accepted now: this month's report counts its customer and product
    line (intake's tickets) and its acceptance deadline met (intake's SLA report) in its tier; the
    other center's month has none of it (intake scopes the RPC to the center acted for)."""
    from tests.qa_fixtures import REPAIR

    p = report_platform
    ticket = p.post("/api/v1/tickets", C01, json=REPAIR)
    assert ticket.status_code == 201, ticket.text
    accepted = p.post(f"/api/v1/tickets/{ticket.json()['id']}/transitions", C01, json={"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    month = datetime.now(SH).strftime("%Y-%m")

    report = p.get(f"{R}/monthly?month={month}", C01).json()
    assert report["served"]["tickets"] == 1 and report["served"]["customers"] == 1
    assert report["served"]["by_product"][0]["product_line"] == "数控车床"
    rows = {r["tier"]: r for r in report["sla"]["rows"]}
    assert rows["all"]["met"] >= 1 and rows["all"]["on_time_pct"] == "100.0", rows
    tier = ticket.json()["tier"]
    assert rows[tier]["met"] >= 1 and rows[tier]["label"] in ("本地", "省内", "省外"), rows

    jinan = p.get(f"{R}/monthly?tenant=C02&month={month}", HQ).json()
    assert jinan["center_name"] == "济南区域服务中心"
    assert jinan["served"]["tickets"] == 0 and jinan["sla"]["rows"] == []
    hq = rollup_and_wait(p, month, tick=lambda: _tick_jobs(p)).json()
    assert hq["total"]["tickets"] == 1 and hq["total"]["sla_all_pct"] == "100.0"


@pytest.mark.postgres
def test_stored_reports_on_postgresql(runner_factory, qa_config, pg_url):
    """The stored reports (bytea files, JSON content, one per tenant, kind and period) on PostgreSQL."""
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    config = dict(qa_config, DATABASES=dict(qa_config["DATABASES"], qa=pg_url))
    runner = runner_factory(config, IntakeService, PartsService, SettlementService, QaService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    made = generate_and_wait(p, "2026-05")  # qa's report_jobs timer (2 s) makes them
    assert "C01:monthly:2026-05" in made["made"] and made["quarter"] is None
    assert generate_and_wait(p, "2026-05")["made"] == []
    assert p.post(f"{R}/notes", C02, json={"month": "2026-05", "product": "液压站渗油"}).status_code == 200
    mine = p.get(f"{R}?period=2026-05", C02).json()["items"]
    assert [r["tenant_id"] for r in mine] == ["C02"]
    text = _text(p.get(f"{R}/{mine[0]['id']}/file?format=pdf", C02).content)
    assert "济南区域服务中心" in text and "液压站渗油" in text
