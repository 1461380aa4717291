"""People's accounts (services/gateway/accounts.py) on a real SQLite database through the gateway's
own migration: the role/tenant/outlet rules are a token's, Argon2 hashes are replaced when the
parameters change, and failed sign-ins lock the account and the client address."""

from datetime import UTC, datetime, timedelta

import pytest

from services.gateway import accounts
from services.gateway.models import Base, PortalSession, User
from services.gateway.portal import sessions
from services.gateway.portal.web import GATEWAY
from shared.auth import issue_token, verify_token
from shared.db import Store
from shared.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed
from shared.tenants import TenantDirectory

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CHEAP = dict(time_cost=1, memory_kib=8192, parallelism=1)
SECRET = "unit-test-secret-of-at-least-32-bytes!"
CENTERS = TenantDirectory.load().centers


@pytest.fixture
def store(tmp_path):
    store = Store("gateway", f"sqlite:///{tmp_path}/gateway.db", Base.metadata, "services.gateway.migrations")
    store.create_schema()  # the Alembic migration, as the gateway and `fsm migrate` run it
    yield store
    store.dispose()


def add(store, username="o5", password="correct horse 1", role="outlet", passwords=None, **kw):
    kw = kw or {"tenant": "C01", "outlet": "C01-O05"}
    with store.uow(GATEWAY) as uow:
        user = accounts.add_user(
            uow.session, passwords or accounts.Passwords(**CHEAP), NOW, username, password, role, **kw
        )
        uow.commit()
        return user


def sign_in(store, username, password, now=NOW, address="10.0.0.1", throttle=None, passwords=None):
    return accounts.sign_in(
        lambda: store.uow(GATEWAY),
        passwords or accounts.Passwords(**CHEAP),
        throttle or accounts.Throttle(max_failures=3, max_address_failures=5, window_seconds=600, lock_seconds=900),
        now,
        username,
        password,
        address,
    )


def fields_of(excinfo):
    return set(excinfo.value.fields)


# ---------------------------------------------------------------- the account's principal
@pytest.mark.parametrize(
    "role, kw, field",
    [
        ("outlet", {"tenant": "C01"}, "outlet"),
        ("outlet", {"outlet": "C01-O05"}, "tenant"),
        ("center", {}, "tenant"),
        ("warehouse", {"tenant": "C01"}, "warehouse"),
        ("hq", {"outlet": "C01-O05"}, "outlet"),
        ("outlet", {"tenant": "C01", "outlet": "C01-O05", "duty": "technical_lead"}, "duty"),
        ("center", {"tenant": "C01", "duty": "boss"}, "duty"),
        ("center", {"tenant": "C99"}, "tenant"),
        ("customer", {}, "role"),
    ],
)
def test_an_account_the_token_rules_refuse_is_refused_naming_the_field(role, kw, field):
    with pytest.raises(ValidationFailed) as excinfo:
        accounts.account_principal("someone", role, known_tenants=CENTERS, **kw)
    assert field in fields_of(excinfo)


def test_a_signed_in_account_acts_as_the_principal_its_token_would_carry(store):
    user = add(store, "tl", role="center", tenant="C01", duty="technical_lead")
    principal = accounts.principal_of(user)
    assert verify_token(SECRET, issue_token(SECRET, principal)) == principal
    assert (principal.user, principal.role, principal.tenant, principal.duty) == (
        "tl",
        "center",
        "C01",
        "technical_lead",
    )
    keeper = accounts.principal_of(add(store, "wh", role="warehouse", tenant="C01", warehouse="WH-C01"))
    assert (keeper.role, keeper.warehouse) == ("warehouse", "WH-C01")


@pytest.mark.parametrize(
    "password, username, field_message",
    [
        ("short", "o5", "at least 8 characters"),
        (" " * 9, "o5", "must not be blank"),
        ("ABCDEFGH1", "abcdefgh1", "username"),
    ],
)
def test_password_rules(password, username, field_message):
    with pytest.raises(ValidationFailed) as excinfo:
        accounts.check_password(password, username)
    assert field_message in " ".join(excinfo.value.fields["password"])


def test_usernames_are_checked_lower_cased_and_unique(store):
    with pytest.raises(ValidationFailed) as excinfo:
        add(store, "no spaces")
    assert "username" in fields_of(excinfo)
    user = add(store, "  O5.Wuhan ")
    assert user.username == "o5.wuhan"
    with pytest.raises(Conflict) as excinfo:
        add(store, "o5.wuhan")
    assert "username" in fields_of(excinfo)


def test_the_password_is_stored_as_an_argon2id_hash(store):
    add(store, password="correct horse 1")
    with store.session(GATEWAY) as s:
        stored = s.get(User, "o5").password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


# ---------------------------------------------------------------- signing in
def test_sign_in_with_the_right_password_and_not_with_a_wrong_one(store):
    add(store)
    assert sign_in(store, "O5", "correct horse 1").username == "o5"
    with pytest.raises(Unauthorized) as excinfo:
        sign_in(store, "o5", "wrong horse 1")
    assert fields_of(excinfo) == {"password"}
    # an unknown user gets the same answer as a wrong password
    with pytest.raises(Unauthorized) as unknown:
        sign_in(store, "nobody", "wrong horse 1")
    assert unknown.value.fields == excinfo.value.fields


def test_failures_lock_the_account_even_for_the_right_password_until_the_lock_ends(store):
    add(store)
    for attempt in range(2):
        with pytest.raises(Unauthorized):
            sign_in(store, "o5", f"guess {attempt}xx", now=NOW + timedelta(seconds=attempt))
    with pytest.raises(TooManyRequests) as excinfo:  # the third failure locks it for 15 minutes
        sign_in(store, "o5", "guess 3xxx", now=NOW + timedelta(seconds=2))
    assert excinfo.value.retry_after == 900 and "15 minutes" in excinfo.value.message
    with pytest.raises(TooManyRequests) as excinfo:
        sign_in(store, "o5", "correct horse 1", now=NOW + timedelta(minutes=10))
    assert excinfo.value.retry_after == 5 * 60 + 2
    assert sign_in(store, "o5", "correct horse 1", now=NOW + timedelta(minutes=16)).username == "o5"
    with store.session(GATEWAY) as s:
        user = s.get(User, "o5")
        assert user.failed_logins == 0 and user.locked_until is None


def test_failures_far_apart_do_not_add_up(store):
    add(store)
    for hours in range(5):  # one a hour, the window being 10 minutes
        with pytest.raises(Unauthorized):
            sign_in(store, "o5", "guess xxxx", now=NOW + timedelta(hours=hours))
    assert sign_in(store, "o5", "correct horse 1", now=NOW + timedelta(hours=5)).username == "o5"


def test_one_address_trying_many_usernames_is_locked(store):
    add(store)
    for n in range(4):
        with pytest.raises(Unauthorized):
            sign_in(store, f"user{n}", "guess xxxx", address="10.9.9.9")
    with pytest.raises(TooManyRequests):
        sign_in(store, "user9", "guess xxxx", address="10.9.9.9")
    with pytest.raises(TooManyRequests):  # that address, even with a right password
        sign_in(store, "o5", "correct horse 1", address="10.9.9.9")
    assert sign_in(store, "o5", "correct horse 1", address="10.0.0.2").username == "o5"


def test_a_disabled_account_cannot_sign_in_and_its_sessions_end(store):
    add(store)
    with store.uow(GATEWAY) as uow:
        session_id = sessions.begin(uow.session, uow.session.get(User, "o5"), NOW, 3600, "10.0.0.1")
        uow.commit()
    with store.session(GATEWAY) as s:
        assert sessions.find(s, session_id, NOW) is not None
    with store.uow(GATEWAY) as uow:
        accounts.disable(uow.session, accounts.get_user(uow.session, "o5"))
        uow.commit()
    with pytest.raises(Unauthorized) as excinfo:
        sign_in(store, "o5", "correct horse 1")
    assert fields_of(excinfo) == {"username"}
    with store.session(GATEWAY) as s:
        assert sessions.find(s, session_id, NOW) is None
        assert s.query(PortalSession).count() == 0


def test_a_hash_made_with_other_parameters_is_replaced_at_sign_in(store):
    old = accounts.Passwords(time_cost=1, memory_kib=8192, parallelism=1)
    new = accounts.Passwords(time_cost=2, memory_kib=16384, parallelism=1)
    add(store, passwords=old)
    with store.session(GATEWAY) as s:
        before = s.get(User, "o5").password_hash
    assert new.needs_rehash(before)
    sign_in(store, "o5", "correct horse 1", passwords=new)
    with store.session(GATEWAY) as s:
        after = s.get(User, "o5").password_hash
    assert after != before and "m=16384,t=2,p=1" in after and not new.needs_rehash(after)
    assert sign_in(store, "o5", "correct horse 1", passwords=new).username == "o5"


def test_sessions_expire_on_the_server(store):
    user = add(store)
    with store.uow(GATEWAY) as uow:
        session_id = sessions.begin(uow.session, user, NOW, 3600, None)
        uow.commit()
    with store.session(GATEWAY) as s:
        visitor = sessions.find(s, session_id, NOW + timedelta(minutes=59))
        assert visitor is not None and visitor.user.username == "o5" and len(visitor.csrf_token) >= 32
        assert sessions.find(s, session_id + "x", NOW) is None
        assert sessions.find(s, session_id, NOW + timedelta(minutes=61)) is None
        # only the hash of the id is stored
        assert s.query(PortalSession).filter_by(id_hash=session_id).count() == 0


def test_a_new_password_clears_the_lock_and_ends_the_sessions(store):
    user = add(store)
    with store.uow(GATEWAY) as uow:
        session_id = sessions.begin(uow.session, user, NOW, 3600, None)
        uow.commit()
    for attempt in range(3):
        with pytest.raises((Unauthorized, TooManyRequests)):
            sign_in(store, "o5", f"guess {attempt}xxx")
    with store.uow(GATEWAY) as uow:
        accounts.set_password(
            uow.session, accounts.Passwords(**CHEAP), NOW, accounts.get_user(uow.session, "o5"), "a new secret 2"
        )
        uow.commit()
    with store.session(GATEWAY) as s:
        assert sessions.find(s, session_id, NOW) is None
    assert sign_in(store, "o5", "a new secret 2").username == "o5"
    with pytest.raises(Unauthorized):
        sign_in(store, "o5", "correct horse 1")
