"""Seed 004's seven-day tracking (七天内用户追踪) and the complaint's three-day callback
(三天内要回访用户) over the real broker: a completed visit gets its ticket's tracking call due 7 days
after the service, a resolved complaint a callback by the center that took it due 3 working days
after; each event twice (or a second visit) plans one; a recorded outcome takes it off the list."""

from datetime import timedelta

import eventlet
import pytest

from services.qa import domain
from shared.dependencies import Policies
from shared.errors import NotFound
from shared.tenants import TenantDirectory
from tests.conftest import C01, C02, wait_for
from tests.qa_fixtures import now_utc, qa_config, send, visit  # noqa: F401


@pytest.fixture
def qa(container_factory, qa_config):
    from services.qa.service import QaService

    container = container_factory(QaService, qa_config)
    container.start()
    return container


def _list(rpc_as, principal, **query):
    with rpc_as(principal, "qa") as qa:
        return qa.work_list(dict({"status": "all"}, **query))["items"]


def test_tracking_and_complaint_callbacks(qa, rpc_as, send):
    policies = Policies(TenantDirectory.load())
    clock, policy = policies.clock, policies.sla_policy("C01")
    done_at = now_utc() - timedelta(hours=2)
    closed_at = now_utc() - timedelta(hours=1)
    first = visit("v-track-1", "t-track", "C01-O01", done_at)
    for payload in (first, first, visit("v-track-2", "t-track", "C01-O01", done_at + timedelta(minutes=30))):
        send("dispatch", "visit.completed", payload)
    closing = {
        "tenant_id": "C01",
        "ticket_id": "t-complaint",
        "number": "C01-TS-1",
        "kind": "complaint",
        "closed_at": closed_at,
        "outcome": "resolved",
        "assigned_outlet_id": "C01-O02",
    }
    send("intake", "ticket.closed", closing)
    send("intake", "ticket.closed", closing)
    # a repair's closing is no complaint: no complaint callback
    send("intake", "ticket.closed", dict(closing, ticket_id="t-repair", number="C01-TS-2", kind="repair"))

    wait_for(lambda: len(_list(rpc_as, C01, purpose="service")) == 2, what="both visits recorded")
    complaint = wait_for(lambda: _list(rpc_as, C01, purpose="complaint"), what="the complaint callback")
    eventlet.sleep(0.5)  # the duplicates have arrived by now

    tracked = _list(rpc_as, C01, purpose="tracking")
    assert len(tracked) == 1  # one per ticket: the same event twice, a second visit
    track = tracked[0]
    assert (track["ticket_id"], track["visit_id"], track["outlet_id"]) == ("t-track", "v-track-1", "C01-O01")
    assert (track["caller"], track["mode"], track["status"], track["overdue"]) == ("C01", "own", "planned", False)
    assert track["due_at"] == domain.followup_due(clock, policy, done_at, done_at).isoformat()
    assert track["due_at"] >= (done_at + timedelta(days=7)).isoformat()

    assert len(complaint) == 1
    call = complaint[0]
    assert (call["ticket_id"], call["outlet_id"], call["caller"], call["status"]) == (
        "t-complaint",
        "C01-O02",
        "C01",
        "planned",
    )
    assert call["due_at"] == domain.callback_due(clock, policy, closed_at).isoformat()
    assert not [c for c in _list(rpc_as, C01) if c["ticket_id"] == "t-repair"]
    assert _list(rpc_as, C02) == []  # another center's list has none of them

    with rpc_as(C02, "qa") as qa_c02:
        with pytest.raises(NotFound):
            qa_c02.record_result(call["id"], {"satisfaction": 5})
    with rpc_as(C01, "qa") as qa_c01:
        assert qa_c01.record_result(track["id"], {"reached": False})["status"] == "planned"  # an attempt
        done = qa_c01.record_result(track["id"], {"satisfaction": 5, "service_delivered": True, "comment": "机器正常"})
        assert (done["status"], done["attempts"], done["satisfaction"]) == ("done", 2, 5)
        answered = qa_c01.record_result(call["id"], {"satisfaction": 4, "comment": "对处理结果满意"})
        assert answered["status"] == "done" and answered["done_by"] == C01.user
        planned = qa_c01.work_list({})["items"]
    assert {c["id"] for c in planned}.isdisjoint({track["id"], call["id"]})
