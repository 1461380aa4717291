"""People's accounts (帐号) and signing in: the gateway's own rules.

An account carries what a bearer token carries (user, role, tenant, outlet, warehouse, duty), and
`principal_of` turns it into the same `Principal`, checked by the same rules (`Principal`'s own),
so a person signed in to the portal can do exactly what a token with those claims can.

Passwords are hashed with Argon2id (argon2-cffi's `PasswordHasher`, parameters from the
configuration); a hash made with other parameters is replaced at the next sign-in. Guessing is
throttled twice: per account (``LOGIN_MAX_FAILURES`` failures within ``LOGIN_WINDOW_SECONDS``
lock it for ``LOGIN_LOCK_SECONDS``) and per client address (``LOGIN_MAX_ADDRESS_FAILURES``,
whatever usernames it tries). A locked account refuses even the right password until the lock
ends, with a message saying when.

Functions take a SQLAlchemy session (or a unit of work, where they commit) and the time: the
gateway, the portal and ``fsm user`` share them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from services.gateway.models import AddressFailures, User
from shared import tenancy
from shared.clock import as_utc
from shared.errors import Conflict, NotFound, TooManyRequests, Unauthorized, ValidationFailed
from shared.tenancy import Principal

#: the roles people sign in with (a customer has no portal account yet)
ACCOUNT_ROLES = (tenancy.HQ, tenancy.CENTER, tenancy.OUTLET, tenancy.WAREHOUSE)
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
# the one message for an unknown username and a wrong password: it tells a guesser nothing
WRONG = "wrong username or password"
#: what each role needs (`Principal` checks the same) and what it may have beside it
ROLE_NEEDS = {
    tenancy.HQ: (),
    tenancy.CENTER: ("tenant",),
    tenancy.OUTLET: ("tenant", "outlet"),
    tenancy.WAREHOUSE: ("warehouse",),
}
ROLE_FIELDS = {
    tenancy.HQ: {"duty"},
    tenancy.CENTER: {"tenant", "duty"},
    tenancy.OUTLET: {"tenant", "outlet"},
    tenancy.WAREHOUSE: {"tenant", "warehouse"},
}


# ---------------------------------------------------------------- settings
@dataclass(frozen=True)
class Throttle:
    """How many failed sign-ins are tolerated, and for how long they lock."""

    max_failures: int = 5  # per account, within `window_seconds`
    max_address_failures: int = 20  # per client address, within `window_seconds`
    window_seconds: int = 900
    lock_seconds: int = 900

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Throttle:
        def number(key: str, default: int) -> int:
            value = config.get(key)
            return int(value) if value not in (None, "") else default

        return cls(
            max_failures=number("LOGIN_MAX_FAILURES", cls.max_failures),
            max_address_failures=number("LOGIN_MAX_ADDRESS_FAILURES", cls.max_address_failures),
            window_seconds=number("LOGIN_WINDOW_SECONDS", cls.window_seconds),
            lock_seconds=number("LOGIN_LOCK_SECONDS", cls.lock_seconds),
        )


class Passwords:
    """Argon2id hashing with the configured cost (``ARGON2_TIME_COST``, ``ARGON2_MEMORY_KIB``,
    ``ARGON2_PARALLELISM``; argon2-cffi's defaults when unset)."""

    def __init__(
        self,
        time_cost: int | None = None,
        memory_kib: int | None = None,
        parallelism: int | None = None,
        run: Callable[..., Any] | None = None,
    ):
        # `run(fn, *args)` runs the hashing: the gateway passes eventlet's tpool.execute, so a
        # hash (a quarter of a second, the GIL released) does not stall its other requests
        self.run = run or (lambda fn, *args: fn(*args))
        default = PasswordHasher()
        self.hasher = PasswordHasher(
            time_cost=time_cost or default.time_cost,
            memory_cost=memory_kib or default.memory_cost,
            parallelism=parallelism or default.parallelism,
        )
        self._dummy: str | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any], run: Callable[..., Any] | None = None) -> Passwords:
        def number(key: str) -> int | None:
            value = config.get(key)
            return int(value) if value not in (None, "") else None

        return cls(number("ARGON2_TIME_COST"), number("ARGON2_MEMORY_KIB"), number("ARGON2_PARALLELISM"), run)

    def hash(self, password: str) -> str:
        return str(self.run(self.hasher.hash, password))

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self.run(self.hasher.verify, password_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    def spend_time(self, password: str) -> None:
        """Verify against a hash of nothing: an unknown username takes as long as a known one."""
        if self._dummy is None:
            self._dummy = self.hasher.hash("no such account")
        self.verify(self._dummy, password)


# ---------------------------------------------------------------- rules
def normal_username(username: Any) -> str:
    return username.strip().lower() if isinstance(username, str) else ""


def check_username(username: str) -> str:
    name = normal_username(username)
    if not USERNAME.match(name):
        raise ValidationFailed(
            "invalid username",
            {
                "username": [
                    "2 to 64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
                ]
            },
        )
    return name


def check_password(password: Any, username: str, field: str = "password") -> str:
    """The password rules: 8 to 256 characters, not blank, not the username."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationFailed("password too short", {field: [f"at least {MIN_PASSWORD} characters"]})
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed("password too long", {field: [f"at most {MAX_PASSWORD} characters"]})
    if not password.strip() or "\x00" in password:
        raise ValidationFailed("invalid password", {field: ["must not be blank or contain NUL"]})
    if password.strip().lower() == username.lower():
        raise ValidationFailed("password is the username", {field: ["must not be the username"]})
    return password


def account_principal(
    username: str,
    role: str,
    tenant: str | None = None,
    outlet: str | None = None,
    warehouse: str | None = None,
    duty: str | None = None,
    known_tenants: Any = None,
) -> Principal:
    """The principal an account with these fields signs in as, or ValidationFailed naming the
    field that is wrong. The role/tenant/outlet rules are `Principal`'s (a token's); on top of
    them an account may not carry a field its role does not use, and a tenant must exist."""
    if role not in ACCOUNT_ROLES:
        raise ValidationFailed("invalid role", {"role": [f"must be one of: {', '.join(ACCOUNT_ROLES)}"]})
    given = {"tenant": tenant, "outlet": outlet, "warehouse": warehouse, "duty": duty}
    errors: dict[str, list[str]] = {}
    for name, value in given.items():
        if value and name not in ROLE_FIELDS[role]:
            errors[name] = [f"not used by role {role}"]
        elif not value and name in ROLE_NEEDS[role]:
            errors[name] = [f"required for role {role}"]
    if duty and duty not in tenancy.DUTIES and "duty" not in errors:
        errors["duty"] = [f"must be one of: {', '.join(tenancy.DUTIES)}"]
    if tenant and known_tenants is not None and tenant not in known_tenants:
        errors["tenant"] = [f"unknown tenant {tenant!r}"]
    if errors:
        raise ValidationFailed("invalid account", errors)
    try:
        return Principal(user=username, role=role, tenant=tenant, outlet=outlet, warehouse=warehouse, duty=duty or None)
    except Unauthorized as exc:  # a rule of Principal's not mirrored above
        raise ValidationFailed("invalid account", {"role": [exc.message]}) from None


def principal_of(user: User) -> Principal:
    """What a signed-in person acts as: the same principal a token with the account's claims gives."""
    return Principal(
        user=user.username,
        role=user.role,
        tenant=user.tenant_id,
        outlet=user.outlet_id,
        warehouse=user.warehouse_id,
        duty=user.duty,
    )


# ---------------------------------------------------------------- managing accounts
def add_user(
    session: Any,
    passwords: Passwords,
    now: datetime,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    tenant: str | None = None,
    outlet: str | None = None,
    warehouse: str | None = None,
    duty: str | None = None,
    known_tenants: Any = None,
) -> User:
    name = check_username(username)
    display = (display_name or name).strip()
    if not 1 <= len(display) <= 64:
        raise ValidationFailed("invalid display name", {"name": ["1 to 64 characters"]})
    account_principal(name, role, tenant, outlet, warehouse, duty, known_tenants)
    check_password(password, name)
    if session.get(User, name) is not None:
        raise Conflict(f"user {name} exists", {"username": ["already taken"]})
    user = User(
        username=name,
        display_name=display,
        role=role,
        tenant_id=tenant or None,
        outlet_id=outlet or None,
        warehouse_id=warehouse or None,
        duty=duty or None,
        password_hash=passwords.hash(password),
        disabled=False,
        failed_logins=0,
        password_changed_at=now,
        created_at=now,
    )
    session.add(user)
    return user


def get_user(session: Any, username: str) -> User:
    user = session.get(User, normal_username(username))
    if user is None:
        raise NotFound(f"user {username} not found", {"username": ["no such user"]})
    return user


def list_users(session: Any) -> list[User]:
    return list(session.scalars(select(User).order_by(User.role, User.tenant_id, User.username)))


def set_password(session: Any, passwords: Passwords, now: datetime, user: User, password: str) -> None:
    """A new password (reset by an operator or changed by its owner): clears the lock and ends
    every portal session of the account."""
    from services.gateway.portal.sessions import end_all

    check_password(password, user.username)
    user.password_hash = passwords.hash(password)
    user.password_changed_at = now
    user.failed_logins = 0
    user.locked_until = None
    end_all(session, user.username)


def disable(session: Any, user: User) -> None:
    """The account can no longer sign in; its portal sessions end now."""
    from services.gateway.portal.sessions import end_all

    user.disabled = True
    end_all(session, user.username)


# ---------------------------------------------------------------- signing in
def sign_in(
    open_uow: Callable[[], Any],
    passwords: Passwords,
    throttle: Throttle,
    now: datetime,
    username: Any,
    password: Any,
    address: str,
) -> User:
    """The account `username` if `password` is its password and neither it nor `address` is
    locked; else Unauthorized or TooManyRequests naming the field. A failure is counted (and
    committed) before the error is raised; a success resets the account's counter, notes the
    time and replaces a hash made with other parameters.

    The password is checked outside any transaction (Argon2 takes a while, and on SQLite a unit
    of work holds the one writer's turn): `open_uow()` opens a unit of work for each step."""
    name = normal_username(username)
    password = password if isinstance(password, str) else ""
    if not name:
        raise Unauthorized("username missing", {"username": ["required"]})
    if not password:
        raise Unauthorized("password missing", {"password": ["required"]})
    with open_uow() as uow:
        place = uow.session.get(AddressFailures, address)
        if place is not None and _locked(place.locked_until, now):
            raise _throttled(place.locked_until, now)
        user = uow.session.get(User, name)
        if user is not None and _locked(user.locked_until, now):
            raise _throttled(user.locked_until, now)
        stored_hash = user.password_hash if user is not None else None
    if stored_hash is None:
        passwords.spend_time(password)
        ok = False
    else:
        ok = passwords.verify(stored_hash, password)
    new_hash = passwords.hash(password) if ok and passwords.needs_rehash(stored_hash) else None
    with open_uow() as uow:
        user = uow.session.get(User, name)
        if not ok or user is None:
            place = uow.session.get(AddressFailures, address)
            locked_until = _count_failure(uow.session, throttle, now, user, place, address)
            uow.commit()
            if locked_until is not None:
                raise _throttled(locked_until, now)
            raise Unauthorized(WRONG, {"password": [WRONG]})
        if user.disabled:
            raise Unauthorized("account disabled", {"username": ["this account is disabled"]})
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        if new_hash is not None and user.password_hash == stored_hash:
            user.password_hash = new_hash
        uow.commit()
        return user


def _locked(until: datetime | None, now: datetime) -> bool:
    return until is not None and as_utc(until) > now


def _throttled(until: datetime | None, now: datetime) -> TooManyRequests:
    seconds = max(1, math.ceil((as_utc(until) - now).total_seconds())) if until is not None else 60
    minutes = max(1, math.ceil(seconds / 60))
    message = f"too many failed sign-ins; try again in {minutes} minutes"
    return TooManyRequests(message, {"username": [message]}, retry_after=seconds)


def _count_failure(
    session: Any, throttle: Throttle, now: datetime, user: User | None, place: AddressFailures | None, address: str
) -> datetime | None:
    """Count one failure against the account (if it exists) and the address; the lock it
    starts, if any."""
    window = timedelta(seconds=throttle.window_seconds)
    lock = timedelta(seconds=throttle.lock_seconds)
    locked_until = None
    if user is not None:
        last = as_utc(user.last_failed_at)
        user.failed_logins = 1 if last is None or now - last > window else user.failed_logins + 1
        user.last_failed_at = now
        if user.failed_logins >= throttle.max_failures:
            user.locked_until = locked_until = now + lock
            user.failed_logins = 0
    if place is None:
        place = AddressFailures(address=address, failures=0, window_started_at=now)
        session.add(place)
    if now - as_utc(place.window_started_at) > window:
        place.failures, place.window_started_at = 0, now
    place.failures += 1
    if place.failures >= throttle.max_address_failures:
        place.locked_until = now + lock
        place.failures, place.window_started_at = 0, now
        locked_until = max(locked_until, place.locked_until) if locked_until else place.locked_until
    return locked_until
