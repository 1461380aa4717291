"""Certification driving dispatch over the real broker: a new outlet's whole life (apply →
effective → revoking → accounts cleared → revoked), with dispatch planning it while effective
and not at all from the moment `outlet.revoking` arrives; and a certificate expiring on the
tenant's calendar date, applied by the timer with the clock set across that date."""

from datetime import UTC, datetime, time, timedelta

from services.certification.domain import LOCAL_TZ
from shared import clock
from shared.tenancy import Principal
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
    wait_for,
)

API = "/api/v1"
WUHAN = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉洪山精机",
    "phone": "138****0101",
    "address": "湖北省武汉市洪山区珞喻路100号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "主轴异响",
}


def ok(r, status=200):
    assert r.status_code == status, r.text
    return r.json()


def board(p):
    return ok(p.get(f"{API}/dispatch/board", C01))["items"]


def test_new_outlet_from_application_to_revoked_drives_dispatch(cert_dispatch_platform, rpc_as, tap):
    p = cert_dispatch_platform
    ok(p.post(f"{API}/outlets", O8, json=form()), 201)
    techs = [s["technician_id"] for s in outlet_file(p)["registration"]["staff"] if s.get("technician_id")]
    assert techs == [f"{NEW_OUTLET}-T1", f"{NEW_OUTLET}-T2"]

    def act(principal, action, **body):
        return ok(p.post(f"{API}/outlets/{NEW_OUTLET}/steps", principal, json=dict(body, action=action)))

    act(C01, "center_review", decision="pass", inspection=INSPECTION)
    act(C01_TECH, "technical_review", decision="pass")
    act(HEAD, "head_approval", decision="pass")
    act(HQ, "issue_agreement", agreement=back_dated_agreement())
    # the staff's technicians in dispatch (same ids), then trained and examined in certification
    for tid in techs:
        ok(
            p.post(
                f"{API}/technicians",
                C01,
                json={
                    "id": tid,
                    "name": tid,
                    "outlet_id": NEW_OUTLET,
                    "skills": ["数控车床"],
                    "certificates": {},
                    "home_lat": 30.52,
                    "home_lon": 114.40,
                    "daily_capacity": 4,
                },
            )
        )
    session = ok(
        p.post(
            f"{API}/certification/trainings",
            C01,
            json={
                "product_line": "数控车床",
                "title": "数控车床维修培训 2026-11",
                "held_on": "2026-11-10",
                "trainer": "总部技术科 周工",
                "attendees": techs,
            },
        ),
        201,
    )
    for tid in techs:
        exam = ok(
            p.post(
                f"{API}/certification/exams",
                C01,
                json={"technician_id": tid, "product_line": "数控车床", "score": "86", "session_id": session["id"]},
            ),
            201,
        )
        assert exam["certificate"]["status"] == "valid"

    def certified_in_dispatch():
        with rpc_as(C01, "dispatch") as dispatch:
            rows = {t["id"]: t for t in dispatch.list_technicians(NEW_OUTLET)}
        return all("数控车床" in rows[t]["certificates"] for t in techs)

    wait_for(certified_in_dispatch, what="technician.certified reached dispatch")
    effective = act(C01, "assess_probation", result="passed", assessment={"score": "90"})
    assert effective["status"] == "effective"
    tap.wait("outlet.effective", lambda e: e["outlet_id"] == NEW_OUTLET)

    # while effective, dispatch plans the new outlet's technicians
    tickets = [
        ok(
            p.post(f"{API}/tickets", C01, json=dict(WUHAN, customer_name=f"武汉洪山精机{i}", phone=f"1380000010{i}")),
            201,
        )["id"]
        for i in range(3)
    ]
    wait_for(lambda: {v["ticket_id"] for v in board(p)} >= set(tickets))

    def planned_on_new_outlet():
        ok(p.post(f"{API}/dispatch/reoptimise", C01))
        items = board(p)
        return items if {v["outlet_id"] for v in items} == {NEW_OUTLET} else None

    wait_for(planned_on_new_outlet, timeout=40, what="dispatch planned the effective outlet")

    # revocation for complaints: form → center review → technical review → head approval
    act(
        C01,
        "request_revocation",
        revocation={"reason_code": "complaints", "details": "一个月内投诉 4 起"},
        attachments=["doc://撤点登记表.pdf"],
    )
    act(C01, "revocation_center_review", decision="pass")
    act(C01_TECH, "revocation_technical_review", decision="pass")
    assert {v["outlet_id"] for v in board(p)} == {NEW_OUTLET}  # still working until the head approves
    revoking = act(HEAD, "revocation_approval", decision="pass")
    assert revoking["status"] == "revoking"
    # dispatch takes the visits back the moment outlet.revoking arrives, and plans the outlet no more
    wait_for(
        lambda: all(v["outlet_id"] is None and v["status"] == "unplanned" for v in board(p)),
        what="visits released on outlet.revoking",
    )
    ok(p.post(f"{API}/dispatch/reoptimise", C01))
    items = board(p)
    assert all(v["outlet_id"] != NEW_OUTLET for v in items)
    assert {v["status"] for v in items} == {"unassignable"}, items
    assert (
        ok(p.get(f"{API}/outlet/jobs", Principal("o8-tech", "outlet", tenant="C01", outlet=NEW_OUTLET)))["items"] == []
    )

    # settlement (published here as settlement would) answers: cleared → revoked, the outlet notified
    request = tap.wait("account.clearing_requested", lambda e: e["outlet_id"] == NEW_OUTLET)[0]
    assert request["request_id"] == revoking["clearing_request_id"]
    answer_clearing(p.config, revoking, cleared=True)
    revoked = tap.wait("outlet.revoked", lambda e: e["outlet_id"] == NEW_OUTLET)[0]
    assert revoked["status"] == "revoked" and revoked["reason"] == "complaints"
    f = outlet_file(p)
    assert f["status"] == "revoked" and f["clearing_status"] == "cleared" and f["notices"]
    assert [s["action"] for s in f["steps"]] == [
        "apply",
        "center_review",
        "technical_review",
        "head_approval",
        "issue_agreement",
        "assess_probation",
        "request_revocation",
        "revocation_center_review",
        "revocation_technical_review",
        "revocation_approval",
        "accounts_cleared",
    ]
    ok(p.post(f"{API}/dispatch/reoptimise", C01))
    assert all(v["outlet_id"] != NEW_OUTLET for v in board(p))


def outlet_file(p):
    return ok(p.get(f"{API}/outlet/file", O8))


def test_certificate_expiry_on_the_calendar_date_reaches_dispatch(runner_factory, dispatch_config, tap, rpc_as):
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from tests.conftest import Platform

    config = dict(dispatch_config, DISPATCH_BATCH_SECONDS=3600, CERTIFICATION_CHECK_SECONDS=0.3)
    runner = runner_factory(config, CertificationService, DispatchService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
    taken = today.replace(year=today.year - 2) + timedelta(days=1)  # two years ago tomorrow
    ok(
        p.post(
            f"{API}/certification/technicians",
            C01,
            json={"id": "C01-O05-T9", "outlet_id": "C01-O05", "name": "孙立", "skills": ["注塑机"]},
        )
    )
    ok(
        p.post(
            f"{API}/technicians",
            C01,
            json={
                "id": "C01-O05-T9",
                "name": "孙立",
                "outlet_id": "C01-O05",
                "skills": ["注塑机"],
                "certificates": {},
                "home_lat": 30.2,
                "home_lon": 115.0,
            },
        )
    )
    exam = ok(
        p.post(
            f"{API}/certification/exams",
            C01,
            json={
                "technician_id": "C01-O05-T9",
                "product_line": "注塑机",
                "score": "75",
                "taken_on": taken.isoformat(),
            },
        ),
        201,
    )
    until = exam["certificate"]["valid_until"]
    assert until == (today + timedelta(days=1)).isoformat()

    def dispatch_cert():
        with rpc_as(C01, "dispatch") as dispatch:
            tech = next(t for t in dispatch.list_technicians("C01-O05") if t["id"] == "C01-O05-T9")
        return tech["certificates"].get("注塑机")

    assert wait_for(dispatch_cert) == until
    # the timer reminds 30 days ahead (once), and does not expire a certificate on its last day
    reminder = tap.wait("technician.expiring", lambda e: e["technician_id"] == "C01-O05-T9")
    assert reminder[0]["valid_until"] == until
    clock.travel_to(datetime.combine(today + timedelta(days=1), time(23, 50), LOCAL_TZ))  # its last day
    import time as _time

    _time.sleep(1.0)
    with rpc_as(C01, "certification") as cert:
        t = cert.get_technician("C01-O05-T9")
    assert [c["status"] for c in t["certificates"]] == ["valid"]
    assert len(tap.wait("technician.expiring", lambda e: e["technician_id"] == "C01-O05-T9")) == 1
    # across the date (00:10 the next day in China, still the day before in UTC): expired by the timer
    clock.travel_to(datetime.combine(today + timedelta(days=2), time(0, 10), LOCAL_TZ))
    expired = tap.wait("technician.expired", lambda e: e["technician_id"] == "C01-O05-T9")[0]
    assert expired["product_line"] == "注塑机"
    wait_for(lambda: dispatch_cert() is None, what="expiry reached dispatch")
    with rpc_as(C01, "certification") as cert:
        t = cert.get_technician("C01-O05-T9")
        assert [c["status"] for c in t["certificates"]] == ["expired"]
        # the outlet keeps its other certified technicians for the line: still eligible
        lines = {line["product_line"]: line for line in cert.get_outlet("C01-O05")["lines"]}
        assert lines["注塑机"]["eligible"] is True
