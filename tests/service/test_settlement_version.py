"""A claim's version is SQLAlchemy's version counter: two decisions on the same claim made at
once (both read it before either wrote) cannot both win. On PostgreSQL, through RPC: the
decision that commits first stands, the other is refused with 409 (Conflict) and leaves no
trace (no audit step, no event, the version moved by one)."""

import threading

import pytest

from shared.errors import Conflict
from shared.tenancy import Principal
from tests.conftest import C01, HQ
from tests.settlement_fixtures import new_id, publish, ticket_event, visit_event, wait_claim  # noqa: F401

C01_OTHER = Principal("wuhan-agent-2", "center", tenant="C01")


@pytest.mark.postgres
def test_two_concurrent_decisions_one_wins(pg_url, runner_factory, service_config, publish, rpc_as, monkeypatch):
    from services.settlement.service import SettlementService

    config = dict(service_config, DATABASES=dict(service_config["DATABASES"], settlement=pg_url))
    runner = runner_factory(config, SettlementService)
    runner.start()
    tid, vid = new_id("T"), new_id("V")
    publish("ticket.registered", ticket_event(tid))
    publish("visit.completed", visit_event(vid, tid))
    claim = wait_claim(rpc_as, vid)
    assert claim["status"] == "center_review" and claim["version"] == 1

    # the first decision pauses right after reading the claim (version 1) until the second one,
    # which read the same version, has committed: the two are truly concurrent
    first_read, release = threading.Event(), threading.Event()
    original = SettlementService._audits
    calls = []

    def audits(uow, claim_row):
        rows = original(uow, claim_row)
        calls.append(claim_row.version)
        if len(calls) == 1:
            first_read.set()
            assert release.wait(30)
        return rows

    monkeypatch.setattr(SettlementService, "_audits", staticmethod(audits))
    outcome = {}

    def approve():
        try:
            with rpc_as(C01, "settlement") as s:
                outcome["approve"] = s.audit_claim(claim["id"], {"level": "center", "action": "approve"})
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["approve"] = exc

    first = threading.Thread(target=approve)
    first.start()
    assert first_read.wait(30)
    with rpc_as(C01_OTHER, "settlement") as s:
        rejected = s.audit_claim(claim["id"], {"level": "center", "action": "reject", "reason": "work order illegible"})
    release.set()
    first.join(60)
    assert calls[:2] == [1, 1]  # both decisions read version 1 (later calls: the answer's audit list)
    assert rejected["status"] == "rejected" and rejected["version"] == 2
    lost = outcome["approve"]
    assert isinstance(lost, Conflict), lost
    assert "concurrent" in str(lost) or "changed" in str(lost)

    with rpc_as(HQ, "settlement") as s:
        final = s.get_claim(claim["id"])
    assert final["status"] == "rejected" and final["version"] == 2
    assert [(a["level"], a["action"], a["user"]) for a in final["audits"]] == [("center", "reject", C01_OTHER.user)]
