"""取消换机 on the center's returns page over HTTP (intake + parts + dispatch + gateway, real broker): a
replacement awaiting stock has the button and its form on its row; a refusal comes back on the
same page next to the field it names (in Chinese), the row's form open with what was typed; the
cancel done, the row says 已撤回 with the reason, who and when, and has no button any more."""

from __future__ import annotations

import re

import pytest

from tests.conftest import C01, Platform
from tests.portal_fixtures import add_account, portal_config
from tests.service.test_portal_returns import _signed_in
from tests.service.test_returns_replacement_cancel import _awaiting


@pytest.fixture
def returns_portal(runner_factory, dispatch_config):
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService

    config = portal_config(dispatch_config, DISPATCH_BATCH_SECONDS=3600, PARTS_OVERDUE_CHECK_SECONDS=3600)
    runner = runner_factory(config, IntakeService, PartsService, DispatchService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def _form_of(page, case_id):
    """The cancel form of the case's row: its action and its hidden fields."""
    block = re.search(rf'<details class="cancel-replacement" id="cancel-{case_id}"[^>]*>(.*?)</details>', page, re.S)
    assert block, page[:2000]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', block.group(1)))
    return block.group(0), hidden


def test_the_center_cancels_a_waiting_replacement_from_its_row(returns_portal):
    p = returns_portal
    ticket, case_id = _awaiting(p, "CK6150PC0001")
    add_account(p, "wuhan-exchanges", role="center", tenant="C01", name="王换机")
    s = _signed_in(p, "wuhan-exchanges")

    page = s.get(p.base_url + "/center/returns", timeout=30).text
    block, hidden = _form_of(page, case_id)
    assert "取消换机" in block and f'action="/center/returns/{case_id}/cancel"' in block
    assert "改为退款" in block and "客户撤回" in block and " open" not in block.split(">")[0]

    # a refund without its amount: refused next to the amount, the form open with what was typed
    url = f"{p.base_url}/center/returns/{case_id}/cancel"
    r = s.post(url, data=dict(hidden, reason="客户不想等了", outcome="refund"), allow_redirects=False, timeout=30)
    assert r.status_code == 422, r.text[:1000]
    block, hidden = _form_of(r.text, case_id)
    assert block.split(">")[0].endswith(" open")
    assert re.search(r'<p class="field-error" id="e-refund_amount-[^"]+" data-field="refund_amount">必填</p>', block)
    assert "客户不想等了" in block and 'value="refund" selected' in block
    # no reason: refused next to the reason
    r = s.post(url, data=dict(hidden, outcome="withdraw"), allow_redirects=False, timeout=30)
    assert r.status_code == 422 and 'data-field="reason">必填<' in _form_of(r.text, case_id)[0], r.text[:1000]
    assert p.get(f"/api/v1/returns/{case_id}", C01).json()["step"] == "awaiting_stock"

    r = s.post(url, data=dict(hidden, reason="客户撤回换机申请", outcome="withdraw"), allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["Location"].startswith("/center/returns?done=cancelled"), r.text[:500]
    page = s.get(p.base_url + r.headers["Location"], timeout=30).text
    row = re.search(rf'<li class="row" id="return-{case_id}">(.*?)</li>', page, re.S).group(1)
    assert "换机已取消" in page and "已撤回" in row and "客户撤回换机申请" in row and "王换机" in row
    assert "cancel-replacement" not in row  # no button on a case that no longer waits
    # the ticket's record names the steps and states in Chinese
    audit = s.get(f"{p.base_url}/center/tickets/{ticket['id']}", timeout=30).text
    audit = re.search(r'<section class="card" id="audit">(.*?)</section>', audit, re.S).group(1)
    assert "换机缺货待发" in audit and "→ 缺货待发" in audit, audit
    assert "取消换机" in audit and "→ 已撤回" in audit and "客户撤回换机申请" in audit, audit
    assert "awaiting_stock" not in audit and "withdrawn" not in audit
    # the same form posted again (its key): the same outcome, no error
    again = s.post(
        url, data=dict(hidden, reason="客户撤回换机申请", outcome="withdraw"), allow_redirects=False, timeout=30
    )
    assert again.status_code == 303, again.text[:500]
    # a fresh attempt on a withdrawn case: refused in Chinese, naming where it stands
    fresh = dict(hidden, idempotency_key="another-key-1", reason="再取消一次", outcome="withdraw")
    r = s.post(url, data=fresh, allow_redirects=False, timeout=30)
    assert r.status_code == 409 and "只有缺货待发的换机可以取消" in r.text, r.text[:1000]
