"""The center's customer archive pages over HTTP (intake + dispatch + gateway, real broker): the list with its
search and its due-for-review and duplicates views, a customer's card with products and history,
the contacts form (a masked phone refused next to the field), a flagged customer merged by a
person's click, another center's customer a 404 page."""

from __future__ import annotations

import re

import requests

from tests.conftest import C01
from tests.portal_fixtures import *  # noqa: F401,F403   (the fixtures)
from tests.portal_fixtures import PASSWORD, add_account
from tests.service.test_intake_archive_api import REPAIR

API = "/api/v1"


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


def test_the_center_reads_updates_and_merges_its_customers(portal_platform):
    p = portal_platform
    for changes in ({}, {"customer_name": "门户另一人", "serial_no": "SN-P-2"}):
        r = p.post(f"{API}/tickets", C01, json=dict(REPAIR, **changes))
        assert r.status_code == 201, r.text
    add_account(p, "wuhan-archivist", role="center", tenant="C01")
    add_account(p, "jinan-archivist", role="center", tenant="C02")
    s = _signed_in(p, "wuhan-archivist")
    page = s.get(p.base_url + "/center/customers", timeout=30)
    assert page.status_code == 200 and "客户档案" in page.text and "档案客户" in page.text
    assert 'href="/center/customers"' in page.text  # in the navigation
    dupes = s.get(p.base_url + "/center/customers?view=duplicates", timeout=30).text
    assert "门户另一人" in dupes and "档案客户" not in dupes
    searched = s.get(p.base_url + "/center/customers", params={"q": "门户"}, timeout=30).text
    assert "门户另一人" in searched and "档案客户" not in searched

    items = p.get(f"{API}/customers", C01).json()["items"]
    first = next(c for c in items if c["name"] == "档案客户")
    other = next(c for c in items if c["name"] == "门户另一人")
    ticket_id = p.get(f"{API}/tickets", C01).json()["items"][-1]["id"]
    ticket_page = s.get(p.base_url + f"/center/tickets/{ticket_id}", timeout=30).text
    assert f'href="/center/customers/{first["id"]}"' in ticket_page  # the ticket links its customer's card
    card = s.get(p.base_url + f"/center/customers/{first['id']}", timeout=30)
    assert card.status_code == 200 and "SN-ARCH-1" in card.text and "服务记录" in card.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', card.text).group(1)
    form = {"csrf_token": token, "action": "contacts", "addresses": "湖北省武汉市洪山区珞喻路1号"}
    r = s.post(p.base_url + f"/center/customers/{first['id']}", data=dict(form, phones="138****0000"), timeout=30)
    assert r.status_code == 422 and 'data-field="phones"' in r.text
    r = s.post(
        p.base_url + f"/center/customers/{first['id']}",
        data=dict(form, phones="13800002222", email="li@example.cn", consent_to_contact="yes"),
        timeout=30,
    )
    assert r.status_code == 200 and "已更新" in r.text
    assert p.get(f"{API}/customers/{first['id']}", C01).json()["consent_to_contact"] is True

    flagged = s.get(p.base_url + f"/center/customers/{other['id']}", timeout=30).text
    assert "疑似重复" in flagged and "并入该客户" in flagged
    token = re.search(r'name="csrf_token" value="([^"]+)"', flagged).group(1)
    r = s.post(
        p.base_url + f"/center/customers/{other['id']}",
        data={"csrf_token": token, "action": "merge", "survivor_id": first["id"], "merged_id": other["id"]},
        timeout=30,
    )
    assert r.status_code == 200 and "已合并" in r.text and "SN-P-2" in r.text

    # a third person on the same phone: flagged, kept apart by a click
    r = p.post(f"{API}/tickets", C01, json=dict(REPAIR, customer_name="门户第三人", serial_no=None))
    flagged = r.json()["customer_record_id"]
    page = s.get(p.base_url + f"/center/customers/{flagged}", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    r = s.post(p.base_url + f"/center/customers/{flagged}", data={"csrf_token": token, "action": "keep_apart"})
    assert r.status_code == 200 and "已确认不是重复" in r.text and "wuhan-archivist" in r.text

    assert _signed_in(p, "jinan-archivist").get(p.base_url + f"/center/customers/{first['id']}").status_code == 404
