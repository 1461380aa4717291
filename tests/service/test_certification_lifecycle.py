"""The outlet lifecycle over the real broker: seeding, application to effective, the file,
grade changes, suspension, revocation waiting for settlement's clearing answer."""

from datetime import UTC, datetime
from decimal import Decimal

from nameko.standalone.events import event_dispatcher

from shared import events as catalogue
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import (
    C01,
    C01_TECH,
    HEAD,
    HQ,
    INSPECTION,
    NEW_OUTLET,
    O8,
    answer_clearing,
    back_dated_agreement,
    form,
    step,
    wait_for,
)


def test_seeded_outlets_and_technicians_line_up_with_the_platform(cert_platform, rpc_as):
    with rpc_as(HQ, "certification") as cert:
        outlets = cert.list_outlets({"limit": 500})
        assert outlets["total"] == 36
        by_id = {o["id"]: o for o in outlets["items"]}
        assert by_id["C01-O01"]["status"] == "effective" and by_id["C01-O01"]["grade"] == "A"
        assert by_id["C03-O08"]["status"] == "probation" and by_id["C03-O08"]["probation_until"]
        assert by_id["C01-O01"]["agreement"]["number"] == "SQ-C01-O01"
        techs = cert.list_technicians({})
        assert len(techs) == 108
        t1 = next(t for t in techs if t["id"] == "C01-O01-T1")
        assert {c["product_line"]: c["valid_until"] for c in t1["certificates"]}["数控车床"] == "2028-04-29"
        f = cert.get_outlet("C01-O01")
        assert f["grade_history"][0]["grade"] == "A"
        # the outlet file carries the directory's legal entity and the account settlement pays into
        assert f["legal_entity"] == "襄阳新阳机电设备服务有限公司"
        assert f["bank_account"] == {
            "bank": "中国建设银行襄阳襄城支行",
            "account_no": "4843457913485383059",
            "holder": "襄阳新阳机电设备服务有限公司",
        }
        assert {r["position"] for r in f["staff"]} == {"technician"} and len(f["staff"]) == 3
        assert all(line["eligible"] for line in f["lines"])
    # a restart seeds nothing twice
    from services.certification.seed import seed
    from shared.tenants import TenantDirectory

    store = next(d.store for d in cert_platform.containers["certification"].dependencies if hasattr(d, "store"))
    assert not any(seed(store, TenantDirectory.load(), cert_platform.config).values())


def test_application_to_effective_with_the_file(cert_platform, rpc_as, tap):
    p = cert_platform
    r = p.post("/api/v1/outlets", O8, json=form())
    assert r.status_code == 201, r.text
    outlet = r.json()
    assert outlet["id"] == NEW_OUTLET and outlet["status"] == "applied" and outlet["applied_by"] == O8.user

    def act(principal, action, **body):
        r = p.post(f"/api/v1/outlets/{NEW_OUTLET}/steps", principal, json=dict(body, action=action))
        assert r.status_code == 200, r.text
        return r.json()

    # out of order: HQ cannot approve what the center has not reviewed
    r = p.post(f"/api/v1/outlets/{NEW_OUTLET}/steps", HEAD, json={"action": "head_approval", "decision": "pass"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition", r.text
    # wrong role: the outlet cannot review itself
    r = p.post(
        f"/api/v1/outlets/{NEW_OUTLET}/steps",
        O8,
        json={"action": "center_review", "decision": "pass", "inspection": INSPECTION},
    )
    assert r.status_code == 403, r.text
    # the center review needs the site inspection
    r = p.post(f"/api/v1/outlets/{NEW_OUTLET}/steps", C01, json={"action": "center_review", "decision": "pass"})
    assert r.status_code == 422 and "inspection" in r.json()["error"]["fields"], r.text

    act(C01, "center_review", decision="pass", inspection=INSPECTION, attachments=["photo://site/1.jpg"])
    r = p.post(f"/api/v1/outlets/{NEW_OUTLET}/steps", HQ, json={"action": "technical_review", "decision": "pass"})
    assert r.status_code == 403 and "technical_lead" in r.json()["error"]["message"], r.text
    act(C01_TECH, "technical_review", decision="pass")
    approved = act(HEAD, "head_approval", decision="pass", reason="布点规划内")
    assert approved["status"] == "approved"
    tap.wait("outlet.approved", lambda e: e["outlet_id"] == NEW_OUTLET)

    # a probation assessment before the 3 months are over cannot pass
    act(C01, "issue_agreement", agreement={"terms": "特约服务协议", "job_limit": 2})
    r = p.post(f"/api/v1/outlets/{NEW_OUTLET}/steps", C01, json={"action": "assess_probation", "result": "passed"})
    assert r.status_code == 409 and "result" in r.json()["error"]["fields"], r.text
    probation = tap.wait("outlet.probation", lambda e: e["outlet_id"] == NEW_OUTLET)[0]
    assert probation["job_limit"] == 2 and probation["status"] == "probation"

    # extended once, then passed (the agreement was signed on paper 100 days ago in this second outlet)
    extended = act(
        C01, "assess_probation", result="extended", assessment={"extend_months": 1, "findings": "回访率不足"}
    )
    assert extended["status"] == "probation" and extended["probation_until"] > outlet["created_at"][:10]

    with rpc_as(C01, "certification") as cert:
        cert.apply_outlet(form(outlet_id="C01-O09", staff=[{"name": "甲", "position": "manager"}]))
        for action, principal, body in [
            ("center_review", C01, {"decision": "pass", "inspection": INSPECTION}),
            ("technical_review", C01_TECH, {"decision": "pass"}),
            ("head_approval", HEAD, {"decision": "pass"}),
            ("issue_agreement", C01, {"agreement": back_dated_agreement()}),
        ]:
            with rpc_as(principal, "certification") as c:
                step(c, "C01-O09", action, **body)
        effective = step(cert, "C01-O09", "assess_probation", result="passed", assessment={"score": "91.5"})
        assert effective["status"] == "effective"
    tap.wait("outlet.effective", lambda e: e["outlet_id"] == "C01-O09")

    # the outlet reads its own file: form, steps with who/when/why/attachments, assessments
    r = p.get("/api/v1/outlet/file", O8)
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["registration"]["licence_no"] == "91420111MA4K2XY81P"
    assert [s["action"] for s in f["steps"]] == [
        "apply",
        "center_review",
        "technical_review",
        "head_approval",
        "issue_agreement",
        "assess_probation",
    ]
    review = f["steps"][1]
    assert review["user"] == C01.user and review["role"] == "center" and review["attachments"] == ["photo://site/1.jpg"]
    assert f["steps"][3]["reason"] == "布点规划内" and f["steps"][2]["duty"] == "technical_lead"
    assert f["assessments"][0]["result"] == "extended"
    assert f["agreement"]["number"].startswith("XY-C01-O08")
    assert {s["name"] for s in f["staff"]} >= {"刘强", "王海", "陈建国"}
    # no certified technician yet: both lines ineligible, and dispatch was told at the approval
    assert {line["product_line"]: line["eligible"] for line in f["lines"]} == {"数控车床": False, "立式加工中心": False}
    told = tap.wait("outlet.line_eligibility", lambda e: e["outlet_id"] == NEW_OUTLET)
    assert {e["product_line"] for e in told} == {"数控车床", "立式加工中心"} and not any(e["eligible"] for e in told)
    # the outlet cannot read another outlet's file
    assert p.get("/api/v1/outlets/C01-O09", O8).status_code == 404


def test_grades_counts_suspension_and_revocation_waiting_for_clearing(cert_platform, rpc_as, tap):
    p = cert_platform
    config = p.config
    # QA's monthly scorecard: a different grade is a grade change, the same grade only history
    dispatch = event_dispatcher(config)
    for month, grade in (("2026-10", "B"), ("2026-11", "B")):
        dispatch(
            "qa",
            "qa.scorecard_published",
            catalogue.dump(
                "qa.scorecard_published",
                {
                    "tenant_id": "C01",
                    "outlet_id": "C01-O01",
                    "month": month,
                    "score": Decimal("78.5"),
                    "stars": 3,
                    "grade": grade,
                },
            ),
        )
    changed = tap.wait("outlet.grade_changed", lambda e: e["outlet_id"] == "C01-O01")
    assert changed[0]["grade"] == "B" and changed[0]["previous_grade"] == "A"
    # visits completed count per month
    for n, kind in enumerate(("install", "repair", "repair")):
        dispatch(
            "dispatch",
            "visit.completed",
            catalogue.dump(
                "visit.completed",
                {
                    "tenant_id": "C01",
                    "visit_id": f"v-{n}",
                    "ticket_id": "t",
                    "outlet_id": "C01-O01",
                    "technician_id": "C01-O01-T1",
                    "at": datetime(2026, 11, 30, 17, 0, tzinfo=UTC),
                    "kind": kind,
                },
            ),
        )

    def file():
        with rpc_as(C01, "certification") as cert:
            f = cert.get_outlet("C01-O01")
        return f if len(f["grade_history"]) == 3 else None

    f = wait_for(file)
    assert [g["grade"] for g in f["grade_history"]] == ["A", "B", "B"]
    assert len(tap.wait("outlet.grade_changed", lambda e: e["outlet_id"] == "C01-O01")) == 1

    # 17:00 UTC on 30 November is 1 December in China
    def counts():
        with rpc_as(C01, "certification") as cert:
            return cert.get_outlet("C01-O01")["monthly_counts"] == [
                {"month": "2026-12", "installs": 1, "repairs": 2, "others": 0}
            ]

    wait_for(counts)

    with rpc_as(C01, "certification") as cert:
        s = step(cert, "C01-O01", "suspend", reason="拒不执行派工")
        assert s["status"] == "suspended"
        back = step(cert, "C01-O01", "reinstate", reason="整改完成")
        assert back["status"] == "effective"
    tap.wait("outlet.suspended", lambda e: e["outlet_id"] == "C01-O01")
    assert tap.wait("outlet.reinstated", lambda e: e["outlet_id"] == "C01-O01")[0]["status"] == "effective"

    # the outlet asks in writing to end the agreement
    o1 = O8.__class__("o1", "outlet", tenant="C01", outlet="C01-O01")
    with rpc_as(o1, "certification") as cert:
        s = step(
            cert,
            "C01-O01",
            "request_revocation",
            revocation={"reason_code": "outlet_request", "written_request_ref": "doc://解约函-2026-11-26.pdf"},
        )
        assert s["status"] == "revocation_requested"
    with rpc_as(C01, "certification") as cert:
        step(cert, "C01-O01", "revocation_center_review", decision="pass")
    with rpc_as(C01_TECH, "certification") as cert:
        step(cert, "C01-O01", "revocation_technical_review", decision="pass")
    with rpc_as(HEAD, "certification") as cert:
        revoking = step(cert, "C01-O01", "revocation_approval", decision="pass")
    assert revoking["status"] == "revoking" and revoking["clearing_status"] == "pending"
    tap.wait("outlet.revoking", lambda e: e["outlet_id"] == "C01-O01")
    asked = tap.wait("account.clearing_requested", lambda e: e["outlet_id"] == "C01-O01")[0]
    assert asked["request_id"] == revoking["clearing_request_id"]

    # settlement answers: open items; they are listed and the outlet stays revoking
    answer_clearing(
        config,
        revoking,
        cleared=False,
        open_items=[
            {"kind": "claim", "ref": "CL-2026-11-0042", "description": "安装费结算未审", "amount": Decimal("380.00")},
            {"kind": "rma", "ref": "RMA-88120", "description": "旧件未返厂", "amount": None},
        ],
    )

    def listed():
        with rpc_as(C01, "certification") as cert:
            o = cert.get_outlet("C01-O01")
        return o if o["clearing_status"] == "open_items" else None

    o = wait_for(listed)
    assert o["status"] == "revoking" and [i["ref"] for i in o["open_items"]] == ["CL-2026-11-0042", "RMA-88120"]
    assert o["open_items"][0]["amount"] == "380.00"
    # a stale answer (an old request id) changes nothing; clearing is asked again
    with rpc_as(C01, "certification") as cert:
        again = step(cert, "C01-O01", "request_clearing", reason="已补交旧件")
    assert again["clearing_request_id"] != revoking["clearing_request_id"]
    answer_clearing(config, revoking, cleared=True)
    tap.wait("account.clearing_requested", lambda e: e["request_id"] == again["clearing_request_id"])
    answer_clearing(config, again, cleared=True)

    def revoked():
        with rpc_as(C01, "certification") as cert:
            o = cert.get_outlet("C01-O01")
        return o if o["status"] == "revoked" else None

    o = wait_for(revoked)
    assert o["clearing_status"] == "cleared" and o["open_items"] == []
    assert o["notices"] and "合作终止" in o["notices"][0]["text"]
    assert tap.wait("outlet.revoked", lambda e: e["outlet_id"] == "C01-O01")[0]["status"] == "revoked"
    # the stale answer was ignored: exactly one accounts_cleared step
    assert [s["action"] for s in o["steps"]].count("accounts_cleared") == 1
    # the revoked outlet still reads its file and the notice
    r = p.get("/api/v1/outlet/file", o1)
    assert r.status_code == 200 and r.json()["notices"], r.text
