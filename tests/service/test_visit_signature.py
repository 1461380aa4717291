"""The customer's signature drawn at check-out, through the gateway's REST API: stored with the
visit by dispatch, given back with the visit (GET /visits/<id>), never on the board; a bad one is
refused (422, the field named) and changes nothing; another outlet does not reach it."""

from __future__ import annotations

from tests.conftest import C01, HQ, technician_rows
from tests.service.test_dispatch_api import API, O01, O05, WUHAN, assert_error, import_technicians, register, visit
from tests.unit.test_dispatch_signature import png, url


def test_a_signature_is_kept_with_the_visit_and_shown_back(quiet_platform):
    p = quiet_platform
    import_technicians(p, C01, technician_rows("C01"))
    v = register(p, C01, WUHAN)
    assert p.post(f"{API}/visits/{v['id']}/pin", C01, json={"technician_id": "C01-O05-T1"}).status_code == 200
    assert p.post(f"{API}/dispatch/reoptimise", C01).status_code == 200
    assert p.post(f"{API}/visits/{v['id']}/check-in", O05, json={"lat": 30.5, "lon": 114.4}).status_code == 200
    done = {"work_done": "更换主轴轴承", "customer_confirmed": True}

    # not a PNG, too small: refused with the field named; the visit is still under way
    err = assert_error(p.post(f"{API}/visits/{v['id']}/check-out", O05, json=dict(done, signature="x")), 422)
    assert list(err["fields"]) == ["signature"], err
    err = assert_error(
        p.post(f"{API}/visits/{v['id']}/check-out", O05, json=dict(done, signature=url(png(10, 10)))), 422
    )
    assert list(err["fields"]) == ["signature"], err
    assert visit(p, v["id"])["status"] == "started" and visit(p, v["id"])["signed"] is False
    # another outlet cannot check it out, signature or not
    assert_error(p.post(f"{API}/visits/{v['id']}/check-out", O01, json=dict(done, signature=url(png()))), 404)

    r = p.post(f"{API}/visits/{v['id']}/check-out", O05, json=dict(done, signature=url(png(360, 140))))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "completed" and out["signed"] is True and out["signature"] == url(png(360, 140))
    got = visit(p, v["id"], O05)
    assert got["signature"] == url(png(360, 140)) and got["work_done"] == "更换主轴轴承"
    assert got["customer_confirmed"] is True and (got["checkin_lat"], got["checkin_lon"]) == (30.5, 114.4)
    # the board says it was signed without carrying the picture
    item = next(i for i in p.get(f"{API}/dispatch/board", HQ).json()["items"] if i["id"] == v["id"])
    assert item["signed"] is True and "signature" not in item
    assert_error(p.get(f"{API}/visits/{v['id']}", O01), 404)
