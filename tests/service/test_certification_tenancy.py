"""Tenancy through the gateway: a center sees and acts on its own tenant's outlets only, an
outlet on its own file only, HQ on all; network planning per tenant."""

from shared.tenancy import Principal
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import C01, C01_TECH, C02, C02_TECH, HEAD, HQ, INSPECTION, form

API = "/api/v1"
O1 = Principal("o1", "outlet", tenant="C01", outlet="C01-O01")
WAREHOUSE = Principal("wh", "warehouse", tenant="C01", warehouse="W01")


def test_one_center_cannot_see_or_act_on_another_centers_outlets(cert_platform):
    p = cert_platform
    c01 = p.get(f"{API}/outlets", C01).json()
    c02 = p.get(f"{API}/outlets", C02).json()
    assert c01["total"] == 7 and {o["tenant_id"] for o in c01["items"]} == {"C01"}
    assert c02["total"] == 6 and {o["tenant_id"] for o in c02["items"]} == {"C02"}
    assert p.get(f"{API}/outlets", HQ).json()["total"] == 36
    # filtering by another tenant gives nothing rather than its rows
    assert p.get(f"{API}/outlets?tenant_id=C01", C02).json()["total"] == 0

    r = p.post(f"{API}/outlets", C01, json=form(outlet_id="C01-O08"))
    assert r.status_code == 201, r.text
    # C02 cannot read, review, suspend or revoke C01's outlets: they do not exist for it
    assert p.get(f"{API}/outlets/C01-O08", C02).status_code == 404
    assert p.get(f"{API}/outlets/C01-O01", C02).status_code == 404
    for principal, body in (
        (C02, {"action": "center_review", "decision": "pass", "inspection": INSPECTION}),
        (C02_TECH, {"action": "technical_review", "decision": "pass"}),
        (C02, {"action": "suspend", "reason": "test"}),
    ):
        for outlet in ("C01-O08", "C01-O01"):
            r = p.post(f"{API}/outlets/{outlet}/steps", principal, json=body)
            assert r.status_code == 404, r.text
    assert p.get(f"{API}/outlets/C01-O08", C01).json()["status"] == "applied"
    assert p.get(f"{API}/outlets/C01-O01", C01).json()["status"] == "effective"
    # nor apply inside C01's territory or under C01's ids
    r = p.post(f"{API}/outlets", C02, json=form(outlet_id="C02-O09"))
    assert r.status_code == 422 and "province" in r.json()["error"]["fields"], r.text
    r = p.post(f"{API}/outlets", C02, json=form(outlet_id="C01-O09", province="山东省", city="济南市"))
    assert r.status_code == 422 and "outlet_id" in r.json()["error"]["fields"], r.text
    # C01's center reviews its own; HQ's head approves across tenants
    assert (
        p.post(
            f"{API}/outlets/C01-O08/steps",
            C01,
            json={"action": "center_review", "decision": "pass", "inspection": INSPECTION},
        ).status_code
        == 200
    )
    assert (
        p.post(
            f"{API}/outlets/C01-O08/steps", C01_TECH, json={"action": "technical_review", "decision": "pass"}
        ).status_code
        == 200
    )
    assert (
        p.post(f"{API}/outlets/C01-O08/steps", HEAD, json={"action": "head_approval", "decision": "pass"}).status_code
        == 200
    )


def test_outlet_sees_its_own_file_only_and_roles_keep_to_their_routes(cert_platform):
    p = cert_platform
    mine = p.get(f"{API}/outlets", O1).json()
    assert [o["id"] for o in mine["items"]] == ["C01-O01"]
    assert p.get(f"{API}/outlets/C01-O02", O1).status_code == 404
    techs = p.get(f"{API}/certification/technicians", O1).json()
    assert {t["outlet_id"] for t in techs} == {"C01-O01"} and len(techs) == 3
    assert p.get(f"{API}/certification/technicians/C01-O02-T1", O1).status_code == 404
    # an outlet neither reviews, nor records exams, nor sees the network plan
    assert (
        p.post(
            f"{API}/certification/exams",
            O1,
            json={"technician_id": "C01-O01-T1", "product_line": "数控车床", "score": "99"},
        ).status_code
        == 403
    )
    assert p.get(f"{API}/network-plan", O1).status_code == 403
    assert p.get(f"{API}/outlet/file", C01).status_code == 403
    # a center cannot record exams for another center's technicians
    r = p.post(
        f"{API}/certification/exams",
        C02,
        json={"technician_id": "C01-O01-T1", "product_line": "数控车床", "score": "99"},
    )
    assert r.status_code == 422 and "technician_id" in r.json()["error"]["fields"], r.text
    r = p.post(
        f"{API}/certification/certificates/revoke",
        C02,
        json={"technician_id": "C01-O01-T1", "product_line": "数控车床", "reason": "test"},
    )
    assert r.status_code == 404, r.text
    r = p.post(f"{API}/certification/technicians", C02, json={"id": "C02-X1", "outlet_id": "C01-O01", "name": "x"})
    assert r.status_code == 422 and "outlet_id" in r.json()["error"]["fields"], r.text
    # a warehouse user sees no outlet at all
    assert p.get(f"{API}/outlets", WAREHOUSE).json()["total"] == 0


def test_network_plan_hq_sees_all_a_center_its_tenant(cert_platform):
    p = cert_platform
    hq = p.get(f"{API}/network-plan?capacity=1000", HQ).json()
    assert {a["tenant_id"] for a in hq["areas"]} == {"C01", "C02", "C03", "C04", "C05", "C06"}
    c01 = p.get(f"{API}/network-plan?capacity=1000", C01).json()
    assert {a["tenant_id"] for a in c01["areas"]} == {"C01"}
    wuhan = next(a for a in c01["areas"] if a["city"] == "武汉市")
    # the center's own city has demand but no outlet: the gap HQ must see
    assert wuhan["outlets_current"] == 0 and wuhan["outlets_needed"] >= 2 and wuhan["gap"] == wuhan["outlets_needed"]
    xiangyang = next(a for a in c01["areas"] if a["city"] == "襄阳市")
    assert xiangyang["outlet_ids"] == ["C01-O01"]
    # the plan is volume / capacity: halving the capacity doubles (about) what is needed
    half = p.get(f"{API}/network-plan?capacity=500", C01).json()
    assert half["totals"]["outlets_needed"] > c01["totals"]["outlets_needed"]
    assert half["totals"]["yearly_repairs"] == c01["totals"]["yearly_repairs"]
    assert all(a["gap"] > 0 for a in p.get(f"{API}/network-plan?gaps_only=true", C01).json()["areas"])
    # a center asking for another tenant's plan gets nothing of it
    assert p.get(f"{API}/network-plan?tenant_id=C02", C01).json()["areas"] == []
    r = p.get(f"{API}/network-plan?capacity=0", HQ)
    assert r.status_code == 422 and "capacity" in r.json()["error"]["fields"], r.text
