"""Tenancy through the gateway HTTP API: centers, HQ, outlets, customers, tokens; the ledger."""

import csv
import io

import jwt

from shared.auth import issue_token
from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ

API = "/api/v1"
OUTLET = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")


def _req(address, name, phone="13800000000", **kw):
    body = {
        "kind": "repair",
        "channel": "hotline",
        "customer_name": name,
        "phone": phone,
        "address": address,
        "product_line": "数控车床",
        "model": "CK6150",
        "fault": "无法启动",
    }
    body.update(kw)
    return body


def _create(platform, principal, body):
    r = platform.post(f"{API}/tickets", principal, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _ids(platform, principal, **params):
    r = platform.get(f"{API}/tickets", principal, params=params)
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == len(page["items"]), page  # a total that counts other tenants leaks
    return {t["id"] for t in page["items"]}


def _assert_error(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    return body["error"]


def test_centers_hq_outlets_and_customers(platform):
    w1 = _create(platform, C01, _req("湖北省武汉市洪山区珞喻路1号", "武汉甲公司"))
    w2 = _create(platform, C01, _req("湖南省长沙市岳麓区麓山南路2号", "长沙乙公司"))
    j1 = _create(platform, C02, _req("山东省济南市历下区经十路100号", "济南丙公司"))
    assert (w1["tenant_id"], w2["tenant_id"], j1["tenant_id"]) == ("C01", "C01", "C02")

    # lists: each center its own, HQ everything
    assert _ids(platform, C01) == {w1["id"], w2["id"]}
    assert _ids(platform, C02) == {j1["id"]}
    assert _ids(platform, HQ) == {w1["id"], w2["id"], j1["id"]}
    # asking for another tenant explicitly gives nothing, not the other tenant's rows
    assert _ids(platform, C01, tenant_id="C02") == set()

    # another center's ticket does not exist for C02: read and change
    _assert_error(platform.get(f"{API}/tickets/{w1['id']}", C02), 404)
    for body in (
        {"action": "accept"},
        {"action": "cancel", "note": "x"},
        {"action": "assign_outlet", "outlet_id": "C02-O01"},
    ):
        err = _assert_error(platform.post(f"{API}/tickets/{w1['id']}/transitions", C02, json=body), 404)
        assert err["code"] == "not_found"
    seen = platform.get(f"{API}/tickets/{w1['id']}", HQ).json()
    assert seen["status"] == "registered" and seen["version"] == w1["version"]
    assert seen["assigned_outlet_id"] is None
    assert [a["action"] for a in seen["audit"]] == ["register"]

    # outlets see only what is assigned to them
    assert _ids(platform, OUTLET) == set()
    _assert_error(platform.get(f"{API}/tickets/{w1['id']}", OUTLET), 404)
    r = platform.post(
        f"{API}/tickets/{w1['id']}/transitions", C01, json={"action": "assign_outlet", "outlet_id": "C01-O01"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["assigned_outlet_id"] == "C01-O01"
    assert _ids(platform, OUTLET) == {w1["id"]}
    got = platform.get(f"{API}/tickets/{w1['id']}", OUTLET)
    assert got.status_code == 200 and got.json()["id"] == w1["id"]
    # the whole history of the job, including what happened before it was assigned
    assert [a["action"] for a in got.json()["audit"]] == ["register", "assign_outlet"]
    assert {d["sla"] for d in got.json()["deadlines"]} >= {"accept", "onsite"}
    _assert_error(platform.get(f"{API}/tickets/{w2['id']}", OUTLET), 404)
    _assert_error(platform.get(f"{API}/tickets/{j1['id']}", OUTLET), 404)
    other_outlet = Principal("o2", "outlet", tenant="C01", outlet="C01-O02")
    assert _ids(platform, other_outlet) == set()
    # an outlet cannot accept or cancel its job (status actions are staff's)
    _assert_error(platform.post(f"{API}/tickets/{w1['id']}/transitions", OUTLET, json={"action": "cancel"}), 409)
    assert platform.get(f"{API}/tickets/{w1['id']}", HQ).json()["status"] == "registered"

    # customers: only tickets with their customer id
    cust_w1 = Principal("cust-a", "customer", tenant="C01", customer=w1["customer_id"])
    assert _ids(platform, cust_w1) == {w1["id"]}
    _assert_error(platform.get(f"{API}/tickets/{w2['id']}", cust_w1), 404)
    stranger = Principal("cust-x", "customer", tenant="C01", customer="cu_nobody")
    assert _ids(platform, stranger) == set()


def test_customer_without_tenant_sees_own_tickets(platform):
    """A customer is not bound to a regional center: its token carries only its customer id."""
    mine = _create(platform, C01, _req("湖北省武汉市洪山区珞喻路1号", "武汉丁公司", phone="13911112222"))
    _create(platform, C01, _req("湖北省武汉市江汉区解放大道1号", "武汉戊公司", phone="13933334444"))
    customer = Principal("cust-d", "customer", customer=mine["customer_id"])
    assert _ids(platform, customer) == {mine["id"]}
    assert platform.get(f"{API}/tickets/{mine['id']}", customer).status_code == 200


def test_customer_registers_through_portal_and_sees_it(platform):
    customer = Principal("cust-p", "customer", tenant="C01", customer="cu_portal_1")
    t = _create(platform, customer, _req("湖北省武汉市洪山区珞喻路1号", "门户客户"))
    assert t["customer_id"] == "cu_portal_1" and t["channel"] == "portal"
    assert _ids(platform, customer) == {t["id"]}
    # and may not move it through the workflow
    _assert_error(platform.post(f"{API}/tickets/{t['id']}/transitions", customer, json={"action": "accept"}), 409)


def test_tokens(platform):
    url = f"{API}/tickets"
    secret = platform.config["AUTH_SECRET"]
    cases = {
        "no header": {},
        "not bearer": {"Authorization": "Basic abc"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not.a.token"},
        "wrong secret": {"Authorization": "Bearer " + issue_token("other-secret", C01)},
        "expired": {"Authorization": "Bearer " + issue_token(secret, C01, ttl_seconds=-60)},
        "internal role": {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "x", "role": "service", "iss": "fieldservice", "exp": 4102444800}, secret, algorithm="HS256"
            )
        },
        "center without tenant": {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "x", "role": "center", "iss": "fieldservice", "exp": 4102444800}, secret, algorithm="HS256"
            )
        },
    }
    for name, headers in cases.items():
        for method, path in (("GET", url), ("POST", url), ("GET", f"{API}/ledger.csv")):
            r = platform.request(method, path, None, headers=dict(headers), json={})
            err = _assert_error(r, 401)
            assert err["code"] == "unauthorized", (name, err)
    assert platform.get(url, HQ).json()["total"] == 0


def test_ledger_is_scoped(platform):
    a = _create(platform, C01, _req("湖北省武汉市洪山区珞喻路1号", "武汉台帐公司", serial_no="SN-A"))
    b = _create(platform, C02, _req("山东省济南市历下区经十路100号", "济南台帐公司", serial_no="SN-B"))

    r = platform.get(f"{API}/ledger.csv", C01)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    text = r.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert header[:6] == ["工单号", "服务中心", "客户", "地址", "电话", "型号"]
    assert {"出厂编号", "购买日期", "反映问题", "受理时间", "上门时间", "回访记录"} <= set(header)
    body = rows[1:]
    assert [row[0] for row in body] == [a["number"]]
    assert all(row[1] == "C01" for row in body)
    assert b["number"] not in text and "济南台帐公司" not in text

    rows_c02 = platform.get(f"{API}/ledger", C02).json()
    assert [row["number"] for row in rows_c02] == [b["number"]]
    assert rows_c02[0]["serial_no"] == "SN-B"
    hq_rows = platform.get(f"{API}/ledger", HQ).json()
    assert {row["number"] for row in hq_rows} == {a["number"], b["number"]}
    hq_csv = list(csv.reader(io.StringIO(platform.get(f"{API}/ledger.csv", HQ).content.decode("utf-8-sig"))))
    assert len(hq_csv) == 3
    assert platform.get(f"{API}/ledger", OUTLET).json() == []


def test_ledger_paging_and_bad_query(platform):
    for i in range(3):
        _create(platform, C01, _req("湖北省武汉市洪山区珞喻路1号", f"分页客户{i}", phone=f"1380000000{i}"))
    r = platform.get(f"{API}/ledger.csv", C01, params={"limit": "2"})
    assert r.status_code == 200, r.text
    assert len(list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))) == 1 + 3
    assert len(platform.get(f"{API}/ledger", C01, params={"limit": "2"}).json()) == 2
    for path in ("ledger", "ledger.csv"):
        r = platform.get(f"{API}/{path}", C01, params={"limit": "0"})
        err = _assert_error(r, 422)
        assert "limit" in err["fields"]


def test_customer_cannot_choose_the_tenant(platform):
    customer = Principal("cust-q", "customer", tenant="C01", customer="cu_portal_2")
    r = platform.post(
        f"{API}/tickets", customer, json=_req("湖北省武汉市洪山区珞喻路1号", "门户客户乙", tenant_id="C02")
    )
    if r.status_code == 201:
        assert r.json()["tenant_id"] == "C01", "a customer placed its ticket outside the address's territory"
    else:
        assert "tenant_id" in _assert_error(r, r.status_code)["fields"]
    assert _ids(platform, C02) == set()
