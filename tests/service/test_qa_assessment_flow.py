"""The centers' assessment over the real broker (issue 18.4): HQ assesses and ranks two centers for a
month from the facts QA recorded from the events, each center charged for its own deadlines only;
a center reads its own assessment only, an outlet none; HQ records a region's inputs and grade."""

from datetime import datetime

import pytest
from nameko.testing.services import entrypoint_hook

from shared import clock
from shared.errors import Forbidden, ValidationFailed
from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ, wait_for
from tests.qa_fixtures import qa_config, send, visit  # noqa: F401

SH = clock.LOCAL_TZ
O1 = Principal("wuhan-o1", "outlet", tenant="C01", outlet="C01-O01")
MONTH = "2026-03"
SERVED = datetime(2026, 3, 10, 10, tzinfo=SH)


def _breach(number, sla, outlet=None):
    return {
        "tenant_id": "C01",
        "ticket_id": f"t-{number}",
        "number": number,
        "sla": sla,
        "due_at": SERVED,
        "detected_at": SERVED,
        "assigned_outlet_id": outlet,
    }


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_hq_ranks_two_centers_and_a_center_reads_its_own(container_factory, qa_config, rpc_as, send, request, database):
    from services.qa.service import QaService

    if database == "postgresql":
        qa_config["DATABASES"]["qa"] = request.getfixturevalue("pg_url")
    container = container_factory(QaService, qa_config)
    container.start()
    send(
        "intake",
        "ticket.registered",
        {
            "tenant_id": "C01",
            "ticket_id": "ta1",
            "number": "A-1",
            "kind": "repair",
            "channel": "hotline",
            "priority": 3,
            "received_at": SERVED,
            "warranty": "warranty",
            "tier": "in_province",
            "geo_ambiguous": False,
        },
    )
    send("dispatch", "visit.completed", visit("va1", "ta1", "C01-O01", SERVED))
    send("dispatch", "visit.completed", visit("vb1", "tb1", "C02-O01", SERVED, tenant="C02"))
    late = visit("vb2", "tb2", "C02-O01", SERVED, tenant="C02", onsite_on_time=False)
    send("dispatch", "visit.completed", late)  # C02's late arrival: 未按规范做 -4 on C02's card
    send("intake", "sla.breached", _breach("A-ACCEPT", "accept", "C01-O01"))  # the center's, outlet named
    send("intake", "sla.breached", _breach("A-FORWARD", "forward"))  # the center's 1-hour rule
    send("intake", "sla.breached", _breach("A-ONSITE", "onsite", "C01-O01"))  # the outlet's, not the center's

    def recorded():
        with rpc_as(HQ, "qa") as qa:
            facts = qa.center_facts({"month": MONTH, "tenant_id": "C01"})
            outlet = [f for f in qa.score_facts("C01-O01", MONTH) if f["source"] == "sla.breached"]
            jobs = qa.work_list({"status": "all", "caller": "all"})["total"]
            rows = qa.report("ontime", {"month": MONTH, "tenant_id": "C01"})["rows"]
            tickets = any(row["tier"] == "in_province" for row in rows)
            return len(facts) == 2 and len(outlet) == 1 and jobs >= 5 and tickets and facts

    wait_for(recorded, what="visits and breaches recorded")
    with rpc_as(C01, "qa") as qa, pytest.raises(Forbidden):
        qa.assess_centers({"month": MONTH})
    with rpc_as(HQ, "qa") as qa:
        with pytest.raises(ValidationFailed) as bad:
            qa.assess_centers({"month": MONTH, "year": "2026"})
        assert "month" in str(bad.value.fields)
        done = qa.assess_centers({"month": MONTH})
        assert done["period"] == MONTH and done["centers"] == 6 and done["rated"] == 2
        ranking = qa.center_assessments({"month": MONTH})
    assert [(a["tenant_id"], a["rank"]) for a in ranking[:2]] == [("C02", 1), ("C01", 2)]
    assert all(a["rated"] is False and a["rank"] is None for a in ranking[2:]) and len(ranking) == 6
    c01, c02 = ranking[1], ranking[0]
    # C01 pays its acceptance (-4) and its forwarding (-2), not its outlet's breach; C02 its late arrival
    # (-4); each its callbacks not made by now (-1 each: C01 one job, C02 two)
    assert (float(c02["score"]), float(c01["score"])) == (100 - 4 - 2, 100 - 4 - 2 - 1)
    c02_norms = next(line for line in c02["lines"] if line["line"] == "service_norms")
    assert [o["key"] for i in c02_norms["items"] for o in i["occurrences"]] == ["sla:tb2:onsite"]
    assert c02["kpis"]["onsite_on_time_share"] == "0.500" and c02["jobs"] == 2
    lines = {line["line"]: line for line in c01["lines"]}
    norm_refs = [o["facts"][0]["ref"] for i in lines["service_norms"]["items"] for o in i["occurrences"]]
    assert norm_refs == ["ticket:A-ACCEPT"]
    assert lines["information_feedback"]["items"][0]["kind"] == "late_feedback"
    assert "A-ONSITE" not in str(c01["lines"])
    assert c01["kpis"]["jobs"] == 1 and c01["kpis"]["deadlines_missed_by_sla"] == {"accept": 1, "forward": 1}
    assert c01["kpis"]["onsite_by_tier"] == {"in_province": {"on_time": 1, "visits": 1, "share": "1.000"}}

    with rpc_as(C01, "qa") as qa:
        own = qa.center_assessments({"month": MONTH})
        assert [a["tenant_id"] for a in own] == ["C01"] and own[0]["rank"] == 2
        assert qa.center_assessments({"month": MONTH, "tenant_id": "C02"}) == []
        with pytest.raises(Forbidden):
            qa.record_region("C01", {"competition": 90, "resources": 90})
    with rpc_as(C02, "qa") as qa:
        assert [(a["tenant_id"], a["rank"]) for a in qa.center_assessments({"month": MONTH})] == [("C02", 1)]
    with rpc_as(O1, "qa") as qa, pytest.raises(Forbidden):
        qa.center_assessments({"month": MONTH})

    # seed 003: HQ records a region's competition and resources; the grade follows the rule
    with rpc_as(HQ, "qa") as qa:
        region = qa.record_region("C01", {"competition": 80, "resources": 60, "note": "竞争激烈"})
        assert (region["region_index"], region["grade"]) == ("70.0", "A")
        assert qa.record_region("C01", {"competition": 30, "resources": 40})["grade"] == "C"
        with pytest.raises(ValidationFailed) as bad:
            qa.record_region("C01", {"competition": 101, "resources": 40})
        assert "competition" in bad.value.fields
        with pytest.raises(ValidationFailed):
            qa.record_region("C99", {"competition": 1, "resources": 1})
        qa.record_region("C02", {"competition": 50, "resources": 50})
    with rpc_as(C01, "qa") as qa:
        assert [(r["tenant_id"], r["grade"]) for r in qa.region_grades()] == [("C01", "C")]


def test_the_schedule_assesses_a_followed_month_and_the_year_after_december(container_factory, qa_config, rpc_as, send):
    from services.qa.service import QaService

    qa_config["QA_AUTO_MONTHLY"] = "true"
    container = container_factory(QaService, qa_config)
    container.start()
    december = datetime(2025, 12, 10, 10, tzinfo=SH)
    send("dispatch", "visit.completed", visit("vd1", "td1", "C01-O01", december))

    def recorded():
        with rpc_as(HQ, "qa") as qa:
            return qa.work_list({"status": "all", "caller": "all"})["total"] >= 2

    wait_for(recorded, what="December's job recorded")
    try:
        clock.travel_to(datetime(2025, 12, 20, 9, tzinfo=SH))  # HQ looks at the year before it ends
        with rpc_as(HQ, "qa") as qa:
            assert qa.assess_centers({"year": "2025"})["rated"] == 1
        clock.travel_to(datetime(2026, 1, 9, 9, tzinfo=SH))
        with entrypoint_hook(container, "housekeeping") as tick:
            tick()
        with rpc_as(HQ, "qa") as qa:
            month = qa.center_assessments({"month": "2025-12"})
            year = qa.center_assessments({"year": "2025"})
        assert month[0]["tenant_id"] == "C01" and month[0]["rank"] == 1 and month[0]["kind"] == "month"
        assert year[0]["tenant_id"] == "C01" and year[0]["kind"] == "year"
        assert year[0]["score"] == month[0]["score"] and year[0]["months"]["2025-12"] == month[0]["score"]
        assert year[0]["months"]["2025-01"] is None  # a month without jobs: not rated, not averaged
        assert year[0]["computed_at"] >= "2026-01-09"  # assessed again once the year had ended
        clock.travel_to(datetime(2026, 1, 10, 9, tzinfo=SH))
        with entrypoint_hook(container, "housekeeping") as tick:
            tick()
        with rpc_as(HQ, "qa") as qa:  # once: the next day's tick leaves it
            assert qa.center_assessments({"year": "2025"})[0]["computed_at"] == year[0]["computed_at"]
    finally:
        clock.reset()


@pytest.fixture
def qa_gateway(runner_factory, qa_config):
    """qa + gateway (the assessment routes need nothing else)."""
    from services.gateway.service import GatewayService
    from services.qa.service import QaService
    from tests.conftest import Platform

    runner = runner_factory(qa_config, QaService, GatewayService)
    runner.start()
    yield Platform(runner, qa_config)


def test_the_routes_by_role_as_documented(qa_gateway, send):
    from services.gateway import docs
    from tests.openapi_check import AnswerCheck

    check = AnswerCheck(docs.openapi_document())
    api = "/api/v1/qa"
    send("dispatch", "visit.completed", visit("vr1", "tr1", "C01-O01", SERVED))
    wait_for(
        lambda: qa_gateway.get(f"{api}/callbacks", HQ, params={"caller": "all", "status": "all"}).json()["total"],
        what="the job recorded",
    )

    def answer(method, path, who, status, **kw):
        r = qa_gateway.request(method, f"{api}/{path}", who, **kw)
        assert r.status_code == status, r.text
        check(r)
        return r.json()

    answer("POST", "center-assessments", C01, 403, json={"month": MONTH})
    assert answer("POST", "center-assessments", HQ, 200, json={"month": MONTH})["rated"] == 1
    assert answer("POST", "center-assessments", HQ, 200, json={"year": "2026"})["period"] == "2026"
    assert answer("POST", "center-assessments", HQ, 422, json={"month": "2026-13"})["error"]["fields"]["month"]
    ranking = answer("GET", "center-assessments", HQ, 200, params={"month": MONTH})
    assert len(ranking) == 6 and (ranking[0]["tenant_id"], ranking[0]["rank"]) == ("C01", 1)
    assert [a["tenant_id"] for a in answer("GET", "center-assessments", C02, 200, params={"month": MONTH})] == ["C02"]
    year = answer("GET", "center-assessments", C01, 200, params={"year": "2026"})
    assert [(a["tenant_id"], a["kind"], a["score"]) for a in year] == [("C01", "year", ranking[0]["score"])]
    answer("GET", "center-assessments", O1, 403, params={"month": MONTH})
    assert "month" in answer("GET", "center-assessments", HQ, 422)["error"]["fields"]

    answer("PUT", "regions/C01", C01, 403, json={"competition": 50, "resources": 50})
    assert answer("PUT", "regions/C01", HQ, 200, json={"competition": 50, "resources": 40})["grade"] == "B"
    assert "resources" in answer("PUT", "regions/C01", HQ, 422, json={"competition": 5})["error"]["fields"]
    assert [r["grade"] for r in answer("GET", "regions", C01, 200)] == ["B"]
    assert answer("GET", "regions", C02, 200) == []
    answer("GET", "regions", O1, 403)
