"""Chaos: the broker goes away under load, a service is killed mid-burst. Nothing is lost,
nothing is created twice, and nothing needs a person to restart it.

Every service runs as an operator runs it (`nameko run` processes) against a RabbitMQ node
of this test's own (tests/chaos_broker.py), which the test stops and starts; the shared
broker is never touched. The client is what a well-behaved API client does: one
Idempotency-Key per ticket, retrying 503s and connection errors.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter

import pytest
import requests

from shared.tenancy import Principal
from tests.chaos_broker import ChaosBroker
from tests.processes import ServiceProcesses

pytestmark = pytest.mark.chaos

ALL = ["intake", "dispatch", "parts", "settlement", "certification", "qa", "gateway"]
HQ = Principal("hq-chaos", "hq")
CENTERS = [Principal("wuhan-chaos", "center", tenant="C01"), Principal("jinan-chaos", "center", tenant="C02")]
ADDRESSES = ["湖北省武汉市洪山区珞喻路1号", "山东省济南市历下区泉城路1号"]


@pytest.fixture
def broker():
    with ChaosBroker() as node:
        yield node


class Client:
    """Registers tickets through the gateway, each with its own Idempotency-Key, retrying
    what a client should retry until it gets its 201 (or gives up after `patience` s)."""

    def __init__(self, procs: ServiceProcesses, patience=150):
        self.procs = procs
        self.patience = patience
        self.base = procs.url("gateway", "")
        self.results: dict[int, dict] = {}
        self.answers = Counter()
        self.lock = threading.Lock()
        self.tokens = {p.tenant: procs.token(p) for p in CENTERS}

    def register(self, i: int):
        center = CENTERS[i % 2]
        key = f"chaos-{uuid.uuid4().hex}"
        body = {
            "kind": "repair",
            "channel": "hotline",
            "customer_name": f"混沌客户{i}",
            "phone": f"1380000{i:04d}",
            "address": ADDRESSES[i % 2],
            "product_line": "数控车床",
            "purchase_date": "2025-06-01",
            "fault": "无法启动",
        }
        headers = {"Authorization": f"Bearer {self.tokens[center.tenant]}", "Idempotency-Key": key}
        deadline = time.monotonic() + self.patience
        attempts = 0
        while time.monotonic() < deadline:
            attempts += 1
            started = time.monotonic()
            try:
                r = requests.post(self.base + "/api/v1/tickets", json=body, headers=headers, timeout=30)
                answer = r.status_code
            except requests.RequestException as exc:
                r, answer = None, type(exc).__name__
            with self.lock:
                self.answers[answer] += 1
                if answer == 503:
                    self.answers["503 within 5 s" if time.monotonic() - started <= 5.5 else "503 slower"] += 1
                    assert r.headers.get("Retry-After"), "503 without Retry-After"
                    assert r.json()["error"]["code"] == "service_unavailable"
            if answer == 201:
                with self.lock:
                    self.results[i] = {"id": r.json()["id"], "attempts": attempts, "at": time.monotonic()}
                return
            if isinstance(answer, int) and answer not in (503, 409, 502, 504):
                raise AssertionError(f"ticket {i}: {answer} {r.text[:300]}")
            time.sleep(1.0)
        with self.lock:
            self.results[i] = {"id": None, "attempts": attempts}

    def run(self, n: int, rate: float, on_sent=None):
        threads = []
        for i in range(n):
            if on_sent:
                on_sent(i)
            t = threading.Thread(target=self.register, args=(i,), daemon=True)
            t.start()
            threads.append(t)
            time.sleep(1.0 / rate)
        for t in threads:
            t.join(self.patience + 60)


def _quiet(procs: ServiceProcesses, tickets: int, timeout=180):
    """Wait until every service is ready, every outbox is sent and dispatch has a visit for
    each ticket; returns the figures seen last."""
    deadline = time.monotonic() + timeout
    figures = {}
    while time.monotonic() < deadline:
        ready = {s: procs.ready(s) for s in ALL}
        unsent = {
            s: procs.scalar(s, "SELECT count(*) FROM outbox WHERE published_at IS NULL") for s in ALL if s != "gateway"
        }
        visits = procs.scalar("dispatch", "SELECT count(DISTINCT ticket_id) FROM visits")
        figures = {"ready": ready, "unsent": unsent, "visits": visits}
        if all(ready.values()) and not any(unsent.values()) and visits >= tickets:
            return figures
        time.sleep(1)
    raise AssertionError(f"the platform did not settle within {timeout} s: {figures}")


def _assert_exactly_once(procs: ServiceProcesses, client: Client, n: int, broker: ChaosBroker):
    ids = [r["id"] for r in client.results.values()]
    lost = [i for i, r in client.results.items() if r["id"] is None]
    assert not lost, f"tickets never registered: {lost}; answers {client.answers}"
    assert len(ids) == n and len(set(ids)) == n
    stored = [row[0] for row in procs.db("intake").execute("SELECT id FROM tickets")]
    assert len(stored) == n, f"{len(stored)} tickets stored for {n} sent ({len(stored) - n} extra)"
    assert set(stored) == set(ids)
    # through the API too: what HQ sees is what was sent
    total = requests.get(
        procs.url("gateway", "/api/v1/tickets?limit=1"),
        headers={"Authorization": f"Bearer {procs.token(HQ)}"},
        timeout=15,
    ).json()["total"]
    assert total == n
    per_ticket = (
        procs.db("dispatch")
        .execute("SELECT ticket_id, count(*) FROM visits GROUP BY ticket_id HAVING count(*) <> 1")
        .fetchall()
    )
    assert per_ticket == [], f"tickets without exactly one visit: {per_ticket[:5]}"
    dead = {q: d for q, d in broker.queue_depths().items() if q.endswith(".dead-letter") and d}
    assert dead == {}, f"dead letters: {dead}"


def test_broker_stopped_for_20_s_under_load(broker, tmp_path):
    procs = ServiceProcesses(
        broker.uri, tmp_path, DISPATCH_TIME_LIMIT=1.0, DISPATCH_BATCH_SECONDS=1.0, RPC_TIMEOUT_SECONDS=10
    )
    procs.start("platform", ALL)
    try:
        procs.wait_ready(ALL)
        pid = procs.process("platform").pid
        client = Client(procs)
        outage = {}

        def outage_at(i):
            if i == 50:

                def run():
                    outage["stopped"] = time.monotonic()
                    broker.stop_app()
                    time.sleep(5)
                    outage["ready_during"] = {s: procs.ready(s) for s in ("intake", "gateway")}
                    time.sleep(15)
                    broker.start_app()
                    outage["started"] = time.monotonic()

                threading.Thread(target=run, daemon=True).start()

        client.run(200, rate=5.0, on_sent=outage_at)
        figures = _quiet(procs, 200)

        assert procs.process("platform").poll() is None and procs.process("platform").pid == pid, (
            "the service process died or was restarted"
        )
        _assert_exactly_once(procs, client, 200, broker)
        assert client.answers.get(500, 0) == 0, client.answers
        assert outage["ready_during"] == {"intake": False, "gateway": False}, "ready while the broker was away"
        assert client.answers.get("503 slower", 0) == 0, f"503s slower than 5 s: {client.answers}"
        after = [r["at"] for r in client.results.values() if r["at"] > outage["started"]]
        recovered = min(after) - outage["started"] if after else None
        report = {
            "sent": 200,
            "stored": procs.scalar("intake", "SELECT count(*) FROM tickets"),
            "duplicated": 0,
            "lost": 0,
            "recovered_s": round(recovered, 1) if recovered else None,
            "answers": {str(k): v for k, v in client.answers.items()},
            "retried_tickets": sum(1 for r in client.results.values() if r["attempts"] > 1),
            "unsent_outbox": figures["unsent"],
        }
        # and it still stops when asked (it used to hang in "stopping services" after an outage)
        report["sigterm_stop_s"] = round(procs.terminate("platform"), 1)
        print("CHAOS broker outage:", json.dumps(report, ensure_ascii=False))
        (tmp_path / "report.json").write_text(json.dumps(report))
    except BaseException:
        print(procs.log_tail("platform", 6000))
        raise
    finally:
        procs.stop_all()


def test_intake_killed_mid_burst(broker, tmp_path):
    procs = ServiceProcesses(
        broker.uri, tmp_path, DISPATCH_TIME_LIMIT=1.0, DISPATCH_BATCH_SECONDS=1.0, RPC_TIMEOUT_SECONDS=5
    )
    procs.start("intake", ["intake"])
    procs.start("others", [s for s in ALL if s != "intake"])
    try:
        procs.wait_ready(ALL)
        client = Client(procs)
        killed = {}

        def kill_at(i):
            if i == 30:
                procs.kill9("intake")
                killed["at"] = time.monotonic()
            if i == 45:  # 3 s later, as a supervisor would
                procs.start("intake", ["intake"])

        client.run(80, rate=5.0, on_sent=kill_at)
        _quiet(procs, 80)
        _assert_exactly_once(procs, client, 80, broker)
        assert client.answers.get(500, 0) == 0, client.answers
        print(
            "CHAOS intake kill -9:",
            json.dumps(
                {
                    "sent": 80,
                    "stored": 80,
                    "duplicated": 0,
                    "lost": 0,
                    "answers": {str(k): v for k, v in client.answers.items()},
                }
            ),
        )
    except BaseException:
        print(procs.log_tail("intake", 4000))
        print(procs.log_tail("others", 4000))
        raise
    finally:
        procs.stop_all()
