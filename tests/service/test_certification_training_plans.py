"""Training plans over the gateway and RPC: HQ's annual plan for every center (3–4 sessions,
seed 001), a center's regional plan, sessions held under a plan with attendees, and an exam that
needs the plan's session attended before it (422 naming the field otherwise, nothing recorded)."""

from datetime import UTC, datetime

from services.certification.domain import LOCAL_TZ
from shared.tenancy import Principal
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import C01, HQ
from tests.conftest import C02

O1 = Principal("wuhan-o1", "outlet", tenant="C01", outlet="C01-O01")

API = "/api/v1"


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def today():
    return datetime.now(UTC).astimezone(LOCAL_TZ).date()


def planned(year, months):
    return [{"title": f"注塑机培训第{i + 1}期", "planned_on": f"{year}-{m:02d}-01"} for i, m in enumerate(months)]


def test_plans_sessions_and_the_exam_that_needs_the_plans_session(cert_platform):
    p = cert_platform
    year = today().year
    annual = {"year": year, "kind": "annual", "product_line": "注塑机", "title": "注塑机年度培训"}

    # seed 001: 3-4 a year; two sessions are refused naming the field, nothing stored
    r = p.post(f"{API}/training-plans", HQ, json=dict(annual, sessions=planned(year, [3, 9])))
    assert r.status_code == 422 and "sessions" in r.json()["error"]["fields"], r.text
    r = p.post(f"{API}/training-plans", HQ, json=dict(annual, sessions=planned(year + 1, [3, 6, 9])))
    assert r.status_code == 422 and "sessions" in r.json()["error"]["fields"], r.text
    r = p.post(f"{API}/training-plans", C01, json=dict(annual, sessions=planned(year, [3, 6, 9])))
    assert r.status_code == 403 and "kind" in r.json()["error"]["fields"], r.text
    r = p.post(f"{API}/training-plans", HQ, json=dict(annual, kind="new_product", sessions=planned(year, [3])))
    assert r.status_code == 422 and "launch_on" in r.json()["error"]["fields"], r.text
    r = p.post(f"{API}/training-plans", HQ, json=dict(annual, product_line="洗衣机", sessions=planned(year, [3, 6, 9])))
    assert r.status_code == 422 and "product_line" in r.json()["error"]["fields"], r.text
    assert ok(p.get(f"{API}/training-plans", HQ))["total"] == 0

    # HQ's annual plan for every center: one plan per center, one group
    created = ok(p.post(f"{API}/training-plans", HQ, json=dict(annual, sessions=planned(year, [3, 6, 9]))), 201)
    tenants = {plan["tenant_id"] for plan in created["items"]}
    assert {"C01", "C02"} <= tenants and len({plan["group_id"] for plan in created["items"]}) == 1
    assert created["warnings"] == []
    again = p.post(f"{API}/training-plans", HQ, json=dict(annual, tenant_id="C01", sessions=planned(year, [2, 5, 8])))
    assert again.status_code == 409 and "product_line" in again.json()["error"]["fields"], again.text
    # a center sees its own plan only; another center's is 404
    mine = ok(p.get(f"{API}/training-plans?year={year}", C01))
    assert [plan["tenant_id"] for plan in mine["items"]] == ["C01"]
    plan = mine["items"][0]
    assert plan["progress"]["planned"] == 3 and plan["progress"]["held"] == 0
    assert [s["planned_on"] for s in plan["planned_sessions"]] == [f"{year}-03-01", f"{year}-06-01", f"{year}-09-01"]
    c02_plan = next(x for x in created["items"] if x["tenant_id"] == "C02")
    assert p.get(f"{API}/training-plans/{c02_plan['id']}", C01).status_code == 404
    assert ok(p.get(f"{API}/training-plans?tenant_id=C02", HQ))["items"][0]["id"] == c02_plan["id"]

    # a center's regional plan of two sessions is kept, with the seed's warning
    regional = ok(
        p.post(
            f"{API}/training-plans",
            C01,
            json={
                "year": year,
                "kind": "regional",
                "product_line": "数控车床",
                "title": "武汉中心数控车床区域培训",
                "sessions": [
                    {"title": "上半年", "planned_on": f"{year}-04-15"},
                    {"title": "下半年", "planned_on": f"{year}-10-15"},
                ],
            },
        ),
        201,
    )
    assert regional["warnings"] == ["2 sessions planned; seed 001: 每年组织3-4期学习班"]
    assert any("数控车床: 2 sessions" in w for w in ok(p.get(f"{API}/training-plans?year={year}", C01))["warnings"])

    # a session held under C01's plan, with one attendee
    techs = ok(p.get(f"{API}/certification/technicians?outlet_id=C01-O01", C01))
    trained, untrained = techs[0]["id"], techs[1]["id"]
    r = p.post(
        f"{API}/training-plans/{plan['id']}/sessions",
        C01,
        json={"title": "注塑机培训第1期", "held_on": today().isoformat(), "attendees": ["C02-O01-T1"]},
    )
    assert r.status_code == 422 and "attendees" in r.json()["error"]["fields"], r.text
    assert (
        p.post(
            f"{API}/training-plans/{c02_plan['id']}/sessions",
            C01,
            json={"title": "x期", "held_on": today().isoformat(), "attendees": []},
        ).status_code
        == 404
    )
    held = ok(
        p.post(
            f"{API}/training-plans/{plan['id']}/sessions",
            C01,
            json={
                "title": "注塑机培训第1期",
                "held_on": today().isoformat(),
                "trainer": "总部 周工",
                "attendees": [trained],
            },
        ),
        201,
    )
    assert held["plan_id"] == plan["id"] and held["product_line"] == "注塑机"
    after = ok(p.get(f"{API}/training-plans/{plan['id']}", C01))
    assert after["progress"]["held"] == 1 and after["sessions"][0]["attendees"] == [trained]

    # the exam: without attendance of the plan's session refused naming the field, nothing recorded
    r = p.post(
        f"{API}/certification/exams", C01, json={"technician_id": untrained, "product_line": "注塑机", "score": "90"}
    )
    assert r.status_code == 422 and "session_id" in r.json()["error"]["fields"], r.text
    r = p.post(
        f"{API}/certification/exams",
        C01,
        json={"technician_id": untrained, "product_line": "注塑机", "score": "90", "session_id": held["id"]},
    )
    assert r.status_code == 422 and "technician_id" in r.json()["error"]["fields"], r.text
    assert ok(p.get(f"{API}/certification/technicians/{untrained}", C01))["exams"] == []
    # an unplanned session of the line does not stand in for the plan's
    loose = ok(
        p.post(
            f"{API}/certification/trainings",
            C01,
            json={
                "product_line": "注塑机",
                "title": "临时实践培训",
                "held_on": today().isoformat(),
                "attendees": [untrained],
            },
        ),
        201,
    )
    assert loose["plan_id"] is None
    r = p.post(
        f"{API}/certification/exams", C01, json={"technician_id": untrained, "product_line": "注塑机", "score": "90"}
    )
    assert r.status_code == 422 and "session_id" in r.json()["error"]["fields"], r.text
    # with attendance: accepted, the exam names the session it rests on
    passed = ok(
        p.post(
            f"{API}/certification/exams", C01, json={"technician_id": trained, "product_line": "注塑机", "score": "88"}
        ),
        201,
    )
    assert passed["exam"]["session_id"] == held["id"] and passed["certificate"]["status"] == "valid"
    # a line without a plan this year asks no training (the plan is what makes it required)
    ok(
        p.post(
            f"{API}/certification/exams",
            C01,
            json={"technician_id": untrained, "product_line": "螺杆空压机", "score": "70"},
        ),
        201,
    )
    # HQ records a session under a plan without naming the center (the plan's)
    by_hq = ok(
        p.post(
            f"{API}/certification/trainings",
            HQ,
            json={
                "product_line": "注塑机",
                "title": "总部集中培训",
                "held_on": today().isoformat(),
                "plan_id": c02_plan["id"],
                "attendees": [],
            },
        ),
        201,
    )
    assert by_hq["tenant_id"] == "C02"
    r = p.post(
        f"{API}/certification/trainings",
        C02,
        json={"product_line": "注塑机", "title": "越界", "held_on": today().isoformat(), "plan_id": plan["id"]},
    )
    assert r.status_code == 422 and "plan_id" in r.json()["error"]["fields"], r.text


def test_bad_plan_input_is_refused_naming_the_field_and_changes_nothing(cert_platform):
    p = cert_platform
    year = today().year
    good = {
        "year": year,
        "kind": "regional",
        "product_line": "注塑机",
        "title": "区域培训",
        "sessions": planned(year, [3, 6, 9]),
    }
    for change, field in (
        ({"year": "abc"}, "year"),
        ({"year": 1999}, "year"),
        ({"kind": "weekly"}, "kind"),
        ({"title": ""}, "title"),
        ({"sessions": []}, "sessions"),
        ({"sessions": "x"}, "sessions"),
        ({"sessions": [{"title": "第1期", "planned_on": "2026-02-30"}]}, "sessions"),
        ({"sessions": [{"title": "第1期"}]}, "sessions"),
        ({"launch_on": f"{year}-12-01"}, "launch_on"),
        ({"colour": "red"}, "colour"),
        ({"tenant_id": "C02"}, "tenant_id"),
    ):
        r = p.post(f"{API}/training-plans", C01, json=dict(good, **change))
        assert r.status_code in (403, 422) and field in r.json()["error"]["fields"], (change, r.text)
    r = p.post(f"{API}/training-plans", HQ, json=dict(good, tenant_id="C99"))
    assert r.status_code == 422 and "tenant_id" in r.json()["error"]["fields"], r.text
    r = p.get(f"{API}/training-plans?tenant_id=C02", C01)
    assert r.status_code == 403 and "tenant_id" in r.json()["error"]["fields"], r.text
    r = p.get(f"{API}/training-plans?tenant_id=C99", HQ)
    assert r.status_code == 422 and "tenant_id" in r.json()["error"]["fields"], r.text
    r = p.get(f"{API}/training-plans?year=abc", C01)
    assert r.status_code == 422 and "year" in r.json()["error"]["fields"], r.text
    r = p.post(f"{API}/training-plans/nope/sessions", C01, json={"title": "第1期", "held_on": "x"})
    assert r.status_code == 422 and "held_on" in r.json()["error"]["fields"], r.text
    assert (
        p.post(
            f"{API}/training-plans/nope/sessions", C01, json={"title": "第1期", "held_on": today().isoformat()}
        ).status_code
        == 404
    )
    assert ok(p.get(f"{API}/training-plans", HQ))["total"] == 0
    assert p.post(f"{API}/training-plans", O1, json=good).status_code == 403
