"""Bad input is a 4xx naming the field, never a 5xx; bodies over MAX_BODY_BYTES are 413."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.conftest import C01, HQ, Platform

API = "/api/v1"
MiB = 1024 * 1024
REQUEST = {
    "kind": "repair",
    "channel": "hotline",
    "customer_name": "武汉限度测试公司",
    "phone": "13800003333",
    "address": "湖北省武汉市洪山区珞喻路1号",
    "product_line": "数控车床",
    "model": "CK6150",
    "purchase_date": "2025-06-01",
    "fault": "无法启动",
}
JSON = {"Content-Type": "application/json"}
CSV = {"Content-Type": "text/csv"}


def _error(r, status, field=None):
    assert r.status_code == status, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] and err["message"] and err["call_id"], err
    if field is not None:
        assert field in (err.get("fields") or {}), err
    return err


def _total(platform):
    return platform.get(f"{API}/tickets", HQ).json()["total"]


def _csv(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_bodies_over_the_limit_are_413(platform):
    big = b'{"customer_name": "' + b"x" * (2 * MiB) + b'"}'
    err = _error(platform.post(f"{API}/tickets", C01, data=big, headers=dict(JSON)), 413, "_body")
    assert err["code"] == "payload_too_large"

    def chunked():  # no Content-Length: refused while it is read
        yield b'{"customer_name": "'
        for _ in range(24):
            yield b"x" * 100_000
        yield b'"}'

    _error(platform.post(f"{API}/tickets", C01, data=chunked(), headers=dict(JSON)), 413, "_body")
    rows = [dict(REQUEST, fault=f"第{i}行 " + "无法启动" * 20) for i in range(12_000)]
    body = _csv(rows)
    assert len(body) > 2 * MiB
    _error(platform.post(f"{API}/tickets/import", C01, data=body, headers=dict(CSV)), 413, "_body")
    assert _total(platform) == 0
    # under the limit, chunked or not, a body is read as usual
    assert platform.post(f"{API}/tickets", C01, json=REQUEST).status_code == 201

    def small():
        yield b'{"kind": "repair", '
        yield b'"channel": "pigeon"}'

    _error(platform.post(f"{API}/tickets", C01, data=small(), headers=dict(JSON)), 422, "channel")


@pytest.fixture
def small_limit_platform(runner_factory, service_config):
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService

    config = dict(service_config, MAX_BODY_BYTES=4096)
    runner = runner_factory(config, IntakeService, GatewayService)
    runner.start()
    yield Platform(runner, config)


def test_the_limit_is_configured(small_limit_platform):
    p = small_limit_platform
    _error(p.post(f"{API}/tickets", C01, json=dict(REQUEST, fault="x" * 5000)), 413, "_body")
    _error(p.post(f"{API}/tickets", C01, json=dict(REQUEST, fault="x" * 3000)), 422, "fault")  # read, then too long


def test_hostile_json_is_a_4xx_naming_the_field(platform):
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    _error(platform.post(f"{API}/tickets", C01, data=deep, headers=dict(JSON)), 400, "_body")
    nested = ('{"fault": ' + "[" * 40 + "]" * 40 + "}").encode()  # within the parser's reach, still absurd
    _error(platform.post(f"{API}/tickets", C01, data=nested, headers=dict(JSON)), 400, "_body")
    surrogate = ('{"customer_name": "\\ud800", ' + json_fields(REQUEST, "customer_name") + "}").encode()
    _error(platform.post(f"{API}/tickets", C01, data=surrogate, headers=dict(JSON)), 422, "customer_name")
    key = b'{"\\udfffname": 1}'
    err = _error(platform.post(f"{API}/tickets", C01, data=key, headers=dict(JSON)), 422)
    assert any("\\udfff" in name for name in err["fields"]), err
    _error(platform.get(f"{API}/tickets?offset={'9' * 30}", C01), 422, "offset")
    _error(platform.get(f"{API}/tickets?offset={10**9 + 1}", HQ), 422, "offset")
    _error(platform.get(f"{API}/tickets?q=a%00b", C01), 422, "q")
    # CSV: a bare carriage return is a line break (it was csv.Error, a 500); a field past csv's limit is 400
    r = platform.post(f"{API}/tickets/import", C01, data="¬\r£".encode(), headers=dict(CSV))
    assert r.status_code == 200 and r.json()["imported"] == 0, r.text
    huge_field = b"kind,fault\nrepair," + b"x" * 200_000 + b"\n"
    _error(platform.post(f"{API}/tickets/import", C01, data=huge_field, headers=dict(CSV)), 400, "_body")
    assert _total(platform) == 0


def json_fields(body, *leave_out):
    return ", ".join(
        f"{json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in body.items() if k not in leave_out
    )
