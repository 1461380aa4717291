"""Bad input anywhere gets a clear error naming the field, changes nothing, never kills a worker.

One platform (all seven services on one vhost, SQLite files) for the whole module. The HTTP
sweep walks every route the gateway declares (`services.gateway.api.ROUTES`, the OpenAPI
document) and sends garbage derived from the route's own body/query schema; the event part
publishes malformed events the services consume and checks they land in each consumer's
`<service>.dead-letter` queue while a good event afterwards is still handled.
Each part collects its failures and asserts the list is empty, so one run shows all of them.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pytest
from kombu import Connection
from marshmallow import fields as mf
from marshmallow import validate as mv
from nameko.runners import ServiceRunner
from nameko.standalone.events import event_dispatcher

from shared import events as catalogue
from shared import metrics, tenancy
from shared.messaging import dead_letter_names
from shared.tenancy import Principal
from tests.conftest import C01, HQ, SERVICES, Platform, http_port_of, wait_for

UTC = UTC
HQ_LEAD = Principal("hq-lead", "hq", duty="technical_lead")
OUTLET = Principal("o1-clerk", "outlet", tenant="C01", outlet="C01-O01")
ERROR_STATUSES = {400, 404, 409, 422}
MISSING = "zz-no-such-id-0000"

REQUEST = {
    "kind": "repair",
    "channel": "web",
    "customer_name": "武汉坏输入测试公司",
    "phone": "13800002222",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}

# A route whose role check would otherwise answer 403 before any validation: who may call it.
PRINCIPAL_FOR = {
    ("POST", "/api/v1/outlets"): C01,
    ("GET", "/api/v1/outlet/jobs"): OUTLET,
    ("GET", "/api/v1/outlet/file"): OUTLET,
}
# routes whose body is optional: an empty body is a legitimate request, not garbage
EMPTY_BODY_OK = {("POST", "/api/v1/dispatch/reoptimise")}


# ---------------------------------------------------------------- one platform for the module
@pytest.fixture(scope="module")
def bad_platform(request, vhost_pipeline, tmp_path_factory):
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.notify.service import NotifyService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    amqp = urlparse(request.config.getoption("RABBIT_AMQP_URI"))
    tmp = tmp_path_factory.mktemp("bad-input")
    with ExitStack() as stack:
        vhost = stack.enter_context(vhost_pipeline.get())
        config = {
            "AMQP_URI": f"{amqp.scheme}://{amqp.netloc}/{vhost}",
            "vhost": vhost,
            "username": amqp.username,
            "DATABASES": {name: f"sqlite:///{tmp}/{name}.db" for name in SERVICES},
            "HTTP_PORTS": {name: 0 for name in SERVICES},
            "HTTP_HOST": "127.0.0.1",
            "OUTBOX_POLL_SECONDS": 0.2,
            "AUTH_SECRET": "test-secret-of-at-least-thirty-two-bytes",
            "max_workers": 10,
            "DISPATCH_TIME_LIMIT": 1.0,
            "DISPATCH_BATCH_SECONDS": 3600,
            "CERTIFICATION_CHECK_SECONDS": 3600,
            "PARTS_OVERDUE_CHECK_SECONDS": 3600,
            "QA_AUTO_MONTHLY": "false",
            "QA_SAMPLE_SEED": "test-seed",
        }
        runner = ServiceRunner(config)
        for cls in (
            IntakeService,
            DispatchService,
            CertificationService,
            PartsService,
            SettlementService,
            QaService,
            NotifyService,
            GatewayService,
        ):
            runner.add_service(cls)
        runner.start()
        try:
            yield Platform(runner, config)
        finally:
            runner.kill()


# ---------------------------------------------------------------- helpers
def _error_shape(r):
    """None if `r` carries the one error shape, else what is wrong with it."""
    try:
        body = r.json()
    except ValueError:
        return f"body is not JSON: {r.text[:120]!r}"
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return f"no 'error' object: {r.text[:160]}"
    if not isinstance(err.get("code"), str) or not isinstance(err.get("message"), str):
        return f"error without code/message: {err}"
    if not err.get("call_id"):
        return f"error without call_id: {err}"
    if "fields" in err and not isinstance(err["fields"], dict):
        return f"error fields is not an object: {err}"
    return None


def _fields(r):
    try:
        return r.json()["error"].get("fields") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def wrong_values(field):
    """Values the field must refuse: one of the wrong type, and out-of-range / bad choice where declared."""
    out = []
    if isinstance(field, (mf.Nested, mf.Dict, mf.Mapping)):
        out.append("not-an-object")
    elif isinstance(field, (mf.List, mf.Tuple)):
        out.append("not-a-list")
    elif isinstance(field, mf.Boolean):
        out.append("maybe")
    elif isinstance(field, (mf.Number, mf.Decimal)):
        out.append("abc")
    elif isinstance(field, (mf.DateTime, mf.Date, mf.Time, mf.TimeDelta)):
        out.append("not-a-date")
    elif isinstance(field, mf.UUID):
        out.append("not-a-uuid")
    elif isinstance(field, mf.Enum):
        out.append("no-such-member")
    elif isinstance(field, mf.String):
        out.append(12345)
    for v in field.validators:
        if isinstance(v, mv.OneOf):
            out.append("no-such-choice")
        elif isinstance(v, mv.Range):
            if v.min is not None:
                out.append(v.min - 1 if isinstance(v.min, int) else float(v.min) - 1)
            elif v.max is not None:
                out.append(v.max + 1 if isinstance(v.max, int) else float(v.max) + 1)
        elif isinstance(v, mv.Length):
            if v.max is not None:
                out.append(["x"] * (v.max + 1) if isinstance(field, mf.List) else "x" * (v.max + 1))
            elif v.min:
                out.append([] if isinstance(field, mf.List) else "")
        elif isinstance(v, mv.Regexp):
            out.append("!!bad value!!")
    return out


def _nested_wrongs(field):
    """(sub-field, wrong value, wrapper) one level down: {name: {sub: wrong}} or {name: [{sub: wrong}]}."""
    many = False
    if isinstance(field, mf.List) and isinstance(field.inner, mf.Nested):
        field, many = field.inner, True
    if not isinstance(field, mf.Nested):
        return []
    many = many or bool(field.many)
    try:
        sub_fields = _schema_fields(field.schema)
    except Exception:  # noqa: BLE001 (a lambda/str-referenced schema we cannot build here)
        return []
    wrap = (lambda v, k=None: [v]) if many else (lambda v: v)
    out = []
    for sub, f in sub_fields.items():
        values = wrong_values(f)
        if values:
            out.append((sub, values[0], (lambda s_: lambda v: wrap({s_: v}))(sub)))
    return out


def query_wrong_values(field):
    """Query strings the field must refuse (everything arrives as text; plain strings can only be too long)."""
    out = []
    if isinstance(field, mf.Boolean):
        out.append("maybe")
    elif isinstance(field, (mf.Number, mf.Decimal)):
        out.append("abc")
    elif isinstance(field, (mf.DateTime, mf.Date, mf.Time)):
        out.append("not-a-date")
    elif isinstance(field, mf.UUID):
        out.append("not-a-uuid")
    for v in field.validators:
        if isinstance(v, mv.OneOf):
            out.append("no-such-choice")
        elif isinstance(v, mv.Range):
            if v.min is not None:
                out.append(str(v.min - 1))
            elif v.max is not None:
                out.append(str(v.max + 1))
        elif isinstance(v, mv.Length) and v.max is not None:
            out.append("x" * (v.max + 1))
        elif isinstance(v, mv.Regexp):
            out.append("!!bad!!")
    return out


def _schema_fields(schema_cls):
    if schema_cls is None:
        return {}
    schema = schema_cls() if isinstance(schema_cls, type) else schema_cls
    return {(f.data_key or name): f for name, f in schema.fields.items() if not f.dump_only}


_PARAM = re.compile(r"<(?:[a-z]+:)?([a-zA-Z_]+)>")


def fill(path, ids):
    return _PARAM.sub(lambda m: ids.get(m.group(1), MISSING), path)


class Sweep:
    def __init__(self, platform):
        self.p = platform
        self.failures = []
        self.requests = 0
        self.statuses = {}

    def send(self, method, path, principal, what, *, expect_fields=None, allow=ERROR_STATUSES, **kw):
        self.requests += 1
        try:
            r = self.p.request(method, path, principal, **kw)
        except Exception as exc:  # noqa: BLE001 (a dropped connection is a finding too)
            self.failures.append(f"{method} {path} [{what}]: request failed: {exc!r}")
            return None
        where = f"{method} {path} [{what}]"
        self.statuses[r.status_code] = self.statuses.get(r.status_code, 0) + 1
        if r.status_code < 300 and os.environ.get("BAD_INPUT_DEBUG"):
            print("ACCEPTED", where, r.status_code)
        if r.status_code not in allow:
            self.failures.append(f"{where}: HTTP {r.status_code} {r.text[:200]}")
            return r
        if r.status_code >= 400:
            problem = _error_shape(r)
            if problem:
                self.failures.append(f"{where}: HTTP {r.status_code}: {problem}")
            elif expect_fields and r.status_code in (400, 422):
                named = _fields(r)
                if not any(f in named for f in expect_fields):
                    self.failures.append(
                        f"{where}: HTTP {r.status_code} does not name {sorted(expect_fields)}: {r.json()['error']}"
                    )
        return r


def _snapshot(p):
    """What the sweep must not change: counts the services report."""
    out = {}
    for name, path, principal in (
        ("tickets", "/api/v1/tickets?limit=500", HQ),
        ("outlets", "/api/v1/outlets", HQ),
        ("cert technicians", "/api/v1/certification/technicians", HQ),
        ("trainings", "/api/v1/certification/trainings", HQ),
        ("dispatch technicians", "/api/v1/technicians", HQ),
        ("stock", "/api/v1/parts/stock", HQ),
        ("movements", "/api/v1/parts/movements", HQ),
        ("reservations", "/api/v1/parts/reservations", HQ),
        ("claims", "/api/v1/settlement/claims", HQ),
        ("statements", "/api/v1/settlement/statements", HQ),
        ("callbacks", "/api/v1/qa/callbacks?caller=all", HQ),
        ("scorecards", "/api/v1/qa/scorecards?month=2026-01", HQ),
    ):
        r = p.get(path, principal)
        body = r.json() if r.status_code == 200 else r.text
        out[name] = (r.status_code, json.dumps(body, sort_keys=True, ensure_ascii=False))
    return out


# ---------------------------------------------------------------- the HTTP sweep
def test_every_route_refuses_garbage_and_nothing_changes(bad_platform):
    from services.gateway.api import ROUTES

    p = bad_platform
    assert len(ROUTES) > 60, "the gateway declares fewer routes than expected: is every mixin imported?"
    r = p.post("/api/v1/tickets", C01, json=REQUEST)
    assert r.status_code == 201, r.text
    ticket = r.json()
    # real ids where they are cheap, so the body is validated and not just refused as 404
    real = {"ticket_id": ticket["id"], "outlet_id": "C01-O01", "month": "2026-01", "kind": "ontime", "fmt": "pdf"}
    before = _snapshot(p)
    sweep = Sweep(p)

    for method, path, meta in ROUTES:
        principal = PRINCIPAL_FOR.get((method, path), HQ_LEAD)
        has_ids = bool(_PARAM.search(path))
        url = fill(path, real)
        if method in ("POST", "PUT", "PATCH"):
            if meta["content"] == "text/csv":
                _csv_route(sweep, method, url, principal)
                continue
            json_headers = {"Content-Type": "application/json"}
            if (method, path) not in EMPTY_BODY_OK:
                sweep.send(method, url, principal, "empty body", data=b"", headers=dict(json_headers))
            sweep.send(method, url, principal, "not JSON", data=b"{this is: not json", headers=dict(json_headers))
            sweep.send(method, url, principal, "not UTF-8", data=b"\xff\xfe\x00garbage", headers=dict(json_headers))
            sweep.send(
                method,
                url,
                principal,
                "not UTF-8 inside a string",
                data=b'{"name": "\xff\xfe"}',
                headers=dict(json_headers),
            )
            sweep.send(method, url, principal, "JSON array", json=[{"a": 1}])
            sweep.send(method, url, principal, "JSON string", json="hello")
            declared = _schema_fields(meta["body"])
            if declared:
                everything = {}
                for name, field in declared.items():
                    for value in wrong_values(field):
                        everything.setdefault(name, value)
                        sweep.send(
                            method, url, principal, f"{name}={value!r:.40}", json={name: value}, expect_fields={name}
                        )
                    for sub, value, wrap in _nested_wrongs(field):
                        sweep.send(
                            method,
                            url,
                            principal,
                            f"{name}.{sub}={value!r:.30}",
                            json={name: wrap(value)},
                            expect_fields={name},
                        )
                if everything:
                    sweep.send(
                        method, url, principal, "every field wrong", json=everything, expect_fields=set(everything)
                    )
            else:
                sweep.send(method, url, principal, "unexpected object", json={"zz_unknown": {"a": [1, 2]}})
            if has_ids:
                sweep.send(method, fill(path, {}), principal, "ids that do not exist", json={})
        elif method == "GET":
            declared = _schema_fields(meta["query"])
            for name, field in declared.items():
                for value in query_wrong_values(field):
                    sweep.send(
                        method, url, principal, f"?{name}={value:.40}", params={name: value}, expect_fields={name}
                    )
            if has_ids:
                sweep.send(method, fill(path, {}), principal, "ids that do not exist")
        elif method == "DELETE" and has_ids:
            sweep.send(method, fill(path, {}), principal, "ids that do not exist")

    after = _snapshot(p)
    changed = [
        f"{k}: {before[k][0]} {before[k][1][:150]} -> {after[k][0]} {after[k][1][:150]}"
        for k in before
        if before[k] != after[k]
    ]
    sweep.failures.extend(f"state changed by garbage: {c}" for c in changed)
    _assert_alive(p, sweep.failures)
    print(f"{sweep.requests} garbage requests, answered {sorted(sweep.statuses.items())}")
    assert not sweep.failures, (
        f"{len(sweep.failures)} of {sweep.requests} garbage requests misbehaved:\n  " + "\n  ".join(sweep.failures)
    )


def _csv_route(sweep, method, url, principal):
    csv_headers = {"Content-Type": "text/csv"}
    sweep.send(method, url, principal, "empty CSV", data=b"", headers=dict(csv_headers))
    sweep.send(method, url, principal, "blank CSV", data=b"  \n \n", headers=dict(csv_headers))
    sweep.send(method, url, principal, "header only", data=b"a,b,c\n", headers=dict(csv_headers))
    sweep.send(
        method, url, principal, "not UTF-8", data=b"\xff\xfe\x00\x01,\x02\n\x03,\x04\n", headers=dict(csv_headers)
    )
    # rows of nonsense: a per-row report that names the fields, nothing imported
    r = sweep.send(
        method,
        url,
        principal,
        "garbage rows",
        allow=ERROR_STATUSES | {200},
        data=b"kind,phone,tenant_id,skills\nnonsense,12,??,a|b\n,,,\n",
        headers=dict(csv_headers),
    )
    if r is not None and r.status_code == 200:
        body = r.json()
        if (
            body.get("imported") != 0
            or not body.get("rows")
            or not all(not row["ok"] and (row.get("fields") or {}) for row in body["rows"])
        ):
            sweep.failures.append(f"{method} {url} [garbage rows]: not refused row by row naming fields: {body}")


def _assert_alive(p, failures):
    """Every service still answers /health, and normal requests still work."""
    for name, container in p.containers.items():
        try:
            port = http_port_of(container)
            r = p.http.get(f"http://127.0.0.1:{port}/health", timeout=10)
            if r.status_code != 200 or r.json().get("status") != "ok":
                failures.append(f"{name} /health: HTTP {r.status_code} {r.text[:100]}")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{name} /health failed: {exc!r}")
    for method, path, principal, body, status in (
        ("POST", "/api/v1/tickets", C01, REQUEST, 201),
        ("GET", "/api/v1/outlets/C01-O01", HQ, None, 200),
        ("GET", "/api/v1/parts/catalogue", HQ, None, 200),
        ("GET", "/api/v1/settlement/tariff", HQ, None, 200),
        ("GET", "/api/v1/qa/callbacks", HQ, None, 200),
        ("GET", "/api/v1/dispatch/board", HQ, None, 200),
        ("GET", "/api/v1/certification/technicians", HQ, None, 200),
    ):
        r = p.request(method, path, principal, json=body)
        if r.status_code != status:
            failures.append(f"after the sweep {method} {path}: HTTP {r.status_code} {r.text[:200]}")


# ---------------------------------------------------------------- events
def _consumers():
    """{event type: [consuming service, ...]} from the running services' handlers."""
    from nameko.events import EventHandler
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    out = {}
    for cls in (IntakeService, DispatchService, CertificationService, PartsService, SettlementService, QaService):
        for attr in dir(cls):
            for ext in getattr(getattr(cls, attr, None), ENTRYPOINT_EXTENSIONS_ATTR, ()):
                if isinstance(ext, EventHandler):
                    out.setdefault(ext.event_type, []).append(cls.name)
    return out


def _now():
    return datetime.now(UTC)


def _visit(**over):
    body = {
        "tenant_id": "C01",
        "visit_id": f"v-{uuid.uuid4().hex[:8]}",
        "ticket_id": f"t-{uuid.uuid4().hex[:8]}",
        "outlet_id": "C01-O01",
        "technician_id": "C01-O01-T1",
        "at": _now() - timedelta(hours=1),
        "planned_km": 12.0,
        "product_line": "数控车床",
        "kind": "repair",
        "work_done": "修复",
        "parts_used": [],
        "customer_confirmed": True,
        "onsite_on_time": True,
    }
    body.update(over)
    return body


# malformed payloads: (event type, body, what is wrong)
BAD_EVENTS = [
    ("ticket.registered", {"tenant_id": "C01", "number": "C01-X"}, "ticket_id and most fields missing"),
    ("ticket.registered", ["not", "an", "object"], "a JSON array"),
    (
        "visit.completed",
        {**json.loads(json.dumps(_visit(), default=str)), "at": "yesterday-ish", "planned_km": "far"},
        "wrong types",
    ),
    (
        "visit.completed",
        {**json.loads(json.dumps(_visit(), default=str)), "parts_used": [{"part_no": 7, "quantity": "many"}]},
        "wrong nested types",
    ),
    ("visit.scheduled", {"visit_id": 1}, "wrong types, fields missing"),
    ("ticket.closed", "closed!", "a JSON string"),
    ("sla.breached", {"tenant_id": "C01", "ticket_id": None}, "null ticket"),
    ("outlet.suspended", {"outlet_id": ["C01-O01"], "status": 5}, "wrong types"),
    ("technician.certified", {}, "empty object"),
    ("account.clearing_requested", {"outlet_id": "C01-O01"}, "request_id and at missing"),
    ("account.cleared", {"outlet_id": "C01-O01", "request_id": 3, "open_items": "none"}, "wrong types"),
    ("qa.scorecard_published", {"outlet_id": "C01-O01", "total": "lots"}, "wrong types"),
    ("callback.negative", {"ticket_id": "t-1", "satisfaction": "bad"}, "wrong types"),
    ("callback.closed", {"callback_id": None}, "null id"),
    ("parts.return_overdue", {"rma_no": 12, "amount": "a lot"}, "wrong types"),
    ("parts.return_received", [], "an empty array"),
    (
        "parts.outlet_balance",
        {"outlet_id": "C01-O01", "request_id": "r", "open_items": [{"amount": "x"}]},
        "wrong nested types",
    ),
    ("settlement.refund_paid", {"ticket_id": "t", "amount": "free"}, "wrong types"),
]


def _queue_depth(uri, queue):
    with Connection(uri) as conn:
        _, count, consumers = conn.default_channel.queue_declare(queue, passive=True)
    return count, consumers


def _drain_dead(uri, service):
    out = []
    with Connection(uri) as conn:
        channel = conn.channel()
        while True:
            msg = channel.basic_get(dead_letter_names(service)[1], no_ack=True)
            if msg is None:
                return out
            out.append(msg)


def _ok_count(service, event_type):
    return metrics.EVENTS_CONSUMED.labels(service, event_type, "ok")._value.get()


def test_malformed_events_are_dead_lettered_and_good_ones_still_handled(bad_platform):
    p = bad_platform
    uri = p.config["AMQP_URI"]
    consumers = _consumers()
    failures = []
    for service in {s for services in consumers.values() for s in services}:
        _drain_dead(uri, service)  # whatever earlier tests left there is not ours

    expected = {}
    for event_type, body, what in BAD_EVENTS:
        assert event_type in catalogue.CATALOGUE, event_type
        for service in consumers.get(event_type, []):
            expected.setdefault(service, []).append((event_type, what))
        headers = {
            "nameko.event_id": uuid.uuid4().hex,
            "nameko.principal": tenancy.service_principal(catalogue.CATALOGUE[event_type].source).encode(),
        }
        event_dispatcher(p.config, headers=headers)(catalogue.CATALOGUE[event_type].source, event_type, body)
    # not JSON at all (declared JSON): kombu cannot decode it
    from tests.service.test_dead_letter import publish as raw_publish

    raw_publish(uri, "dispatch.events", "visit.completed", b"\xff{not json")
    for service in consumers["visit.completed"]:
        expected.setdefault(service, []).append(("visit.completed", "not JSON"))
    assert set(expected) == {"intake", "dispatch", "certification", "parts", "settlement", "qa"}, expected

    dead = {s: [] for s in expected}

    def all_dead_lettered():
        for service in expected:
            dead[service].extend(_drain_dead(uri, service))
        return all(len(dead[s]) >= len(expected[s]) for s in expected)

    try:
        wait_for(all_dead_lettered, timeout=20, what="every malformed event dead-lettered")
    except AssertionError:
        pass
    time.sleep(0.5)
    for service in expected:
        dead[service].extend(_drain_dead(uri, service))
        got = sorted(m.delivery_info["routing_key"] for m in dead[service])
        want = sorted(t for t, _ in expected[service])
        if got != want:
            failures.append(f"{service}.dead-letter: got {got}, expected {want}")

    # every event queue drained, its consumer still attached
    for event_type, services in consumers.items():
        source = catalogue.CATALOGUE[event_type].source
        for service in services:
            for queue in _event_queues(p, service, source, event_type):
                count, attached = _queue_depth(uri, queue)
                if count or attached != 1:
                    failures.append(f"{queue}: {count} messages left, {attached} consumers")

    # good events afterwards: each consumer handles them
    ok_before = {(s, t): _ok_count(s, t) for t in ("ticket.registered", "visit.completed") for s in consumers[t]}
    r = p.post("/api/v1/tickets", C01, json=REQUEST)  # intake publishes a real ticket.registered
    assert r.status_code == 201, r.text
    good_visit = _visit(ticket_id=r.json()["id"])
    event_dispatcher(
        p.config,
        headers={
            "nameko.event_id": uuid.uuid4().hex,
            "nameko.principal": tenancy.service_principal("dispatch").encode(),
        },
    )("dispatch", "visit.completed", catalogue.dump("visit.completed", good_visit))

    def handled():
        return all(_ok_count(s, t) > n for (s, t), n in ok_before.items())

    try:
        wait_for(handled, timeout=20, what="good events handled")
    except AssertionError:
        failures.extend(
            f"{s} did not handle a good {t} after the bad ones"
            for (s, t), n in ok_before.items()
            if _ok_count(s, t) <= n
        )
    late = {s: _drain_dead(uri, s) for s in expected}
    failures.extend(
        f"{s}: the good event was dead-lettered too ({[m.delivery_info['routing_key'] for m in ms]})"
        for s, ms in late.items()
        if ms
    )
    _assert_alive(p, failures)
    assert not failures, "\n  ".join(["malformed events misbehaved:"] + failures)


def _event_queues(p, service, source, event_type):
    prefix = f"evt-{source}-{event_type}--{service}."
    from shared.messaging import CatalogueEventHandler

    return [
        ext.queue.name
        for ext in p.containers[service].entrypoints
        if isinstance(ext, CatalogueEventHandler) and ext.queue.name.startswith(prefix)
    ]


# ---------------------------------------------------------------- hostile values in otherwise valid bodies
HOSTILE = [
    10**30,
    -(10**30),
    1e308,
    -1,
    0,
    "",
    "x" * 5000,
    None,
    {"a": 1},
    [1],
    True,
    "\x00",
    "2999-12-31",
    "0001-01-01",
    "1970-01-01T00:00:00",
    "NaN",
]


def _valid_bodies():
    from tests.certification_fixtures import form
    from tests.conftest import technician_rows

    tech = {
        "id": "C01-BAD-1",
        "name": "新人",
        "outlet_id": "C01-O01",
        "skills": ["数控车床"],
        "certificates": {"数控车床": "2030-01-01"},
        "home_lat": 30.6,
        "home_lon": 114.3,
    }
    line = {"part_no": "CKL-FAN-01", "quantity": 1}
    return [
        ("POST", "/api/v1/tickets", C01, REQUEST),
        ("POST", "/api/v1/technicians", C01, tech),
        ("POST", "/api/v1/outlets", C01, form(outlet_id="C01-O09")),
        (
            "POST",
            "/api/v1/certification/exams",
            C01,
            {"technician_id": technician_rows("C01")[0]["id"], "product_line": "数控车床", "score": "90"},
        ),
        ("POST", "/api/v1/qa/findings", C01, {"outlet_id": "C01-O01", "kind": "no_periodic_inspection", "note": "x"}),
        ("POST", "/api/v1/parts/reservations", C01, {"outlet_id": "C01-O01", "lines": [line]}),
        ("POST", "/api/v1/parts/issues", C01, {"outlet_id": "C01-O01", "lines": [dict(line, quantity=2)]}),
    ]


def test_hostile_values_in_valid_bodies_never_break_a_route(bad_platform):
    """One field at a time of a body that would be accepted gets a hostile value (huge, negative,
    empty, far too long, null, wrong shape, NUL, absurd dates): whatever the answer, never a 500,
    and a refusal names the field."""
    sweep = Sweep(bad_platform)
    allow = ERROR_STATUSES | {200, 201}
    for method, path, principal, body in _valid_bodies():
        for name, value in body.items():
            # (what, body, names that count as naming the field: the field, or a nested one's own name)
            candidates = [(f"{name}={v!r:.30}", dict(body, **{name: v}), {name}) for v in HOSTILE]
            if isinstance(value, dict):
                candidates += [
                    (f"{name}.{k}={v!r:.30}", dict(body, **{name: dict(value, **{k: v})}), {name, k})
                    for k in value
                    for v in HOSTILE
                ]
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                candidates += [
                    (f"{name}[0].{k}={v!r:.30}", dict(body, **{name: [dict(value[0], **{k: v})]}), {name, k})
                    for k in value[0]
                    for v in HOSTILE
                ]
            for what, hostile, names in candidates:
                # NUL never reaches a database (PostgreSQL refuses it in text); other values may be fine
                refuse = "\\u0000" in json.dumps(hostile)
                sweep.send(
                    method,
                    path,
                    principal,
                    what,
                    json=hostile,
                    allow=ERROR_STATUSES if refuse else allow,
                    expect_fields=names,
                )
    _assert_alive(bad_platform, sweep.failures)
    print(f"{sweep.requests} hostile requests, answered {sorted(sweep.statuses.items())}")
    assert not sweep.failures, (
        f"{len(sweep.failures)} of {sweep.requests} hostile requests misbehaved:\n  " + "\n  ".join(sweep.failures)
    )
