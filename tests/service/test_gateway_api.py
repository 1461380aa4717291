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


def _json_error(r, status, code):
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    err = r.json()["error"]
    assert err["code"] == code and err["message"], err
    return err


def test_unknown_routes_and_wrong_methods_are_json_errors(platform):
    """Routing errors (no route, a method the path does not take) come in the one JSON error
    shape, not as werkzeug's HTML pages; a 405 says in `Allow` which methods the path takes."""
    for path in ("/nothing-here", "/api/v1/no-such-thing", "/api/v1/tickets/x/y/z", "/health/nope"):
        err = _json_error(platform.get(path, C01), 404, "not_found")
        assert path in err["message"], err
    r = platform.request("DELETE", "/api/v1/tickets", C01)
    err = _json_error(r, 405, "method_not_allowed")
    assert {m.strip() for m in r.headers["Allow"].split(",")} == {"GET", "HEAD", "POST"}, r.headers
    assert "DELETE" in err["message"], err
    r = platform.post("/openapi.json", None, json={})
    _json_error(r, 405, "method_not_allowed")
    assert {m.strip() for m in r.headers["Allow"].split(",")} == {"GET", "HEAD"}, r.headers
    # every service's own port too (they share the web server)
    import requests

    from tests.conftest import http_port_of

    port = http_port_of(platform.containers["intake"])
    _json_error(requests.get(f"http://127.0.0.1:{port}/nothing-here", timeout=5), 404, "not_found")
    r = requests.post(f"http://127.0.0.1:{port}/health/live", timeout=5)
    _json_error(r, 405, "method_not_allowed")
    assert "GET" in r.headers["Allow"], r.headers


def test_html_pages_opt_out_of_json_routing_errors(container_factory, service_config):
    """A service whose `html_errors(path)` claims a path (the portal's pages) keeps HTML error
    pages there; every other path still answers in the JSON shape."""
    import requests
    from werkzeug.wrappers import Response

    from shared import web
    from tests.conftest import http_port_of

    class PagesService(web.ServiceBase):
        name = "pages"

        @staticmethod
        def html_errors(path):
            return path == "/" or web.path_under(path, "/portal")

        @web.http("GET", "/portal/home")
        def home(self, request):
            return Response("<p>home</p>", mimetype="text/html")

    container = container_factory(PagesService, service_config)
    container.start()
    base = f"http://127.0.0.1:{http_port_of(container)}"
    assert requests.get(f"{base}/portal/home", timeout=5).status_code == 200
    for path in ("/portal/missing", "/"):
        r = requests.get(base + path, timeout=5)
        assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/html"), (path, r.headers)
    r = requests.post(f"{base}/portal/home", timeout=5)
    assert r.status_code == 405 and r.headers["Content-Type"].startswith("text/html"), r.headers
    _json_error(requests.get(f"{base}/portals", timeout=5), 404, "not_found")
    _json_error(requests.get(f"{base}/api/v1/x", timeout=5), 404, "not_found")
