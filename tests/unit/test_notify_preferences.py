"""Per-user preferences (preferences.py): the checks name each wrong field and change nothing;
a user's own e-mail/SMS copies of their audience's notices; the inbox kinds they switched off."""

from datetime import UTC, datetime, time

import pytest

from services.notify import domain, preferences
from shared.errors import ValidationFailed

AGENT = preferences.UserPrefs("wuhan-agent", "center", "C01")
CONTACTS = domain.Contacts.parse({"centers": {"C01": {"email": ["c01@example.com"]}}})


def test_check_keeps_what_is_left_out_and_drops_the_defaults():
    first = preferences.check(
        {
            "email": " me@c01.example.com ",
            "channels": {"sla_breached": ["sms", "email", "inbox"]},
            "phone": "13800001234",
        },
        AGENT,
    )
    assert (first.email, first.phone, first.quiet_hours) == ("me@c01.example.com", "13800001234", None)
    assert first.takes("sla_breached") == ("email", "sms", "inbox") and first.takes("callback_due") == ("inbox",)
    second = preferences.check({"quiet_hours": "21:30-07:00", "channels": {"callback_due": []}}, first)
    assert second.email == "me@c01.example.com" and second.quiet_hours == "21:30-07:00"
    assert second.takes("sla_breached") == ("inbox",)  # channels replaced as a whole
    assert second.hidden() == ("callback_due",)
    assert preferences.check({"channels": {"callback_due": ["inbox"]}}, second).channels == {}
    shown = preferences.as_json(second)
    assert shown["channels"]["callback_due"] == [] and set(shown["channels"]) == set(preferences.KIND_TITLES)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": 5}, "email"),
        ({"phone": "138****0000"}, "phone"),
        ({"quiet_hours": "late"}, "quiet_hours"),
        ({"channels": {"visit_scheduled": ["sms"]}}, "channels.visit_scheduled"),  # the customer's, not staff's
        ({"channels": {"sla_breached": ["fax"]}}, "channels.sla_breached"),
        ({"channels": {"sla_breached": "email"}}, "channels.sla_breached"),
        ({"channels": ["email"]}, "channels"),
        ({"channels": {"sla_breached": ["email"]}}, "email"),  # e-mail chosen, no address
        ({"channels": {"sla_breached": ["sms"]}}, "phone"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_check_refuses_naming_the_field(body, field):
    with pytest.raises(ValidationFailed) as caught:
        preferences.check(body, AGENT)
    assert field in caught.value.fields, caught.value.fields
    with pytest.raises(ValidationFailed) as caught:
        preferences.check(["x"], AGENT)
    assert "_body" in caught.value.fields


def test_own_copies_go_to_the_users_of_the_audience_at_their_address():
    me = preferences.check({"email": "me@c01.example.com", "channels": {"sla_breached": ["email", "inbox"]}}, AGENT)
    other_center = preferences.UserPrefs("jinan-agent", "center", "C02", email="j@x.cn", channels=me.channels)
    outlet = preferences.UserPrefs(
        "o1", "outlet", "C01", "C01-O01", phone="13900000001", channels={"sla_breached": ("sms",)}
    )
    fact = {"tenant_id": "C01", "ticket_id": "t1", "assigned_outlet_id": "C01-O01"}
    planned = domain.plan(domain.notices_for("sla.breached", fact), fact, CONTACTS)
    copies = preferences.own_copies(planned, [me, other_center, outlet])
    assert [(c.audience, c.audience_id, c.channel, c.address, c.urgent, c.undeliverable) for c in copies] == [
        ("user", "wuhan-agent", "email", "me@c01.example.com", True, None),
        ("user", "o1", "sms", "13900000001", True, None),
    ]
    # a kind the user did not choose e-mail for: no copy
    registered = {"tenant_id": "C01", "ticket_id": "t2", "channel": "web"}
    plans = domain.plan(domain.notices_for("ticket.registered", registered), registered, CONTACTS)
    assert preferences.own_copies(plans, [me]) == []


def test_a_users_quiet_hours_hold_non_urgent_copies_only():
    quiet = domain.parse_quiet_hours("21:30-07:00")
    assert quiet == (time(21, 30), time(7))
    night = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)  # 22:00 in Beijing
    assert domain.not_before(night, quiet, False, "email") == datetime(2026, 12, 3, 23, 0, tzinfo=UTC)
    assert domain.not_before(night, quiet, True, "email") == night
