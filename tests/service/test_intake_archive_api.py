"""The customer and product archive through the API and real RabbitMQ: tickets with the same phone
and serial link to one customer and one product whose history shows both; a doubtful match is a
new customer flagged as a possible duplicate, merged only by a person; another center cannot read
the customer (404); the CSV export has the center's customers only; an install visit dates the
product's installation and names its outlet."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from nameko.standalone.events import event_dispatcher

from shared import clock
from shared import events as catalogue
from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ, wait_for
from tests.openapi_check import AnswerCheck
from tests.qa_fixtures import visit

API = "/api/v1"
REPAIR = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "档案客户",
    "phone": "138-0000-2222",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6140",
    "serial_no": "SN-ARCH-1",
    "purchase_date": "2026-01-10",
    "fault": "主轴异响",
}


def _register(platform, principal, **changes):
    r = platform.post(f"{API}/tickets", principal, json=dict(REPAIR, **changes))
    assert r.status_code == 201, r.text
    return r.json()


def _ticket_links(platform, ticket_id):
    return platform.get(f"{API}/tickets/{ticket_id}", C01).json()


def test_archive_links_flags_merges_and_exports_per_center(platform):
    check = AnswerCheck(platform.get("/openapi.json").json())
    first = _register(platform, C01)
    second = _register(platform, C01, phone="13800002222", fault="漏油")  # the same phone written otherwise
    page = platform.get(f"{API}/customers?q=档案客户", C01)
    assert page.status_code == 200, page.text
    check(page)
    assert page.json()["total"] == 1
    customer = page.json()["items"][0]
    assert customer["phones"] == ["13800002222"] and customer["duplicate_of"] is None

    card = platform.get(f"{API}/customers/{customer['id']}", C01)
    assert card.status_code == 200, card.text
    check(card)
    card = card.json()
    assert [h["id"] for h in card["history"]] == [first["id"], second["id"]]
    assert [p["serial_no"] for p in card["products"]] == ["SN-ARCH-1"]
    product = card["products"][0]
    assert product["warranty_until"] == "2027-01-10"  # intake's warranty rule: a year from the purchase
    r = platform.get(f"{API}/products/{product['id']}", C01)
    assert r.status_code == 200, r.text
    check(r)
    assert {h["id"] for h in r.json()["history"]} == {first["id"], second["id"]}

    # the same phone with another name: not merged, a new customer flagged for a person
    other = _register(platform, C01, customer_name="另一个人", serial_no="SN-ARCH-2")
    dupes = platform.get(f"{API}/customers/duplicates", C01).json()["items"]
    assert [d["name"] for d in dupes] == ["另一个人"] and dupes[0]["duplicate_of"] == [customer["id"]]
    # a masked phone never matches
    _register(platform, C01, phone="138****2222", serial_no=None, purchase_date=None)
    assert platform.get(f"{API}/customers?q=档案客户", C01).json()["total"] == 2

    # an outlet does not read the archive; another center cannot read it, its export has its own only
    outlet = Principal("o1-user", "outlet", tenant="C01", outlet="C01-O01")
    assert platform.get(f"{API}/customers/{customer['id']}", outlet).status_code == 403
    assert platform.get(f"{API}/customers/{customer['id']}", C02).status_code == 404
    assert platform.get(f"{API}/products/{product['id']}", C02).status_code == 404
    _register(platform, C02, customer_name="济南客户", address="山东省济南市历下区泉城路1号", serial_no="SN-J")
    csv_c02 = platform.get(f"{API}/customers.csv", C02)
    assert csv_c02.status_code == 200 and "济南客户" in csv_c02.text and "档案客户" not in csv_c02.text
    csv_c01 = platform.get(f"{API}/customers.csv", C01).text
    assert "档案客户" in csv_c01 and "济南客户" not in csv_c01
    csv_hq = platform.get(f"{API}/customers.csv?tenant_id=C02", HQ).text  # HQ: one center's export
    assert "济南客户" in csv_hq and "档案客户" not in csv_hq
    assert platform.get(f"{API}/customers?tenant_id=C01", HQ).json()["total"] >= 2
    r = platform.get(f"{API}/customers.csv?tenant_id=C01", C02)
    assert r.status_code == 403 and "tenant_id" in r.json()["error"]["fields"]

    # a person merges the flagged one; the survivor has both customers' tickets
    r = platform.post(f"{API}/customers/merge", C01, json={"survivor_id": customer["id"], "merged_id": dupes[0]["id"]})
    assert r.status_code == 200, r.text
    merged = platform.get(f"{API}/customers/{dupes[0]['id']}", C01).json()
    assert merged["merged_into"] == customer["id"] and merged["merged_by"] == C01.user
    card = platform.get(f"{API}/customers/{customer['id']}", C01).json()
    assert other["id"] in {h["id"] for h in card["history"]} and card["duplicate_of"] is None
    again = _register(platform, C01, customer_name="另一个人", serial_no=None, purchase_date=None)
    assert _ticket_links(platform, again["id"])["customer_record_id"] == customer["id"]  # the merged name is known
    r = platform.post(f"{API}/customers/merge", C01, json={"survivor_id": customer["id"], "merged_id": customer["id"]})
    assert r.status_code == 422 and "merged_id" in r.json()["error"]["fields"]

    # or decides a flagged customer is no duplicate: kept apart, with who decided
    third = _register(platform, C01, customer_name="第三人", serial_no=None, purchase_date=None)
    flagged = platform.get(f"{API}/tickets/{third['id']}", C01).json()["customer_record_id"]
    r = platform.post(f"{API}/customers/{flagged}/keep-apart", C01, json={"note": "同一电话的家人"})
    assert r.status_code == 200, r.text
    check(r)
    assert (r.json()["duplicate_of"], r.json()["duplicate_decided_by"]) == (None, C01.user)
    assert platform.get(f"{API}/customers/duplicates", C01).json()["total"] == 0
    r = platform.post(f"{API}/customers/{flagged}/keep-apart", C01, json={})
    assert r.status_code == 422 and "customer_id" in r.json()["error"]["fields"]

    # contacts and consent: reviewed; a masked phone is refused naming the field
    r = platform.request(
        "PATCH", f"{API}/customers/{customer['id']}", C01, json={"consent_to_contact": True, "email": "a@b.cn"}
    )
    assert r.status_code == 200 and r.json()["consent_to_contact"] is True and r.json()["review_due"] is False
    r = platform.request("PATCH", f"{API}/customers/{customer['id']}", C01, json={"phones": ["138****1111"]})
    assert r.status_code == 422 and "phones" in r.json()["error"]["fields"]
    assert platform.get(f"{API}/customers?due_for_review=true", C01).json()["total"] == 0
    # a year on, unreviewed records are due for the yearly update (seed 001: 每年更新一次)
    clock.travel_to(datetime.now(UTC) + timedelta(days=366))
    try:
        due = platform.get(f"{API}/customers?due_for_review=true", C01).json()["items"]
        assert customer["id"] in {c["id"] for c in due} and all(c["review_due"] for c in due)
        r = platform.request("PATCH", f"{API}/customers/{customer['id']}", C01, json={"consent_to_contact": False})
        assert r.json()["review_due"] is False
        due = platform.get(f"{API}/customers?due_for_review=true", C01).json()["items"]
        assert customer["id"] not in {c["id"] for c in due}
    finally:
        clock.reset()


def test_an_install_visit_dates_the_product_installation(platform, service_config):
    ticket = _register(platform, C01, kind="install", serial_no="SN-INST-1", fault=None)
    product_id = _ticket_links(platform, ticket["id"])["product_id"]
    assert product_id
    done = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 2 March in Beijing
    body = visit("v-install-1", ticket["id"], "C01-O01", done, kind="install")
    event_dispatcher(service_config)(
        "dispatch", "visit.completed", json.loads(json.dumps(catalogue.dump("visit.completed", body), default=str))
    )
    product = wait_for(
        lambda: (p := platform.get(f"{API}/products/{product_id}", C01).json())["installed_on"] and p,
        what="the installation in the product archive",
    )
    assert (product["installed_on"], product["installed_by_outlet_id"]) == ("2026-03-02", "C01-O01")
    assert [h["id"] for h in product["history"]] == [ticket["id"]]


def test_a_routed_triage_ticket_joins_the_center_archive_and_a_re_routed_one_the_new_center(platform):
    def step(ticket_id, **kw):
        r = platform.post(f"{API}/tickets/{ticket_id}/transitions", HQ, json={"action": "route", **kw})
        assert r.status_code == 200, r.text
        return r.json()

    triage = _register(platform, HQ, address="青山区和平大道293号", serial_no="SN-ROUTE-1")  # 青山区: two provinces
    assert (triage["status"], triage["customer_record_id"]) == ("triage", None)  # no center's archive yet
    routed = step(triage["id"], tenant_id="C01")
    wuhan = platform.get(f"{API}/customers/{routed['customer_record_id']}", C01).json()
    assert [h["id"] for h in wuhan["history"]] == [triage["id"]] and routed["product_id"]
    moved = step(triage["id"], tenant_id="C02", address="山东省济南市历下区泉城路1号")
    assert moved["customer_record_id"] not in (None, wuhan["id"]) and moved["product_id"] != routed["product_id"]
    jinan = platform.get(f"{API}/customers/{moved['customer_record_id']}", C02).json()
    assert [h["id"] for h in jinan["history"]] == [moved["id"]]
    assert platform.get(f"{API}/customers/{moved['customer_record_id']}", C01).status_code == 404
