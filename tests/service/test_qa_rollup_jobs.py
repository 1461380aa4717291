"""HQ's roll-up of a month on demand (全国汇总, ``GET /api/v1/reports/monthly``) over the real broker:
collecting every center's figures takes longer than an RPC may wait, so it is never made inside the
request. The first ask answers 202 with a job (Location, its file's URL), a second ask joins it, its
file is 409 until made; qa's report_jobs timer takes it before a stored reports' request, reading
the centers one by one, and keeps its PDF, XLSX and JSON; a month already over is stored as its
roll-up, so the next ask is the stored file at once (200); a written part changed makes it again
by a job. A roll-up stored during the month is not the month's: asked after, it is made again, and
a job just made is served again (200)."""

import io
from datetime import datetime

import pytest
from nameko.testing.services import entrypoint_hook
from openpyxl import load_workbook

from shared import clock
from tests.conftest import C01, HQ, Platform
from tests.qa_fixtures import qa_config  # noqa: F401
from tests.service.test_qa_monthly_report_flow import _text

R = "/api/v1/reports"
CLOSED = "2026-03"


@pytest.fixture
def rollup_platform(runner_factory, qa_config):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    # the test ticks qa's timers itself
    config = dict(qa_config, QA_AUTO_REPORTS="false", QA_REPORT_SECONDS=3600, QA_REPORT_JOB_SECONDS=3600)
    runner = runner_factory(config, IntakeService, PartsService, SettlementService, QaService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def _tick(p):
    with entrypoint_hook(p.containers["qa"], "report_jobs") as run:
        return run()


def test_hq_rollup_is_made_in_the_background_then_served_stored(rollup_platform):
    p = rollup_platform
    store = p.post(f"{R}/generate", HQ, json={"month": "2026-04"})  # a stored reports' request, asked first
    assert store.status_code == 202, store.text

    asked = p.get(f"{R}/monthly?month={CLOSED}&format=pdf", HQ)
    assert asked.status_code == 202, asked.text
    job = asked.json()
    assert asked.headers["Location"] == job["url"] == f"{R}/jobs/{job['id']}"
    assert job["file_url"] == f"{R}/jobs/{job['id']}/file?format=pdf"
    assert (job["kind"], job["month"], job["state"], job["done"], job["total"]) == ("rollup", CLOSED, "pending", 0, 7)
    again = p.get(f"{R}/monthly?month={CLOSED}&format=xlsx", HQ)  # the same month while open: joined
    assert again.status_code == 202 and again.json()["id"] == job["id"]
    assert again.json()["file_url"].endswith("format=xlsx")
    early = p.get(job["file_url"], HQ)
    assert early.status_code == 409 and "pending" in early.json()["error"]["message"]
    assert p.get(job["file_url"], C01).status_code == 403
    assert p.get(f"{R}/monthly?month={CLOSED}&tenant=all", C01).status_code == 403
    assert p.get(f"{R}/jobs/{store.json()['id']}/file", HQ).status_code == 404  # not a roll-up
    assert p.get(f"{R}/jobs/{job['id']}/file?format=doc", HQ).status_code == 422

    assert _tick(p) == {"job": job["id"], "made": [f"HQ:monthly:{CLOSED}"]}  # before the older request
    assert p.get(f"{R}/jobs/{store.json()['id']}", HQ).json()["state"] == "pending"
    made = p.get(job["url"], HQ).json()
    assert (made["state"], made["done"], made["total"]) == ("done", 7, 7) and made["finished_at"]
    pdf = p.get(job["file_url"], HQ)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = _text(pdf.content)
    assert "武汉区域服务中心" in text and "济南区域服务中心" in text and "全国合计" in text
    xlsx = p.get(f"{R}/jobs/{job['id']}/file?format=xlsx", HQ)
    assert xlsx.status_code == 200 and load_workbook(io.BytesIO(xlsx.content)).sheetnames
    body = p.get(f"{R}/jobs/{job['id']}/file?format=json", HQ).json()
    assert body["tenant_id"] == "HQ" and body["period"] == CLOSED and len(body["centers"]) == 6

    # the month is over: stored as its roll-up, the next ask is that file at once
    stored = p.get(f"{R}?period={CLOSED}", HQ).json()["items"]
    assert [(r["tenant_id"], r["kind"]) for r in stored] == [("HQ", "monthly")]
    now = p.get(f"{R}/monthly?month={CLOSED}&format=pdf", HQ)
    assert now.status_code == 200 and now.headers["Content-Type"] == "application/pdf"
    assert "全国合计" in _text(now.content)
    assert p.get(f"{R}/monthly?month={CLOSED}", HQ).json()["period"] == CLOSED

    # a written part changed: the stored roll-up (it says who wrote) made again by a job, at once
    # answered; a second one while the job is pending joins it; no roll-up stored: no job
    analysis = p.post(f"{R}/notes", HQ, json={"month": CLOSED, "technical": "华中区主轴故障集中"})
    assert analysis.status_code == 200, analysis.text
    remake = analysis.json()["rollup_job"]
    assert analysis.json()["remade"] == [] and (remake["kind"], remake["state"]) == ("rollup", "pending")
    center = p.post(f"{R}/notes", C01, json={"month": CLOSED, "product": "液压站渗油"}).json()
    assert center["rollup_job"]["id"] == remake["id"]
    assert p.post(f"{R}/notes", C01, json={"month": "2026-05", "product": "无"}).json()["rollup_job"] is None
    assert p.get(f"{R}/monthly?month={CLOSED}&format=pdf", HQ).status_code == 200  # the stored, meanwhile
    assert _tick(p) == {"job": remake["id"], "made": [f"HQ:monthly:{CLOSED}"]}
    rolled = _text(p.get(f"{R}/monthly?month={CLOSED}&format=pdf", HQ).content)
    assert "华中区主轴故障集中" in rolled and "已提交" in rolled


def test_a_rollup_stored_during_the_month_is_made_again_and_a_fresh_one_served(rollup_platform):
    p = rollup_platform
    month = datetime.now(clock.LOCAL_TZ).strftime("%Y-%m")
    store = p.post(f"{R}/generate", HQ, json={"month": month}).json()  # stores this month's reports now
    assert _tick(p)["job"] == store["id"]
    assert "HQ:monthly:" + month in p.get(f"{R}/jobs/{store['id']}", HQ).json()["made"]

    asked = p.get(f"{R}/monthly?month={month}&format=json", HQ)  # the stored one is not the month's yet
    assert asked.status_code == 202, asked.text
    assert _tick(p) == {"job": asked.json()["id"], "made": [f"HQ:monthly:{month}"]}  # the stored one made again
    again = p.get(f"{R}?period={month}", HQ).json()["items"]  # still made before the month's end
    fresh = p.get(f"{R}/monthly?month={month}&format=json", HQ)  # just made: served again at once
    assert fresh.status_code == 200 and fresh.json()["tenant_id"] == "HQ"
    assert _tick(p) is None
    assert [r["tenant_id"] for r in again if r["kind"] == "monthly"].count("HQ") == 1
