"""The center's returns and exchanges page over HTTP (intake + dispatch + gateway, real broker): the
list in Chinese with the kind and step named, Beijing time, the step filter, in the navigation;
another center sees none of them; a wrong filter is refused next to the field."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from shared.tenancy import TECHNICAL_LEAD, Principal
from tests.conftest import C01
from tests.portal_fixtures import *  # noqa: F401,F403   (the fixtures)
from tests.portal_fixtures import PASSWORD, add_account

API = "/api/v1"
TZ = ZoneInfo("Asia/Shanghai")
LEAD = Principal("wuhan-lead", "center", tenant="C01", duty=TECHNICAL_LEAD)


def _signed_in(platform, username):
    s = requests.Session()
    login = s.get(platform.base_url + "/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
    r = s.post(
        platform.base_url + "/login",
        data={"csrf_token": token, "username": username, "password": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert r.status_code == 303, r.text[:500]
    return s


def _case(p, serial, days, kind):
    bought = (datetime.now(TZ).date() - timedelta(days=days)).isoformat()
    ticket = {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": "门户退机客户",
        "phone": "13800007777",
        "address": "湖北省武汉市洪山区珞喻路1号",
        "product_line": "数控车床",
        "model": "CK6150",
        "serial_no": serial,
        "purchase_date": bought,
        "fault": "新机异响",
    }
    r = p.post(f"{API}/tickets", C01, json=ticket)
    assert r.status_code == 201, r.text
    r = p.post(f"{API}/tickets/{r.json()['id']}/returns", C01, json={"kind": kind, "reason": "新机主轴异响"})
    assert r.status_code == 201, r.text
    return r.json()


def test_the_center_lists_its_returns_and_exchanges(portal_platform):
    p = portal_platform
    kept = _case(p, "CK6150PR0001", 3, "return")
    swapped = _case(p, "CK6150PR0002", 20, "exchange")
    r = p.post(
        f"{API}/returns/{swapped['id']}/steps",
        LEAD,
        json={"action": "inspect", "quality_fault": True, "finding": "主轴缺陷"},
    )
    assert r.status_code == 200, r.text
    add_account(p, "wuhan-returns", role="center", tenant="C01")
    add_account(p, "jinan-returns", role="center", tenant="C02")
    s = _signed_in(p, "wuhan-returns")

    page = s.get(p.base_url + "/center/returns", timeout=30)
    assert page.status_code == 200 and "退换机" in page.text, page.text[:500]
    assert 'href="/center/returns"' in page.text  # in the navigation
    assert f'id="return-{kept["id"]}"' in page.text and f'id="return-{swapped["id"]}"' in page.text
    assert "退机" in page.text and "换机" in page.text and "已申请" in page.text and "已检测" in page.text
    assert "购买后第 3 天申请" in page.text and "购买后第 20 天申请" in page.text
    requested = datetime.fromisoformat(kept["requested_at"]).astimezone(TZ).strftime("%m-%d %H:%M")
    assert requested in page.text  # Beijing time
    assert "requested" not in re.sub(r'(id|href|value)="[^"]*"', "", page.text)  # names, not codes

    only = s.get(p.base_url + "/center/returns", params={"step": "inspected"}, timeout=30).text
    assert f'id="return-{swapped["id"]}"' in only and f'id="return-{kept["id"]}"' not in only
    wrong = s.get(p.base_url + "/center/returns", params={"step": "lost"}, timeout=30)
    assert wrong.status_code == 422 and 'data-field="step"' in wrong.text

    other = _signed_in(p, "jinan-returns").get(p.base_url + "/center/returns", timeout=30)
    assert other.status_code == 200 and "没有符合条件的退换机" in other.text
    assert kept["id"] not in other.text
