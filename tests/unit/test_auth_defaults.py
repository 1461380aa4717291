"""Safe defaults of shared.auth: the development secret only with FSM_DEV=1, tokens of bounded lifetime."""

import time

import jwt
import pytest

from fsm.main import main
from shared.auth import (
    ALGORITHM,
    DEFAULT_MAX_TTL,
    DEV_SECRET,
    ISSUER,
    InsecureConfiguration,
    check_secret,
    issue_token,
    max_ttl,
    verify_token,
)
from shared.config import load_config
from shared.errors import Unauthorized
from shared.tenancy import Principal

SECRET = "test-secret-of-at-least-thirty-two-bytes"
C01 = Principal("wuhan-agent", "center", tenant="C01")


def test_the_development_secret_is_refused_unless_fsm_dev():
    for secret in (DEV_SECRET, None, "", "short-secret"):
        with pytest.raises(InsecureConfiguration) as info:
            check_secret({"AUTH_SECRET": secret}, environ={})
        assert "FSM_AUTH_SECRET" in str(info.value) and "FSM_DEV=1" in str(info.value)
        check_secret({"AUTH_SECRET": secret}, environ={"FSM_DEV": "1"})  # development: allowed
    check_secret({"AUTH_SECRET": SECRET}, environ={})


def test_config_yml_defaults():
    config = load_config()
    assert max_ttl(config) == DEFAULT_MAX_TTL == 30 * 24 * 3600
    assert config["MAX_BODY_BYTES"] == 2 * 1024 * 1024


def test_issue_token_refuses_a_lifetime_over_the_maximum():
    token = issue_token(SECRET, C01, ttl_seconds=DEFAULT_MAX_TTL)
    assert verify_token(SECRET, token) == C01
    with pytest.raises(ValueError, match="at most"):
        issue_token(SECRET, C01, ttl_seconds=DEFAULT_MAX_TTL + 1)
    with pytest.raises(ValueError):
        issue_token(SECRET, C01, ttl_seconds=3600, max_ttl_seconds=600)


def _hand_made(**claims):
    now = int(time.time())
    body = {"sub": "x", "role": "hq", "iss": ISSUER, "iat": now, "exp": now + 3600}
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, algorithm=ALGORITHM)


def test_verify_refuses_tokens_that_live_too_long_or_say_nothing_of_it():
    now = int(time.time())
    assert verify_token(SECRET, _hand_made()).role == "hq"
    with pytest.raises(Unauthorized) as info:
        verify_token(SECRET, _hand_made(exp=now + 10 * 365 * 86400))
    assert "token" in info.value.fields
    with pytest.raises(Unauthorized):
        verify_token(SECRET, _hand_made(iat=None, exp=now + 3600))  # no iat: its lifetime is unknown
    with pytest.raises(Unauthorized):
        verify_token(SECRET, _hand_made(exp=None))
    with pytest.raises(Unauthorized):
        verify_token(SECRET, _hand_made(), max_ttl_seconds=600)


def test_cli_token_commands_stay_within_the_maximum(capsys, monkeypatch):
    monkeypatch.setenv("FSM_AUTH_SECRET", SECRET)
    for argv in (
        ["token", "--user", "u", "--role", "hq"],
        ["certification", "token", "--user", "u", "--role", "hq", "--duty", "service_head"],
    ):
        assert main(argv) == 0  # the default 30 days is the maximum
        assert verify_token(SECRET, capsys.readouterr().out.strip()).user == "u"
        assert main(argv + ["--ttl-days", "31"]) == 1
        out, err = capsys.readouterr()
        assert out == "" and "at most" in err
    monkeypatch.setenv("FSM_TOKEN_MAX_TTL_SECONDS", "86400")
    assert main(["token", "--user", "u", "--role", "hq", "--ttl-days", "2"]) == 1
    assert main(["token", "--user", "u", "--role", "hq", "--ttl-days", "1"]) == 0
