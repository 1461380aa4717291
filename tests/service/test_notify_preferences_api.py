"""Per-user preferences through the gateway and the running notify (GET/PUT
/api/v1/notify/preferences): bad input is refused naming the field and changes nothing; a user's
own e-mail copy reaches a real SMTP server at once when urgent, waits when their quiet hours hold
a routine one; a kind switched off in the inbox no longer shows there (a colleague still sees it)."""

import uuid
from datetime import timedelta

import pytest
from nameko.standalone.events import event_dispatcher

from shared import clock, tenancy
from shared.clock import LOCAL_TZ
from tests import notify_doubles as doubles
from tests.conftest import C01, HQ, Platform, wait_for
from tests.openapi_check import AnswerCheck

API = "/api/v1"
ME = tenancy.Principal("wuhan-lead", "center", tenant="C01")


@pytest.fixture
def platform(runner_factory, service_config, tmp_path):
    from services.gateway.service import GatewayService
    from services.notify.service import NotifyService

    smtp_port = doubles.free_port()
    config = dict(
        service_config,
        NOTIFY_SMTP_HOST="127.0.0.1",
        NOTIFY_SMTP_PORT=smtp_port,
        NOTIFY_CONTACTS={"centers": {"C01": {"email": ["wuhan-center@example.com"]}}},
        NOTIFY_QUIET_HOURS="off",
        NOTIFY_RETRY_SECONDS=0.5,
        NOTIFY_SEND_TIMEOUT_SECONDS=3,
    )
    smtp = doubles.start("smtp", smtp_port, tmp_path / "mail")
    runner = runner_factory(config, NotifyService, GatewayService)
    runner.start()
    p = Platform(runner, config)
    p.check = AnswerCheck(p.get("/openapi.json").json())
    p.mail_dir = tmp_path / "mail"
    yield p
    doubles.stop(smtp)


def publish(p, source, event_type, body):
    headers = {"nameko.event_id": uuid.uuid4().hex, "nameko.principal": tenancy.service_principal(source).encode()}
    event_dispatcher(p.config, headers=headers)(source, event_type, body)


def mails_to(p, address):
    return [m for m in doubles.mails(p.mail_dir) if m["To"].addresses[0].addr_spec == address]


def test_preferences_are_checked_kept_and_respected_by_delivery(platform):
    p = platform
    r = p.get(f"{API}/notify/preferences", ME)
    assert r.status_code == 200, r.text
    p.check(r)
    assert r.json()["channels"]["sla_breached"] == ["inbox"] and r.json()["email"] is None

    for body, field in (
        ({"channels": {"sla_breached": ["email"]}}, "email"),
        ({"email": "me-at-example"}, "email"),
        ({"quiet_hours": "25:00-07:00"}, "quiet_hours"),
        ({"channels": {"no_such_kind": ["inbox"]}}, "channels.no_such_kind"),
        ({"channels": {"sla_breached": ["pigeon"]}}, "channels.sla_breached"),
    ):
        r = p.request("PUT", f"{API}/notify/preferences", ME, json=body)
        assert r.status_code == 422 and field in r.json()["error"]["fields"], (body, r.text)
        p.check(r)
    assert p.get(f"{API}/notify/preferences", ME).json()["email"] is None  # nothing changed

    # quiet hours around now (Beijing time): routine copies wait, urgent ones do not
    local = clock.now().astimezone(LOCAL_TZ)
    quiet = f"{(local - timedelta(hours=1)):%H:%M}-{(local + timedelta(hours=2)):%H:%M}"
    body = {
        "email": "lead@c01.example.com",
        "quiet_hours": quiet,
        "channels": {"sla_breached": ["email", "inbox"], "web_forwarded": ["email", "inbox"], "ticket_registered": []},
    }
    r = p.request("PUT", f"{API}/notify/preferences", ME, json=body)
    assert r.status_code == 200, r.text
    p.check(r)
    assert r.json()["quiet_hours"] == quiet and r.json()["channels"]["ticket_registered"] == []
    # an outlet's and an HQ user's own rows (their tenant and outlet scope them as notices are)
    o1 = tenancy.Principal("o1-lead", "outlet", tenant="C01", outlet="C01-O01")
    for who in (o1, HQ):
        r = p.request(
            "PUT",
            f"{API}/notify/preferences",
            who,
            json={"phone": "13900000009", "channels": {"sla_breached": ["sms"]}},
        )
        assert r.status_code == 200 and r.json()["user"] == who.user, r.text
        assert p.get(f"{API}/notify/preferences", who).json()["channels"]["sla_breached"] == ["sms"]
    assert p.get(f"{API}/notify/preferences", ME).json()["phone"] is None  # each user's own
    warehouse = tenancy.Principal("w", "warehouse", tenant="C01", warehouse="W")
    assert p.request("PUT", f"{API}/notify/preferences", warehouse, json={"email": "a@b.cn"}).status_code == 403

    now = clock.now().isoformat()
    breach = {
        "tenant_id": "C01",
        "ticket_id": "t-pref",
        "number": "C01-PREF-1",
        "sla": "onsite",
        "due_at": now,
        "detected_at": now,
        "assigned_outlet_id": None,
    }
    publish(p, "intake", "sla.breached", breach)
    mine = wait_for(lambda: mails_to(p, "lead@c01.example.com"), what="the user's own copy of the breach")
    assert mine[0]["Subject"] == "【超时警告】C01-PREF-1 上门超时"
    wait_for(lambda: mails_to(p, "wuhan-center@example.com"), what="the center's copy")

    registered = {
        "tenant_id": "C01",
        "ticket_id": "t-web",
        "number": "C01-WEB-1",
        "kind": "repair",
        "channel": "web",
        "priority": 3,
        "received_at": now,
        "warranty": "unknown",
        "geo_ambiguous": False,
    }
    publish(p, "intake", "ticket.registered", registered)
    hotline = dict(registered, ticket_id="t-hot", number="C01-HOT-1", channel="hotline")
    publish(p, "intake", "ticket.registered", hotline)

    def held():
        log = p.get(f"{API}/notify/notices", HQ, params={"ticket_id": "t-web", "channel": "email"}).json()["items"]
        own = [n for n in log if n["audience"] == "user"]
        return own and own[0]

    notice = wait_for(held, what="the user's copy of the web request, recorded")
    assert notice["status"] == "pending" and notice["audience_id"] == "wuhan-lead"
    assert notice["next_attempt_at"] > clock.now().isoformat()  # held until the user's quiet hours end
    wait_for(
        lambda: mails_to(p, "wuhan-center@example.com") and len(mails_to(p, "wuhan-center@example.com")) == 2,
        what="the center's e-mail (its contacts have no quiet hours)",
    )
    assert len(mails_to(p, "lead@c01.example.com")) == 1

    # the inbox: ticket_registered switched off for me, still there for my colleague
    def kinds(principal):
        return {n["ticket_id"]: n["kind"] for n in p.get(f"{API}/notify/inbox", principal).json()["items"]}

    colleague = wait_for(lambda: "t-hot" in kinds(C01) and kinds(C01), what="the colleague's inbox")
    assert colleague["t-hot"] == "ticket_registered"
    assert "t-hot" not in kinds(ME) and kinds(ME)["t-pref"] == "sla_breached"
