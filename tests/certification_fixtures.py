"""Fixtures and helpers of the certification tests: the service (with the gateway, and with
dispatch where the test needs it), principals with the certification duties, a complete
registration form, and driving an outlet to any state through the real RPC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from nameko.standalone.events import event_dispatcher

from shared import clock
from shared import events as catalogue
from shared.tenancy import Principal
from tests.conftest import C01, C02, HQ, Platform, wait_for

C01_TECH = Principal("c01-tech-lead", "center", tenant="C01", duty="technical_lead")
C02_TECH = Principal("c02-tech-lead", "center", tenant="C02", duty="technical_lead")
HQ_TECH = Principal("hq-tech-lead", "hq", duty="technical_lead")
HEAD = Principal("hq-service-head", "hq", duty="service_head")
NEW_OUTLET = "C01-O08"
O8 = Principal("o8-principal", "outlet", tenant="C01", outlet=NEW_OUTLET)


def cert_config(config, **extra):
    config = dict(config)
    config.setdefault("CERTIFICATION_CHECK_SECONDS", 3600)
    config.update(extra)
    return config


@pytest.fixture(autouse=True)
def reset_clock():
    yield
    clock.reset()


@pytest.fixture
def cert_platform(runner_factory, service_config):
    """certification + gateway."""
    from services.certification.service import CertificationService
    from services.gateway.service import GatewayService

    config = cert_config(service_config)
    runner = runner_factory(config, CertificationService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def tenants_file_with(tmp_path, outlet_id=NEW_OUTLET):
    """The tenants file plus the outlet under application, so dispatch accepts its technicians
    (the directory is where dispatch learns which outlets exist; certification seeds only the
    effective/probation ones of it)."""
    from shared.tenants import DEFAULT_FILE

    doc = yaml.safe_load(open(DEFAULT_FILE, encoding="utf-8"))
    doc["outlets"].append(
        {
            "id": outlet_id,
            "name": "武汉新立特约服务站",
            "province": "湖北省",
            "city": "武汉市",
            "district": "洪山区",
            "adcode": "420111",
            "address": "湖北省武汉市洪山区珞喻路88号",
            "lat": 30.52,
            "lon": 114.40,
            "center": "C01",
            "kind": "franchised",
            "grade": None,
            "status": "applied",
        }
    )
    path = tmp_path / "tenants.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return str(path)


@pytest.fixture
def cert_dispatch_platform(runner_factory, dispatch_config, tmp_path):
    """certification + dispatch + intake + gateway; the planner plans only when asked."""
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = cert_config(dispatch_config, DISPATCH_BATCH_SECONDS=3600, TENANTS_FILE=tenants_file_with(tmp_path))
    runner = runner_factory(config, CertificationService, DispatchService, IntakeService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def form(**overrides):
    """A complete registration form (网点情况登记表)."""
    body = {
        "name": "武汉新立特约服务站",
        "kind": "franchised",
        "legal_entity": "武汉新立机电设备维修有限公司",
        "licence_no": "91420111MA4K2XY81P",
        "bank_account": {
            "bank": "中国工商银行武汉洪山支行",
            "account_no": "3202004509100012345",
            "holder": "武汉新立机电设备维修有限公司",
        },
        "premises": {"address": "湖北省武汉市洪山区珞喻路88号", "office_m2": 80, "workshop_m2": 300, "owned": False},
        "equipment": ["激光对中仪", "数控系统诊断仪", "5吨叉车", "服务车 鄂A-3K821"],
        "staff": [
            {"name": "陈建国", "position": "manager", "qualification": "机械工程师"},
            {
                "name": "刘强",
                "position": "technician",
                "qualification": "数控维修高级工",
                "product_lines": ["数控车床"],
            },
            {
                "name": "王海",
                "position": "technician",
                "qualification": "数控维修中级工",
                "product_lines": ["数控车床", "立式加工中心"],
            },
            {"name": "赵敏", "position": "settlement"},
        ],
        "product_lines": ["数控车床", "立式加工中心"],
        "province": "湖北省",
        "city": "武汉市",
        "district": "洪山区",
        "lat": 30.52,
        "lon": 114.40,
        "attachments": ["scan://licence/91420111MA4K2XY81P.pdf"],
    }
    body.update(overrides)
    return body


INSPECTION = {
    "inspected_on": "2026-11-20",
    "inspector": "武汉中心 李工",
    "premises_ok": True,
    "equipment_ok": True,
    "staff_ok": True,
    "findings": "场地整洁, 设备齐全",
}


def back_dated_agreement(days=100):
    """An agreement signed on paper `days` ago (so its 3-month probation is over today)."""
    start = (datetime.now(UTC) - timedelta(days=days)).date()
    return {
        "number": "XY-C01-O08-2026",
        "valid_from": start.isoformat(),
        "terms": "特约服务协议 2026 版",
        "job_limit": 3,
    }


# the legal path to every state: (action, principal, body)
PATH = [
    ("center_review", C01, {"decision": "pass", "inspection": INSPECTION}),
    ("technical_review", C01_TECH, {"decision": "pass"}),
    ("head_approval", HEAD, {"decision": "pass"}),
    ("issue_agreement", C01, {"agreement": back_dated_agreement()}),
    ("assess_probation", C01, {"result": "passed", "assessment": {"score": "88", "findings": "合格"}}),
    ("request_revocation", C01, {"revocation": {"reason_code": "complaints", "details": "三个月内投诉 5 起"}}),
    ("revocation_center_review", C01, {"decision": "pass"}),
    ("revocation_technical_review", C01_TECH, {"decision": "pass"}),
    ("revocation_approval", HEAD, {"decision": "pass"}),
]
STATE_AFTER = [
    "applied",
    "center_reviewed",
    "technical_reviewed",
    "approved",
    "probation",
    "effective",
    "revocation_requested",
    "revocation_center_reviewed",
    "revocation_technical_reviewed",
    "revoking",
]


def step(rpc, outlet_id, action, **body):
    return rpc.outlet_step(outlet_id, dict(body, action=action))


def drive(rpc_as, outlet_id, state, staff=None):
    """A center applies for `outlet_id`, then the legal steps bring it to `state`."""
    with rpc_as(C01, "certification") as cert:
        out = cert.apply_outlet(form(outlet_id=outlet_id, staff=staff or [{"name": "员工", "position": "manager"}]))
    if state == "rejected":
        with rpc_as(C01, "certification") as cert:
            return step(
                cert, outlet_id, "center_review", decision="reject", inspection=INSPECTION, reason="场地不符合要求"
            )
    if state == "suspended":
        steps_to(rpc_as, outlet_id, "effective")
        with rpc_as(C01, "certification") as cert:
            return step(cert, outlet_id, "suspend", reason="旺季拒单")
    if state == "revoked":
        raise ValueError("revoked needs settlement's answer: drive to revoking and publish account.cleared")
    out = steps_to(rpc_as, outlet_id, state) or out
    assert out["status"] == state, out
    return out


def steps_to(rpc_as, outlet_id, state, start="applied"):
    out = None
    for action, principal, body in PATH[STATE_AFTER.index(start) : STATE_AFTER.index(state)]:
        with rpc_as(principal, "certification") as cert:
            out = step(cert, outlet_id, action, **body)
    return out


def publish_settlement(config, event_type, payload):
    """Settlement's answer as settlement would publish it (schema-checked), from outside."""
    body = catalogue.dump(event_type, payload)
    event_dispatcher(config)("settlement", event_type, body)


def answer_clearing(config, outlet, cleared=True, open_items=None):
    publish_settlement(
        config,
        "account.cleared" if cleared else "account.open_items",
        {
            "tenant_id": outlet["tenant_id"],
            "outlet_id": outlet["id"],
            "request_id": outlet["clearing_request_id"],
            "open_items": open_items or [],
            "at": datetime.now(UTC),
        },
    )


class EventTap:
    """A private queue on certification.events: what certification published."""

    def __init__(self, config, source="certification"):
        from kombu import Connection, Exchange, Queue

        self.conn = Connection(config["AMQP_URI"])
        exchange = Exchange(f"{source}.events", type="topic", durable=True)
        self.queue = Queue(
            f"cert-test-tap-{id(self)}", exchange=exchange, routing_key="#", exclusive=True, auto_delete=True
        )
        self.bound = self.queue(self.conn.channel())
        self.bound.declare()
        self.events = []

    def drain(self):
        import json

        while True:
            msg = self.bound.get(no_ack=True)
            if msg is None:
                return self.events
            body = msg.body if isinstance(msg.body, str) else msg.body.decode("utf-8")
            self.events.append((msg.delivery_info["routing_key"], json.loads(body)))

    def wait(self, event_type, pred=lambda p: True, timeout=15):
        def found():
            self.drain()
            return [p for t, p in self.events if t == event_type and pred(p)]

        return wait_for(found, timeout=timeout, what=f"{event_type} published")

    def close(self):
        self.conn.release()


@pytest.fixture
def tap(service_config):
    t = EventTap(service_config)
    yield t
    t.close()


__all__ = [
    "reset_clock",
    "C01",
    "C02",
    "HQ",
    "C01_TECH",
    "C02_TECH",
    "HQ_TECH",
    "HEAD",
    "O8",
    "NEW_OUTLET",
    "cert_platform",
    "cert_dispatch_platform",
    "form",
    "INSPECTION",
    "back_dated_agreement",
    "drive",
    "step",
    "publish_settlement",
    "answer_clearing",
    "steps_to",
    "tap",
    "wait_for",
    "STATE_AFTER",
    "PATH",
]
