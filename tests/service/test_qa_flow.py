"""QA over the real broker: visit.completed → callback planned → negative result →
callback.negative received by intake (ticket reopened, escalated); follow-up and callback.closed;
complaints from intake's events; sla.breached; the monthly scorecard published."""

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import eventlet
import pytest

from shared.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ, wait_for
from tests.qa_fixtures import REPAIR, now_utc, qa_config, qa_platform, send, tap, visit  # noqa: F401

SH = ZoneInfo("Asia/Shanghai")


def _register(rpc_as, **overrides):
    with rpc_as(C01, "intake") as intake:
        ticket = intake.register_ticket(dict(REPAIR, **overrides))
    assert ticket["tenant_id"] == "C01"
    return ticket


def _callbacks(rpc_as, principal, **query):
    with rpc_as(principal, "qa") as qa:
        return qa.work_list(dict({"status": "all"}, **query))["items"]


def test_negative_callback_reaches_intake(qa_platform, rpc_as, send, tap):
    events = tap("qa", "callback.negative", "callback.closed")
    ticket = _register(rpc_as)
    done_at = now_utc() - timedelta(hours=2)
    send("dispatch", "visit.completed", visit("v-flow-1", ticket["id"], "C01-O01", done_at))

    # intake resolved the ticket and QA planned the franchised outlet's 100% callback
    def resolved():
        with rpc_as(HQ, "intake") as intake:
            return intake.get_ticket(ticket["id"])["status"] == "resolved"

    wait_for(resolved, what="ticket resolved")
    planned = wait_for(lambda: _callbacks(rpc_as, C01, purpose="service"), what="callback planned")
    assert len(planned) == 1
    cb = planned[0]
    assert (cb["ticket_id"], cb["visit_id"], cb["outlet_id"]) == (ticket["id"], "v-flow-1", "C01-O01")
    assert (cb["stratum"], cb["mode"], cb["caller"], cb["purpose"], cb["status"]) == (
        "franchised",
        "own",
        "C01",
        "service",
        "planned",
    )
    assert cb["due_at"] > done_at.isoformat() and cb["overdue"] is False
    # the domain counter is exported on QA's own /metrics
    import requests

    from tests.conftest import http_port_of

    port = http_port_of(qa_platform.containers["qa"])
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'fsm_qa_callbacks_planned_total{purpose="service",service="qa",stratum="franchised",tenant="C01"}' in text
    # another center does not see it
    assert _callbacks(rpc_as, C02) == []

    with rpc_as(C01, "qa") as qa:
        # not reached: an attempt, still planned
        attempt = qa.record_result(cb["id"], {"reached": False})
        assert (attempt["status"], attempt["attempts"]) == ("planned", 1)
        result = qa.record_result(
            cb["id"],
            {
                "onsite_within_24h": False,
                "service_delivered": False,
                "fee_schedule_shown": True,
                "satisfaction": 1,
                "reason_codes": ["not_fixed", "late_arrival"],
                "comment": "主轴仍然异响",
            },
        )
    assert result["status"] == "negative" and result["negative"] is True and result["done_by"] == C01.user

    # intake received callback.negative: reopened, escalated, on the audit trail
    def reopened():
        with rpc_as(HQ, "intake") as intake:
            t = intake.get_ticket(ticket["id"])
        entries = [a for a in t["audit"] if a["action"] == "callback_negative"]
        return (t, entries) if entries else None

    t, entries = wait_for(reopened, what="intake consumed callback.negative")
    assert t["status"] == "accepted"
    assert entries[0]["data"]["callback_id"] == cb["id"] and "satisfaction 1" in entries[0]["note"]
    negative = wait_for(lambda: events.of("callback.negative"), what="callback.negative on the wire")[0]
    assert negative["visit_id"] == "v-flow-1" and negative["outlet_id"] == "C01-O01" and negative["at"]

    # the ticket's seven-day tracking call, still to make, is its follow-up (no second call planned);
    # a satisfied one closes the negative callback (settlement releases)
    assert _callbacks(rpc_as, C01, purpose="followup") == []
    followups = _callbacks(rpc_as, C01, purpose="tracking")
    assert len(followups) == 1 and followups[0]["parent_id"] == cb["id"]
    with rpc_as(C01, "qa") as qa:
        qa.record_result(
            followups[0]["id"],
            {"satisfaction": 4, "service_delivered": True, "onsite_within_24h": True, "fee_schedule_shown": True},
        )
        assert qa.get_callback(cb["id"])["status"] == "closed"
    closed = wait_for(lambda: events.of("callback.closed"), what="callback.closed")[0]
    assert (closed["callback_id"], closed["outcome"]) == (cb["id"], "resolved")

    # the customer's "no" answers are norm breaches on the outlet's facts, once per ticket and norm
    month = done_at.astimezone(SH).strftime("%Y-%m")
    with rpc_as(HQ, "qa") as qa:
        facts = qa.score_facts("C01-O01", month)
        assert sorted(f["ref"] for f in facts if f["kind"] == "norm_breach") == [f"callback:{cb['id']}"] * 2
        preview = qa.preview_scorecard("C01-O01", month)
    lines = {line["line"]: line for line in preview["lines"]}
    assert lines["service_norms"]["score"] == 25 - 8
    assert Decimal(preview["score"]) == Decimal("92.0")


def test_recorded_twice_and_closing_rules(qa_platform, rpc_as, send):
    ticket = _register(rpc_as, serial_no="SN-QA-0002")
    send("dispatch", "visit.completed", visit("v-flow-2", ticket["id"], "C01-O01", now_utc() - timedelta(hours=1)))
    send("dispatch", "visit.completed", visit("v-flow-2", ticket["id"], "C01-O01", now_utc() - timedelta(hours=1)))
    cb = wait_for(lambda: _callbacks(rpc_as, C01, purpose="service"), what="planned")[0]
    with rpc_as(C01, "qa") as qa:
        with pytest.raises(InvalidTransition):
            qa.close_callback(cb["id"], {"outcome": "resolved", "note": "x"})  # not negative
        with pytest.raises(ValidationFailed) as err:
            qa.record_result(cb["id"], {"satisfaction": 9})
        assert "satisfaction" in err.value.fields
        with pytest.raises(ValidationFailed) as err:
            qa.record_result(cb["id"], {"reached": True})
        assert "satisfaction" in err.value.fields
        with pytest.raises(ValidationFailed) as err:
            qa.record_result(cb["id"], {"satisfaction": 4, "reason_codes": ["bribe"]})
        assert "reason_codes" in err.value.fields
        ok = qa.record_result(cb["id"], {"satisfaction": 5, "service_delivered": True})
        assert ok["status"] == "done"
        with pytest.raises(InvalidTransition):
            qa.record_result(cb["id"], {"satisfaction": 1})
    # a malformed event is dead-lettered, the worker stays up and the next one is planned
    from nameko.standalone.events import event_dispatcher

    event_dispatcher(qa_platform.config)("dispatch", "visit.completed", {"tenant_id": "C01", "visit_id": "bad"})
    send("dispatch", "visit.completed", visit("v-flow-3", ticket["id"], "C01-O01", now_utc()))
    wait_for(lambda: len(_callbacks(rpc_as, C01, purpose="service")) == 2, what="the next visit planned")
    eventlet.sleep(0.3)
    # the duplicate visit.completed planned nothing twice, the bad one nothing at all; the ticket's
    # second visit no second tracking call
    assert sorted(c["visit_id"] for c in _callbacks(rpc_as, C01, purpose="service")) == ["v-flow-2", "v-flow-3"]
    assert [c["visit_id"] for c in _callbacks(rpc_as, C01, purpose="tracking")] == ["v-flow-2"]
    from shared.metrics import REGISTRY

    assert REGISTRY.get_sample_value("fsm_dead_letters_total", {"service": "qa", "source": "visit.completed"}) >= 1


@pytest.fixture
def one_worker(qa_config):
    """One worker per service: the jobs are planned in the order sent, as the replay below adds
    them (largest-remainder sampling depends on the order of arrivals)."""
    qa_config["max_workers"] = 1


def test_quotas_over_the_broker(one_worker, qa_platform, rpc_as, send):
    """1,000 completed jobs of two franchised and two self-run outlets in two centers: 100% / 50% /
    20% planned exactly over each center's month and tier, each outlet within one job of its share."""
    outlets = [
        ("C01", "C01-O01", "franchised"),
        ("C01", "C01-O05", "self_run"),
        ("C02", "C02-O01", "franchised"),
        ("C02", "C02-O03", "self_run"),
    ]
    base = now_utc() - timedelta(days=1)
    counts = {}
    for i in range(1000):
        tenant, outlet, _ = outlets[(i * 3 + i // 7) % 4]
        counts[outlet] = counts.get(outlet, 0) + 1
        send(
            "dispatch",
            "visit.completed",
            visit(f"q{i:04d}", f"t{i:04d}", outlet, base + timedelta(seconds=i), tenant=tenant),
        )

    def hq_quota(tenant):
        return int(sum(counts[o] for t, o, _ in outlets if t == tenant) * 0.2 + 0.5)

    def all_planned():
        with rpc_as(HQ, "qa") as qa:
            total = qa.work_list({"status": "all", "caller": "all", "purpose": "service", "limit": 1})["total"]
        expected = sum(
            n if kind == "franchised" else int(n * 0.5 + 0.5)
            for (_, o, kind), n in ((x, counts[x[1]]) for x in outlets)
        )
        return total >= expected + hq_quota("C01") + hq_quota("C02") and total

    wait_for(all_planned, timeout=240, what="1,000 visits planned")
    with rpc_as(HQ, "qa") as qa:
        items = []
        offset = 0
        while True:
            page = qa.work_list(
                {"status": "all", "caller": "all", "purpose": "service", "limit": 1000, "offset": offset}
            )
            items += page["items"]
            offset += 1000
            if offset >= page["total"]:
                break
    for tenant in ("C01", "C02"):
        hq = [c for c in items if c["tenant_id"] == tenant and c["stratum"] == "hq"]
        assert len(hq) == hq_quota(tenant), (tenant, len(hq))
    for tenant, outlet, kind in outlets:
        n = counts[outlet]
        own = [c for c in items if c["outlet_id"] == outlet and c["stratum"] == kind]
        hq = [c for c in items if c["outlet_id"] == outlet and c["stratum"] == "hq"]
        rate = 1.0 if kind == "franchised" else 0.5
        assert abs(len(own) - n * rate) <= 0.5, (outlet, n, len(own))
        assert abs(len(hq) - n * 0.2) < 1, (outlet, n, len(hq))
        assert all(c["caller"] == "HQ" and c["mode"] == "cross" for c in hq)
        assert all(c["caller"] == tenant and c["mode"] == ("own" if kind == "franchised" else "sampled") for c in own)
        assert len({c["visit_id"] for c in own}) == len(own)
    # the same seed picks the same jobs as the domain rule replayed in the same order
    from services.qa.sampling import StratifiedSampler

    sampler = StratifiedSampler("test-seed")
    for i in range(1000):
        tenant, outlet, kind = outlets[(i * 3 + i // 7) % 4]
        period = (base + timedelta(seconds=i)).astimezone(SH).strftime("%Y-%m")
        sampler.add(f"q{i:04d}", outlet, period, kind, tenant_id=tenant)
    expected = set()
    for (stratum, _tenant, _), chosen in sampler.selected.items():
        expected |= {(stratum, v) for jobs in chosen.values() for v in jobs}
    assert {(c["stratum"], c["visit_id"]) for c in items} == expected


def test_complaints_breaches_and_scorecards(qa_platform, rpc_as, send, tap):
    published = tap("qa", "qa.scorecard_published")
    with rpc_as(C01, "intake") as intake:
        complaint = intake.register_ticket(
            dict(REPAIR, kind="complaint", serial_no="SN-QA-C1", fault="维修后再次故障, 投诉服务")
        )
        later = intake.register_ticket(dict(REPAIR, serial_no="SN-QA-C1", fault="again"))
    closed_at = now_utc() - timedelta(days=2)
    send(
        "intake",
        "ticket.closed",
        {
            "tenant_id": "C01",
            "ticket_id": complaint["id"],
            "number": complaint["number"],
            "kind": "complaint",
            "closed_at": closed_at,
            "outcome": "resolved",
            "assigned_outlet_id": "C01-O02",
        },
    )
    send(
        "intake",
        "sla.breached",
        {
            "tenant_id": "C01",
            "ticket_id": later["id"],
            "number": later["number"],
            "sla": "onsite",
            "due_at": now_utc() - timedelta(hours=3),
            "detected_at": now_utc(),
            "assigned_outlet_id": "C01-O02",
        },
    )
    # the center's own deadline on the same outlet's ticket: the center's fact, not the outlet's
    send(
        "intake",
        "sla.breached",
        {
            "tenant_id": "C01",
            "ticket_id": later["id"],
            "number": later["number"],
            "sla": "phone_reply",
            "due_at": now_utc() - timedelta(hours=2),
            "detected_at": now_utc(),
            "assigned_outlet_id": "C01-O02",
        },
    )
    # the outlet's job of the month (a month without one is not rated)
    send("dispatch", "visit.completed", visit("v-card-1", later["id"], "C01-O02", now_utc() - timedelta(hours=1)))
    # a complaint callback within three working days of the resolution (a week at most)
    cb = wait_for(lambda: _callbacks(rpc_as, C01, purpose="complaint"), what="complaint callback")[0]
    assert cb["ticket_id"] == complaint["id"] and cb["due_at"] <= (closed_at + timedelta(days=8)).isoformat()
    with rpc_as(C01, "qa") as qa:
        out = qa.classify_complaint(
            complaint["id"], {"cause": "repair_quality", "responsibility": "own", "level": "consumer_association"}
        )
        assert out["outlet_id"] == "C01-O02"
        analysis = qa.complaint_analysis({})
    assert analysis["complaints"] == 1 and analysis["by_cause"] == {"repair_quality": 1}
    assert analysis["pareto"][0]["cause"] == "repair_quality" and analysis["cycle"]["closed"] == 1
    with rpc_as(C02, "qa") as qa:
        assert qa.complaint_analysis({})["complaints"] == 0
        with pytest.raises(NotFound):
            qa.classify_complaint(complaint["id"], {"cause": "fees", "responsibility": "own"})

    month = now_utc().astimezone(SH).strftime("%Y-%m")
    wait_for(lambda: _facts(rpc_as, "C01-O02", month, "work_order_late"), what="sla.breached recorded")

    def center_facts():
        with rpc_as(C01, "qa") as qa:
            return qa.center_facts({"month": month})

    owned = wait_for(center_facts, what="the center's breach recorded")
    assert [(f["sla"], f["kind"], f["ticket_id"], f["outlet_id"]) for f in owned] == [
        ("phone_reply", "deadline_missed", later["id"], "C01-O02")
    ]
    with rpc_as(C02, "qa") as qa:
        assert qa.center_facts({"month": month}) == []
    with rpc_as(HQ, "qa") as qa:
        assert len(qa.center_facts({"month": month, "tenant_id": "C01"})) == 1
        # the outlet is charged for its visit only: one late work order, no phone reply
        assert [f["ref"] for f in qa.score_facts("C01-O02", month) if f["source"] == "sla.breached"] == [
            f"ticket:{later['number']}"
        ]
    wait_for(lambda: _callbacks(rpc_as, C01, purpose="service"), what="the job recorded")
    # the same machine came back within the re-check period (定期确认不良有无再发生): recurred
    with rpc_as(HQ, "qa") as qa:
        qa.run_recurrence_check((closed_at + timedelta(days=200)).isoformat())

    def recurred():
        with rpc_as(HQ, "qa") as qa:
            return qa.complaint_analysis({})["recurred"]

    assert wait_for(recurred, what="recurrence found")[0]["recurrence_ticket_id"] == later["id"]
    with rpc_as(HQ, "qa") as qa:
        assert qa.complaint_analysis({})["recurrence"] == {"pending": 0, "none": 0, "recurred": 1}
    with rpc_as(HQ, "qa") as qa:
        qa.record_finding({"outlet_id": "C01-O02", "kind": "praise_association", "note": "消协表扬信"})
        summary = qa.publish_scorecards({"month": month})
        assert summary["outlets"] == 36 and summary["not_rated"] == 35 and summary["grades"] == {"A": 1}
        card = qa.get_scorecard("C01-O02", month)
        ranking = qa.scorecards({"month": month})
    lines = {line["line"]: line for line in card["lines"]}
    assert lines["service_management"]["score"] == 30 - 2
    assert lines["customer_opinion"]["score"] == 25 - 5 + 3
    assert Decimal(card["score"]) == Decimal("96.0") and card["grade"] == "A" and card["stars"] == 5
    # the outlets without a job are not rated (未评) rather than 100: listed after the ranked, apart
    assert card["rated"] is True and card["rank_in_tenant"] == 1 and card["rank_nationwide"] == 1
    assert [c["outlet_id"] for c in ranking][:1] == ["C01-O02"] and len(ranking) == 36
    assert all(
        c["rated"] is False and c["score"] is None and c["grade"] is None and c["rank_nationwide"] is None
        for c in ranking[1:]
    )
    with rpc_as(HQ, "qa") as qa:
        idle = qa.get_scorecard("C01-O01", month)
    assert (idle["rated"], idle["score"], idle["stars"], idle["jobs"]) == (False, None, None, 0)
    events = wait_for(lambda: len(published.drain()) >= 1 and published.seen, what="the rated scorecard on the wire")
    eventlet.sleep(0.5)
    assert [b["outlet_id"] for _, b in published.drain()] == ["C01-O02"]  # the not rated are not published
    events = published.seen
    mine = [b for k, b in events if b["outlet_id"] == "C01-O02"][0]
    assert mine["score"] == card["score"] and mine["grade"] == card["grade"] and mine["month"] == month

    # an outlet sees its own scorecard and not another's
    me = Principal("o2", "outlet", tenant="C01", outlet="C01-O02")
    with rpc_as(me, "qa") as qa:
        assert [c["outlet_id"] for c in qa.scorecards({"month": month})] == ["C01-O02"]
        with pytest.raises(NotFound):
            qa.get_scorecard("C01-O01", month)
        with pytest.raises(Forbidden):
            qa.work_list({})
    with rpc_as(C01, "qa") as qa:
        with pytest.raises(Forbidden):
            qa.publish_scorecards({"month": month})
        assert {c["outlet_id"][:3] for c in qa.scorecards({"month": month})} == {"C01"}


def _facts(rpc_as, outlet, month, kind):
    with rpc_as(HQ, "qa") as qa:
        return [f for f in qa.score_facts(outlet, month) if f["kind"] == kind]
