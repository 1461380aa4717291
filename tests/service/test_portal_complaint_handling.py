"""The center's ticket page takes complaint handling's steps (issue 17.4): the hand-over with its
new owner, the responsibility shown, and the complaint handling report (投诉处理报告) to download
once the case was reported (汇报)."""

from tests.conftest import C01
from tests.pdf_tools import pdf_text
from tests.portal_fixtures import *  # noqa: F401,F403
from tests.portal_fixtures import API, add_account
from tests.service.test_portal_http import csrf_of, signed_in

COMPLAINT = {
    "kind": "complaint",
    "channel": "hotline",
    "customer_name": "门户投诉客户",
    "phone": "13800005555",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "fault": "安装后漏油",
}


def test_the_ticket_page_hands_over_and_offers_the_report(portal_platform):
    p = portal_platform
    t = p.post(f"{API}/tickets", C01, json=COMPLAINT).json()
    for body in ({"action": "register"}, {"action": "internal_check", "responsibility": "own"}):
        assert p.post(f"{API}/tickets/{t['id']}/transitions", C01, json=body).status_code == 200
    add_account(p, "c1-quality-agent", role="center", tenant="C01")
    s, _ = signed_in(p, "c1-quality-agent")
    url = f"{p.base_url}/center/tickets/{t['id']}"
    page = s.get(url, timeout=30).text
    assert 'data-action="hand_over"' in page and 'name="owner_user"' in page and "本单位责任" in page
    assert 'data-action="escalate_major"' in page and 'name="major_issue"' in page
    assert "complaint-report" not in page

    # the hand-over without a new owner is refused next to the field; with one, the owner changes
    form = {"csrf_token": csrf_of(page), "action": "hand_over", "note": "转质量组"}
    refused = s.post(f"{url}/steps", data=form, allow_redirects=False, timeout=30)
    assert refused.status_code == 422 and 'data-field="owner_user"' in refused.text, refused.text[:500]
    assert "移交首问负责人须填写新负责人" in refused.text
    done = s.post(f"{url}/steps", data=dict(form, owner_user="wuhan-quality"), allow_redirects=False, timeout=30)
    assert done.status_code == 303, done.text[:500]
    assert p.get(f"{API}/tickets/{t['id']}", C01).json()["owner_user"] == "wuhan-quality"

    for action in ("negotiate", "notify_result", "report"):
        assert p.post(f"{API}/tickets/{t['id']}/transitions", C01, json={"action": action}).status_code == 200
    page = s.get(url, timeout=30).text
    assert f'href="/center/tickets/{t["id"]}/complaint-report"' in page
    pdf = s.get(f"{url}/complaint-report", timeout=30)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"].startswith("application/pdf")
    text, _ = pdf_text(pdf.content)
    assert "投诉处理报告" in text and "转质量组" in text and "wuhan-quality" in text
