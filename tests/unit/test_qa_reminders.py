"""Callbacks due (reminders): a planned callback is told to its caller once, `lead` before due."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.qa import reminders

DUE = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
LEAD = timedelta(hours=24)


def callback(**kw):
    base = dict(
        id="cb1",
        tenant_id="C01",
        ticket_id="t1",
        purpose="tracking",
        caller="C01",
        status="planned",
        due_at=DUE,
        due_notified_at=None,
        outlet_id="C01-O01",
    )
    return SimpleNamespace(**{**base, **kw})


def test_comes_due_once_within_the_lead():
    assert not reminders.comes_due(callback(), DUE - timedelta(hours=25), LEAD)
    assert reminders.comes_due(callback(), DUE - timedelta(hours=24), LEAD)
    assert reminders.comes_due(callback(), DUE + timedelta(hours=3), LEAD)  # overdue and never told: told
    assert not reminders.comes_due(callback(due_notified_at=DUE - LEAD), DUE, LEAD)
    assert not reminders.comes_due(callback(status="done"), DUE, LEAD)
    body = reminders.due_event(callback(caller="HQ"), "C01-261203-AAAA")
    assert body == {
        "tenant_id": "C01",
        "callback_id": "cb1",
        "ticket_id": "t1",
        "number": "C01-261203-AAAA",
        "purpose": "tracking",
        "caller": "HQ",
        "due_at": DUE,
        "outlet_id": "C01-O01",
    }


def test_lead_config():
    assert reminders.parse_lead("") == LEAD and reminders.parse_lead("0") == timedelta(0)
    for bad in ("x", "-1", "1000"):
        with pytest.raises(ValueError, match="QA_CALLBACK_DUE_NOTICE_HOURS"):
            reminders.parse_lead(bad)
