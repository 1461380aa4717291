"""Exactly-once effects of creating calls: Idempotency-Key at the gateway, RPC requests
recorded with their work, expired requests not run, 503 instead of hangs."""

from __future__ import annotations

import time
import uuid

import pytest
from kombu import Connection, Exchange, Producer, Queue

from tests.conftest import C01, C02, HQ

REQUEST = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉某公司",
    "phone": "13800000000",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}


def _count(platform, principal=HQ):
    return platform.get("/api/v1/tickets?limit=1", principal).json()["total"]


def test_same_key_same_body_returns_the_first_answer_and_creates_once(platform):
    key = uuid.uuid4().hex
    first = platform.post("/api/v1/tickets", C01, json=REQUEST, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    again = platform.post("/api/v1/tickets", C01, json=REQUEST, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert _count(platform) == 1
    # another key, or none, is another request
    other = platform.post("/api/v1/tickets", C01, json=REQUEST, headers={"Idempotency-Key": uuid.uuid4().hex})
    plain = platform.post("/api/v1/tickets", C01, json=REQUEST)
    assert other.json()["id"] != first.json()["id"] and plain.json()["id"] not in (
        first.json()["id"],
        other.json()["id"],
    )
    assert _count(platform) == 3


def test_same_key_other_body_is_409_naming_the_header(platform):
    key = uuid.uuid4().hex
    assert platform.post("/api/v1/tickets", C01, json=REQUEST, headers={"Idempotency-Key": key}).status_code == 201
    r = platform.post("/api/v1/tickets", C01, json=dict(REQUEST, fault="漏油"), headers={"Idempotency-Key": key})
    assert r.status_code == 409, r.text
    assert "Idempotency-Key" in r.json()["error"]["fields"]
    assert _count(platform) == 1


def test_keys_are_per_user(platform):
    key = uuid.uuid4().hex
    a = platform.post("/api/v1/tickets", C01, json=REQUEST, headers={"Idempotency-Key": key})
    b = platform.post(
        "/api/v1/tickets",
        C02,
        json=dict(REQUEST, address="山东省济南市历下区泉城路1号"),
        headers={"Idempotency-Key": key},
    )
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_a_transition_with_a_key_is_applied_once(platform):
    ticket = platform.post("/api/v1/tickets", C01, json=REQUEST).json()
    key = uuid.uuid4().hex
    first = platform.post(
        f"/api/v1/tickets/{ticket['id']}/transitions", C01, json={"action": "accept"}, headers={"Idempotency-Key": key}
    )
    assert first.status_code == 200, first.text
    # without the key, accepting twice is an invalid transition; with it, the first answer comes back
    again = platform.post(
        f"/api/v1/tickets/{ticket['id']}/transitions", C01, json={"action": "accept"}, headers={"Idempotency-Key": key}
    )
    assert again.status_code == 200 and again.json() == first.json()
    plain = platform.post(f"/api/v1/tickets/{ticket['id']}/transitions", C01, json={"action": "accept"})
    assert plain.status_code == 409


@pytest.mark.parametrize("key", ["", "x" * 201, "ключ", "a\tb"])
def test_a_malformed_key_is_400_naming_the_header(platform, key):
    r = platform.post("/api/v1/tickets", C01, json=REQUEST, headers={"Idempotency-Key": key.encode("utf-8")})
    assert r.status_code == 400, r.text
    assert "Idempotency-Key" in r.json()["error"]["fields"]
    assert _count(platform) == 0


def _raw_rpc(config, method, args, headers, expect_reply=True, timeout=15):
    """Publish an RPC request as nameko does, with our own headers; returns the reply body."""
    with Connection(config["AMQP_URI"]) as conn:
        channel = conn.channel()
        reply_queue = Queue(
            f"test-reply-{uuid.uuid4().hex[:8]}",
            exchange=Exchange("nameko-rpc", "topic", durable=True),
            routing_key=uuid.uuid4().hex,
            exclusive=True,
            auto_delete=True,
        )
        reply_queue(channel).declare()
        replies = []
        consumer = conn.Consumer(
            reply_queue, callbacks=[lambda body, msg: (replies.append(body), msg.ack())], accept=["json"]
        )
        consumer.consume()
        Producer(channel).publish(
            {"args": args, "kwargs": {}},
            exchange="nameko-rpc",
            routing_key=f"intake.{method}",
            reply_to=reply_queue.routing_key,
            correlation_id=uuid.uuid4().hex,
            serializer="json",
            headers={f"nameko.{k}": v for k, v in headers.items()},
            delivery_mode=2,
        )
        deadline = time.monotonic() + timeout
        while expect_reply and not replies and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=0.5)
            except TimeoutError:
                pass
            except Exception as exc:  # socket.timeout on some kombu versions
                if "timed out" not in str(exc):
                    raise
        return replies[0] if replies else None


def test_a_redelivered_rpc_request_creates_nothing_twice(platform):
    """The same request (same id) delivered again, as after a crash between commit and ack,
    is answered from its record; another id is another ticket."""
    headers = {"principal": C01.encode(), "rpc_request_id": f"redelivery-{uuid.uuid4().hex}|intake.register_ticket|1"}
    first = _raw_rpc(platform.config, "register_ticket", [REQUEST], headers)
    second = _raw_rpc(platform.config, "register_ticket", [REQUEST], headers)
    assert first["error"] is None, first
    assert second == first
    assert _count(platform) == 1


def test_a_request_whose_caller_gave_up_is_not_run(platform):
    headers = {
        "principal": C01.encode(),
        "rpc_deadline": time.time() - 1,
        "rpc_request_id": f"late-{uuid.uuid4().hex}|intake.register_ticket|1",
    }
    assert _raw_rpc(platform.config, "register_ticket", [REQUEST], headers, expect_reply=False, timeout=3) is None
    time.sleep(1)
    assert _count(platform) == 0
    # the same request in time is run
    headers["rpc_deadline"] = time.time() + 30
    assert _raw_rpc(platform.config, "register_ticket", [REQUEST], headers)["error"] is None
    assert _count(platform) == 1


def test_a_stopped_service_is_503_with_retry_after_at_once(platform):
    """Dispatch is not running in this platform: its routes answer 503 at once, not after a hang."""
    started = time.monotonic()
    r = platform.get("/api/v1/dispatch/board", C01)
    assert r.status_code == 503, r.text
    assert time.monotonic() - started < 5
    assert int(r.headers["Retry-After"]) > 0
    assert r.json()["error"]["code"] == "service_unavailable"


def test_readiness_reports_database_and_broker(platform):
    import requests

    from tests.conftest import http_port_of

    for name in ("gateway", "intake"):
        port = http_port_of(platform.containers[name])
        live = requests.get(f"http://127.0.0.1:{port}/health/live", timeout=5)
        ready = requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=5)
        assert live.status_code == 200
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["broker"]["ok"] is True
    intake_ready = requests.get(
        f"http://127.0.0.1:{http_port_of(platform.containers['intake'])}/health/ready", timeout=5
    ).json()
    assert intake_ready["checks"]["database"] == {"ok": True, "detail": "sqlite"}
