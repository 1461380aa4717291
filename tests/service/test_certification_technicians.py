"""Technicians: training, exams, certificates valid 2 years, renewal, withdrawal, line
eligibility against the minimum; and bad input anywhere changing nothing."""

from datetime import UTC, datetime, timedelta

from nameko.standalone.events import event_dispatcher

from services.certification.domain import LOCAL_TZ
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import C01, HQ, form, publish_settlement, wait_for

API = "/api/v1"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def today():
    return datetime.now(UTC).astimezone(LOCAL_TZ).date()


def test_exam_pass_issues_a_two_year_certificate_and_lines_follow_the_minimum(cert_platform, tap):
    p = cert_platform
    techs = ok(p.get(f"{API}/certification/technicians?outlet_id=C01-O07", C01))
    holders = [
        t["id"]
        for t in techs
        if any(c["product_line"] == "注塑机" and c["status"] == "valid" for c in t["certificates"])
    ]
    assert holders
    # a failed exam issues nothing
    failed = ok(
        p.post(
            f"{API}/certification/exams",
            C01,
            json={"technician_id": techs[0]["id"], "product_line": "螺杆空压机", "score": "55"},
        ),
        201,
    )
    assert failed["exam"]["passed"] is False and failed["certificate"] is None
    # withdrawing every 注塑机 certificate of the outlet makes it ineligible for the line
    for tid in holders:
        ok(
            p.post(
                f"{API}/certification/certificates/revoke",
                C01,
                json={"technician_id": tid, "product_line": "注塑机", "reason": "违规操作"},
            )
        )
    revoked = tap.wait("technician.revoked", lambda e: e["outlet_id"] == "C01-O07", timeout=10)
    assert {e["technician_id"] for e in revoked} == set(holders)
    lost = tap.wait("outlet.line_eligibility", lambda e: e["outlet_id"] == "C01-O07")
    assert [(e["product_line"], e["eligible"]) for e in lost] == [("注塑机", False)]
    f = ok(p.get(f"{API}/outlets/C01-O07", C01))
    assert {line["product_line"]: line["eligible"] for line in f["lines"]}["注塑机"] is False
    # a second withdrawal of the same line has nothing to withdraw
    r = p.post(
        f"{API}/certification/certificates/revoke",
        C01,
        json={"technician_id": holders[0], "product_line": "注塑机", "reason": "again"},
    )
    assert r.status_code == 409 and "product_line" in r.json()["error"]["fields"], r.text

    # trained and examined again: a certificate valid two years, the line eligible again
    session = ok(
        p.post(
            f"{API}/certification/trainings",
            C01,
            json={
                "product_line": "注塑机",
                "title": "注塑机液压系统复训",
                "held_on": today().isoformat(),
                "attendees": [holders[0]],
            },
        ),
        201,
    )
    passed = ok(
        p.post(
            f"{API}/certification/exams",
            C01,
            json={"technician_id": holders[0], "product_line": "注塑机", "score": "81.5", "session_id": session["id"]},
        ),
        201,
    )
    cert = passed["certificate"]
    assert cert["issued_on"] == today().isoformat()
    assert cert["valid_until"] == today().replace(year=today().year + 2).isoformat()
    certified = tap.wait("technician.certified", lambda e: e["technician_id"] == holders[0])[0]
    assert certified["valid_until"] == cert["valid_until"] and certified["product_line"] == "注塑机"
    back = tap.wait("outlet.line_eligibility", lambda e: e["outlet_id"] == "C01-O07" and e["eligible"])
    assert back[0]["product_line"] == "注塑机"
    # a renewal supersedes the certificate it replaces
    t = ok(p.get(f"{API}/certification/technicians/{techs[0]['id']}", C01))
    before = [c for c in t["certificates"] if c["product_line"] == "数控车床" and c["status"] == "valid"]
    ok(
        p.post(
            f"{API}/certification/exams",
            C01,
            json={"technician_id": techs[0]["id"], "product_line": "数控车床", "score": "90"},
        ),
        201,
    )
    t = ok(p.get(f"{API}/certification/technicians/{techs[0]['id']}", C01))
    statuses = {c["id"]: c["status"] for c in t["certificates"] if c["product_line"] == "数控车床"}
    assert all(statuses[c["id"]] == "superseded" for c in before)
    assert list(statuses.values()).count("valid") == 1
    assert {(e["product_line"], e["passed"]) for e in t["exams"]} >= {("螺杆空压机", False), ("数控车床", True)}


def test_bad_input_names_the_field_and_changes_nothing(cert_platform, rpc_as):
    p = cert_platform
    before = ok(p.get(f"{API}/outlets", HQ))["total"]
    r = p.post(f"{API}/outlets", C01, data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    r = p.post(f"{API}/outlets", C01, json={"name": "x"})
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert {"legal_entity", "licence_no", "bank_account", "premises", "staff", "equipment"} <= set(fields)
    bad = form(
        licence_no="123",
        bank_account={"bank": "工行", "account_no": "12ab", "holder": "某公司"},
        staff=[{"name": "甲", "position": "wizard"}],
        product_lines=["洗衣机"],
    )
    r = p.post(f"{API}/outlets", C01, json=bad)
    assert r.status_code == 422 and {"licence_no", "bank_account", "staff"} <= set(r.json()["error"]["fields"])
    r = p.post(f"{API}/outlets", C01, json=form(product_lines=["洗衣机"]))
    assert r.status_code == 422 and "product_lines" in r.json()["error"]["fields"]
    assert ok(p.get(f"{API}/outlets", HQ))["total"] == before

    r = p.post(f"{API}/outlets/C01-O01/steps", C01, json={"action": "suspend"})
    assert r.status_code == 422 and "reason" in r.json()["error"]["fields"]
    r = p.post(f"{API}/outlets/C01-O01/steps", C01, json={"action": "fly"})
    assert r.status_code == 422 and "action" in r.json()["error"]["fields"]
    r = p.post(f"{API}/outlets/C01-O01/steps", C01, json={"action": "suspend", "reason": "x", "colour": "red"})
    assert r.status_code == 422 and "colour" in r.json()["error"]["fields"]
    r = p.post(f"{API}/outlets/C01-O01/steps", C01, json={"action": "suspend", "reason": "x", "expected_version": 99})
    assert r.status_code == 409 and "expected_version" in r.json()["error"]["fields"]
    assert ok(p.get(f"{API}/outlets/C01-O01", C01))["status"] == "effective"

    for body, field in (
        ({"technician_id": "C01-O01-T1", "product_line": "数控车床", "score": "150"}, "score"),
        ({"technician_id": "C01-O01-T1", "product_line": "洗衣机", "score": "80"}, "product_line"),
        (
            {
                "technician_id": "C01-O01-T1",
                "product_line": "数控车床",
                "score": "80",
                "taken_on": (today() + timedelta(days=1)).isoformat(),
            },
            "taken_on",
        ),
        (
            {"technician_id": "C01-O01-T1", "product_line": "数控车床", "score": "80", "taken_on": "2020-01-01"},
            "taken_on",
        ),
        (
            {"technician_id": "C01-O01-T1", "product_line": "数控车床", "score": "80", "session_id": "nope"},
            "session_id",
        ),
    ):
        r = p.post(f"{API}/certification/exams", C01, json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
    t = ok(p.get(f"{API}/certification/technicians/C01-O01-T1", C01))
    assert t["exams"] == []

    # malformed events are dead-lettered; the service keeps answering
    event_dispatcher(p.config)("settlement", "account.cleared", {"tenant_id": "C01", "outlet_id": "C01-O01"})
    event_dispatcher(p.config)(
        "qa",
        "qa.scorecard_published",
        {"tenant_id": "C01", "outlet_id": "C01-O01", "month": "2026-13", "score": "x", "stars": 1, "grade": "Z"},
    )
    # an answer for an outlet that is not revoking changes nothing
    publish_settlement(
        p.config,
        "account.cleared",
        {"tenant_id": "C01", "outlet_id": "C01-O02", "request_id": "r", "open_items": [], "at": datetime.now(UTC)},
    )
    from shared.metrics import REGISTRY

    def dead_lettered():
        return (
            REGISTRY.get_sample_value(
                "fsm_dead_letters_total", {"service": "certification", "source": "account.cleared"}
            )
            or 0
        ) >= 1

    wait_for(dead_lettered)
    with rpc_as(C01, "certification") as cert:
        assert cert.get_outlet("C01-O02")["status"] == "effective"
        assert cert.get_outlet("C01-O01")["grade"] == "A"
    # refused steps are counted on the service's own /metrics
    import requests

    from tests.conftest import http_port_of

    port = http_port_of(p.containers["certification"])
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'fsm_certification_outlet_steps_total{action="suspend",outcome="Conflict",service="certification"}' in text
