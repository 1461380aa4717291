"""Every queue the services consume from is a quorum queue under the delivery-limit policy, on a
broker configured as deploy/ configures it.

The test boots a RabbitMQ node of its own (tests/chaos_broker.py; the shared broker is not
touched) with docker compose's RabbitMQ settings: deploy/rabbitmq/enabled_plugins,
20-fsm.conf and definitions.json (the guest user, vhost "/" and the policy, which
tests/unit/test_deploy_manifests.py holds equal to k8s/rabbitmq.yaml's). All seven services
start on it with QUEUE_TYPE=quorum, as both deployments set it, and declare their queues; the
broker then says which are quorum and which policy applies to each. The node is the
machine's RabbitMQ (3.10 here); the deployments run 4.2, where quorum queues, policies and
the delivery limit work the same way.
"""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest
import requests
from kombu import Connection
from kombu.entity import Queue

from fsm.common import service_classes
from tests.chaos_broker import ChaosBroker
from tests.conftest import SERVICES, wait_for
from tests.paths import REPO

RABBITMQ_DIR = REPO / "deploy" / "rabbitmq"
REPLY_PREFIX = "rpc.reply-"
DEAD_LETTER_SUFFIX = ".dead-letter"


def compose_policy() -> dict:
    (policy,) = json.loads((RABBITMQ_DIR / "definitions.json").read_text(encoding="utf-8"))["policies"]
    return policy


@pytest.fixture(scope="module")
def node():
    plugins = re.findall(r"[a-z_]+", (RABBITMQ_DIR / "enabled_plugins").read_text(encoding="utf-8"))
    broker = ChaosBroker(plugins=tuple(plugins))
    definitions = broker.base / "definitions.json"
    shutil.copy(RABBITMQ_DIR / "definitions.json", definitions)
    conf = (RABBITMQ_DIR / "20-fsm.conf").read_text(encoding="utf-8")
    assert "/etc/rabbitmq/definitions.json" in conf
    broker.extra_conf = conf.replace("/etc/rabbitmq/definitions.json", str(definitions))
    with broker:
        wait_for(lambda: _get(broker, "/api/overview", check=False), timeout=60, what="management API")
        yield broker


def _get(broker: ChaosBroker, path: str, check: bool = True):
    try:
        answer = requests.get(f"http://127.0.0.1:{broker.management_port}{path}", auth=("guest", "guest"), timeout=5)
    except requests.ConnectionError:
        if check:
            raise
        return None
    if check:
        answer.raise_for_status()
    return answer.json() if answer.ok else None


def queues(broker: ChaosBroker) -> dict[str, dict]:
    return {q["name"]: q for q in _get(broker, "/api/queues/%2F")}


def test_the_node_imports_guest_and_the_policy(node):
    """definitions.json replaces the default user: guest still logs in (AMQP), and the policy is there."""
    with Connection(node.uri) as conn:
        conn.connect()
    (policy,) = _get(node, "/api/policies")
    assert policy == compose_policy()


@pytest.fixture
def topology_config(service_config, node):
    return dict(service_config, AMQP_URI=node.uri, QUEUE_TYPE="quorum")


def test_every_queue_is_quorum_under_the_delivery_limit(node, runner_factory, topology_config):
    policy = compose_policy()
    limit = policy["definition"]["delivery-limit"]
    classes = service_classes(strict=True)
    assert len(classes) == len(SERVICES)  # every service of tests/conftest.py
    runner = runner_factory(topology_config, *classes)
    runner.start()

    def all_declared():
        # the policy fields come with the queue's statistics, emitted every few seconds
        found = queues(node)
        reported = all(q.get("effective_policy_definition") is not None for q in found.values())
        return found if reported and {"intake.bridge-requests", "parts.receipts"} <= set(found) else None

    declared = wait_for(all_declared, what="the services' queues")
    names = set(declared)
    assert {f"rpc-{c.name}" for c in classes if c.name != "gateway"} <= names
    assert any(n.startswith("evt-") for n in names)
    assert {f"{c.name}{DEAD_LETTER_SUFFIX}" for c in classes if c.name != "gateway"} & names

    wrong = []
    for name, queue in sorted(declared.items()):
        if name.startswith(REPLY_PREFIX) or name.endswith(DEAD_LETTER_SUFFIX):
            expected = ("classic", None, None)
        else:
            expected = ("quorum", policy["name"], limit)
        got = (
            queue.get("type"),
            queue.get("policy") or None,
            (queue.get("effective_policy_definition") or {}).get("delivery-limit"),
        )
        if got != expected:
            wrong.append(f"{name}: {got}, expected {expected}")
    assert wrong == []

    # a restart declares every queue again, now that they exist under the policy: no 406
    runner.stop()
    again = runner_factory(topology_config, *classes)
    again.start()
    assert set(queues(node)) >= names - {n for n in names if n.startswith(REPLY_PREFIX)}
    again.stop()


def test_a_message_handed_back_too_often_is_dead_lettered(node, runner_factory, topology_config):
    """The policy's delivery limit with the code's dead-letter exchange: a receipt that every
    consumer hands back goes to parts.dead-letter instead of going round forever."""
    from services.parts.service import PartsService

    limit = compose_policy()["definition"]["delivery-limit"]
    runner = runner_factory(topology_config, PartsService)
    runner.start()
    runner.stop()  # the queues stay (durable); no consumer takes the message from us now
    assert queues(node)["parts.receipts"]["type"] == "quorum"

    deliveries = 0
    with Connection(node.uri) as conn:
        channel = conn.channel()
        producer = conn.Producer(channel)
        producer.publish({"poison": True}, routing_key="parts.receipts", serializer="json", message_id="poison-1")
        receipts = Queue("parts.receipts", channel=channel, no_declare=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = receipts.get(no_ack=False)
            if message is None:
                if queues(node)["parts.dead-letter"].get("messages"):  # absent until the first statistics
                    break
                time.sleep(0.1)
                continue
            deliveries += 1
            message.requeue()
        assert deliveries == limit + 1, deliveries
        dead = Queue("parts.dead-letter", channel=channel, no_declare=True).get(no_ack=False)
        assert dead is not None and dead.properties["message_id"] == "poison-1"
        (death,) = dead.headers["x-death"]
        assert (death["queue"], death["reason"]) == ("parts.receipts", "delivery_limit")
        dead.ack()
