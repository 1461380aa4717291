"""Per-user bearer tokens carrying role and tenant: signed JWTs (PyJWT, HS256).

Issued by operators with ``fsm token``; checked by the gateway, which turns a valid
token into the `Principal` that travels with every call behind it.
"""
from __future__ import annotations

import time

import jwt

from shared.errors import Unauthorized
from shared.tenancy import USER_ROLES, Principal

ALGORITHM = "HS256"
ISSUER = "fieldservice"


def issue_token(secret: str, principal: Principal, ttl_seconds: int = 30 * 24 * 3600) -> str:
    if principal.role not in USER_ROLES:
        raise ValueError(f"tokens are for users; role {principal.role!r} is internal")
    now = int(time.time())
    claims = {"sub": principal.user, "role": principal.role, "iss": ISSUER, "iat": now, "exp": now + ttl_seconds}
    for key in ("tenant", "outlet", "warehouse", "customer", "duty"):
        value = getattr(principal, key)
        if value:
            claims[key] = value
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> Principal:
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["sub", "role", "exp"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("token expired") from None
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    if claims["role"] not in USER_ROLES:
        raise Unauthorized("token role not allowed")
    return Principal(user=claims["sub"], role=claims["role"], tenant=claims.get("tenant"),
                     outlet=claims.get("outlet"), warehouse=claims.get("warehouse"),
                     customer=claims.get("customer"), duty=claims.get("duty"))


def principal_from_header(secret: str, header: str | None) -> Principal:
    if not header:
        raise Unauthorized("missing Authorization header (Bearer token)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization must be 'Bearer <token>'")
    return verify_token(secret, token.strip())
