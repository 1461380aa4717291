"""Safe defaults: tokens live at most TOKEN_MAX_TTL_SECONDS; only trusted channels back-date a
request (received_at); no service starts with the development secret unless FSM_DEV=1."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from shared.auth import ALGORITHM, DEV_SECRET, ISSUER, InsecureConfiguration, SecretGuard
from shared.tenancy import Principal
from tests.conftest import C01
from tests.service.test_gateway_limits import API, CSV, REQUEST, _csv, _error, _total

CUSTOMER = Principal("cust-p", "customer", tenant="C01", customer="cu_portal_1")


def test_a_token_that_lives_too_long_is_401_naming_the_token(platform):
    secret = platform.config["AUTH_SECRET"]
    now = int(time.time())
    claims = {"sub": "hq-admin", "role": "hq", "iss": ISSUER, "iat": now}
    long_lived = jwt.encode(dict(claims, exp=now + 365 * 86400), secret, algorithm=ALGORITHM)
    err = _error(platform.get(f"{API}/me", headers={"Authorization": f"Bearer {long_lived}"}), 401, "token")
    assert err["code"] == "unauthorized"
    no_iat = jwt.encode(
        {"sub": "hq-admin", "role": "hq", "iss": ISSUER, "exp": now + 3600}, secret, algorithm=ALGORITHM
    )
    _error(platform.get(f"{API}/me", headers={"Authorization": f"Bearer {no_iat}"}), 401)
    fine = jwt.encode(dict(claims, exp=now + 3600), secret, algorithm=ALGORITHM)
    assert platform.get(f"{API}/me", headers={"Authorization": f"Bearer {fine}"}).status_code == 200


def test_only_trusted_channels_back_date_a_request(platform):
    earlier = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    # a customer (the portal) cannot start its SLA clock in the past, by the API or a CSV import
    _error(
        platform.post(f"{API}/tickets", CUSTOMER, json=dict(REQUEST, received_at=earlier.isoformat())),
        422,
        "received_at",
    )
    r = platform.post(
        f"{API}/tickets/import",
        CUSTOMER,
        data=_csv([dict(REQUEST, received_at=earlier.isoformat())]),
        headers=dict(CSV),
    )
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 0 and "received_at" in r.json()["rows"][0]["fields"], r.text
    assert _total(platform) == 0
    # ... nor in the future (for anyone, beyond a small clock skew)
    later = datetime.now(UTC) + timedelta(hours=1)
    _error(platform.post(f"{API}/tickets", C01, json=dict(REQUEST, received_at=later.isoformat())), 422, "received_at")
    # a center's CSV import (an export of calls taken earlier) keeps its time; so does the center's API call
    r = platform.post(
        f"{API}/tickets/import", C01, data=_csv([dict(REQUEST, received_at=earlier.isoformat())]), headers=dict(CSV)
    )
    assert r.status_code == 200 and r.json()["imported"] == 1, r.text
    ticket = platform.get(f"{API}/tickets/{r.json()['rows'][0]['ticket_id']}", C01).json()
    assert datetime.fromisoformat(ticket["received_at"]) == earlier
    r = platform.post(f"{API}/tickets", C01, json=dict(REQUEST, received_at=earlier.isoformat(), phone="13800004444"))
    assert r.status_code == 201 and datetime.fromisoformat(r.json()["received_at"]) == earlier, r.text
    # without received_at the customer's request is received now
    r = platform.post(f"{API}/tickets", CUSTOMER, json=REQUEST)
    assert r.status_code == 201, r.text
    assert abs(datetime.fromisoformat(r.json()["received_at"]) - datetime.now(UTC)) < timedelta(minutes=1)


# ------------------------------------------------------------ the development secret
def _service_classes():
    from services.certification.service import CertificationService
    from services.dispatch.service import DispatchService
    from services.gateway.service import GatewayService
    from services.intake.service import IntakeService
    from services.parts.service import PartsService
    from services.qa.service import QaService
    from services.settlement.service import SettlementService

    return (
        GatewayService,
        IntakeService,
        DispatchService,
        PartsService,
        SettlementService,
        CertificationService,
        QaService,
    )


def test_every_service_checks_its_secret(service_config):
    from nameko.containers import ServiceContainer

    for cls in _service_classes():
        container = ServiceContainer(cls, service_config)
        assert any(isinstance(d, SecretGuard) for d in container.dependencies), cls.name


def test_a_service_refuses_the_development_secret_without_fsm_dev(runner_factory, service_config, monkeypatch):
    from services.intake.service import IntakeService

    monkeypatch.delenv("FSM_DEV", raising=False)
    for secret in (DEV_SECRET, None, "too-short"):
        config = dict(service_config, AUTH_SECRET=secret)
        runner = runner_factory(config, IntakeService)
        with pytest.raises(InsecureConfiguration) as info:
            runner.start()
        assert "set FSM_AUTH_SECRET" in str(info.value) and "FSM_DEV=1" in str(info.value)
        runner.kill()
    # a development machine says so, and the same configuration starts
    monkeypatch.setenv("FSM_DEV", "1")
    runner = runner_factory(dict(service_config, AUTH_SECRET=DEV_SECRET), IntakeService)
    runner.start()
    with_secret = runner_factory(dict(service_config), IntakeService)  # a real secret needs no FSM_DEV
    monkeypatch.delenv("FSM_DEV")
    runner.stop()
    with_secret.start()
    with_secret.stop()
