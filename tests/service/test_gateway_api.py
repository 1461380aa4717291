from tests.conftest import C01, C02, HQ

REQUEST = {
    "kind": "repair",
    "channel": "web",
    "customer_name": "武汉测试公司",
    "phone": "138****0000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}


def test_create_get_and_tenancy(platform):
    r = platform.post("/api/v1/tickets", C01, json=REQUEST)
    assert r.status_code == 201, r.text
    ticket = r.json()
    assert ticket["tenant_id"] == "C01"
    assert platform.get(f"/api/v1/tickets/{ticket['id']}", C01).status_code == 200
    assert platform.get(f"/api/v1/tickets/{ticket['id']}", C02).status_code == 404
    assert platform.get(f"/api/v1/tickets/{ticket['id']}", HQ).status_code == 200
    assert platform.get("/api/v1/tickets", None).status_code == 401
    doc = platform.get("/openapi.json").json()
    assert "/api/v1/tickets" in doc["paths"]


def test_missing_field_named(platform):
    body = dict(REQUEST)
    del body["phone"]
    r = platform.post("/api/v1/tickets", C01, json=body)
    assert r.status_code == 422
    assert "phone" in r.json()["error"]["fields"]
