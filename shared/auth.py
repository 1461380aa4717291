"""Per-user bearer tokens carrying role and tenant: signed JWTs (PyJWT, HS256).

Issued by operators with ``fsm token``; checked by the gateway, which turns a valid
token into the `Principal` that travels with every call behind it.

Safe defaults: a token lives at most ``TOKEN_MAX_TTL_SECONDS`` (30 days unless configured;
`issue_token` refuses a longer one, `verify_token` a token without ``exp``/``iat`` or living
longer), and no service starts with the development secret, a missing one or one shorter than
32 bytes unless the environment says ``FSM_DEV=1`` (`SecretGuard`, in every service).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

import jwt
from nameko.extensions import DependencyProvider

from shared.errors import Unauthorized
from shared.tenancy import USER_ROLES, Principal

ALGORITHM = "HS256"
ISSUER = "fieldservice"
DEV_SECRET = "dev-only-secret-change-me-in-production-0123456789"  # config.yml's default
MIN_SECRET_BYTES = 32
DEFAULT_MAX_TTL = 30 * 24 * 3600


class InsecureConfiguration(Exception):
    """A service refuses to start with a secret anyone can read in the repository."""


def dev_mode(environ: Mapping[str, str] | None = None) -> bool:
    return (os.environ if environ is None else environ).get("FSM_DEV", "").strip().lower() in ("1", "true", "yes")


def secret_problem(secret: object) -> str | None:
    """Why `secret` must not sign production tokens, else None."""
    if not secret:
        return "AUTH_SECRET is not set"
    if secret == DEV_SECRET:
        return "AUTH_SECRET is the development value from config.yml"
    if len(str(secret).encode("utf-8")) < MIN_SECRET_BYTES:
        return f"AUTH_SECRET is shorter than {MIN_SECRET_BYTES} bytes"
    return None


def check_secret(config: dict[str, Any], environ: Mapping[str, str] | None = None) -> None:
    """Raise InsecureConfiguration when the configured secret is unsafe and FSM_DEV=1 is not set."""
    problem = secret_problem(config.get("AUTH_SECRET"))
    if problem and not dev_mode(environ):
        raise InsecureConfiguration(
            f"{problem}: set FSM_AUTH_SECRET to a random secret of at least {MIN_SECRET_BYTES} bytes "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'), the same for every service, "
            "or set FSM_DEV=1 to run with the development secret on a development machine"
        )


class SecretGuard(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """In `shared.web.ServiceBase`, so every service checks its secret when its container is set up."""

    def setup(self) -> None:
        check_secret(self.container.config)


def max_ttl(config: dict[str, Any] | None) -> int:
    """The longest token lifetime in seconds (config TOKEN_MAX_TTL_SECONDS, default 30 days)."""
    value = (config or {}).get("TOKEN_MAX_TTL_SECONDS")
    return int(value) if value not in (None, "") else DEFAULT_MAX_TTL


def issue_token(
    secret: str, principal: Principal, ttl_seconds: int = DEFAULT_MAX_TTL, max_ttl_seconds: int = DEFAULT_MAX_TTL
) -> str:
    if principal.role not in USER_ROLES:
        raise ValueError(f"tokens are for users; role {principal.role!r} is internal")
    if ttl_seconds > max_ttl_seconds:
        raise ValueError(
            f"a token may live at most {max_ttl_seconds} s ({max_ttl_seconds / 86400:g} days, "
            f"TOKEN_MAX_TTL_SECONDS); asked for {ttl_seconds} s"
        )
    now = int(time.time())
    claims = {"sub": principal.user, "role": principal.role, "iss": ISSUER, "iat": now, "exp": now + ttl_seconds}
    for key in ("tenant", "outlet", "warehouse", "customer", "duty"):
        value = getattr(principal, key)
        if value:
            claims[key] = value
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str, max_ttl_seconds: int = DEFAULT_MAX_TTL) -> Principal:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], issuer=ISSUER, options={"require": ["sub", "role", "exp", "iat"]}
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    lifetime = claims["exp"] - claims["iat"]
    if not isinstance(lifetime, (int, float)) or lifetime > max_ttl_seconds:
        raise Unauthorized(
            "token lives too long",
            {"token": [f"exp - iat may be at most {max_ttl_seconds} s (TOKEN_MAX_TTL_SECONDS); issue a new token"]},
        )
    if claims["role"] not in USER_ROLES:
        raise Unauthorized("token role not allowed")
    return Principal(
        user=claims["sub"],
        role=claims["role"],
        tenant=claims.get("tenant"),
        outlet=claims.get("outlet"),
        warehouse=claims.get("warehouse"),
        customer=claims.get("customer"),
        duty=claims.get("duty"),
    )


def principal_from_header(secret: str, header: str | None, max_ttl_seconds: int = DEFAULT_MAX_TTL) -> Principal:
    if not header:
        raise Unauthorized("missing Authorization header (Bearer token)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return verify_token(secret, token.strip(), max_ttl_seconds)
