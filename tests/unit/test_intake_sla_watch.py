"""The SLA watchdog's warning (sla_watch): a running deadline past SLA_AT_RISK_SHARE of its window
warns once; not before, not past due, not when met, breached, warned, or its ticket is over."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from services.intake import sla_watch

RECEIVED = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
DUE = RECEIVED + timedelta(hours=10)


def ticket(**kw):
    base = dict(
        tenant_id="C01",
        id="t1",
        number="C01-261203-AAAA",
        kind="repair",
        status="accepted",
        case_state=None,
        received_at=RECEIVED,
        assigned_outlet_id="C01-O01",
    )
    return SimpleNamespace(**{**base, **kw})


def deadline(**kw):
    base = dict(sla="onsite", due_at=DUE, met_at=None, breached_at=None, at_risk_at=None)
    return SimpleNamespace(**{**base, **kw})


def test_warns_once_past_the_share_of_the_window():
    assert sla_watch.at_risk_from(RECEIVED, DUE, 0.8) == RECEIVED + timedelta(hours=8)
    assert sla_watch.at_risk(ticket(), deadline(), RECEIVED + timedelta(hours=7, minutes=59), 0.8) == []
    [(event, body)] = sla_watch.at_risk(ticket(), deadline(), RECEIVED + timedelta(hours=8), 0.8)
    assert event == "sla.at_risk"
    assert body["sla"] == "onsite" and body["due_at"] == DUE and body["share"] == 0.8
    assert body["number"] == "C01-261203-AAAA" and body["assigned_outlet_id"] == "C01-O01"
    # a share of 0.5 warns earlier
    assert sla_watch.at_risk(ticket(), deadline(), RECEIVED + timedelta(hours=5), 0.5)


@pytest.mark.parametrize(
    "t, d, hours",
    [
        (ticket(), deadline(at_risk_at=RECEIVED + timedelta(hours=8)), 9),  # warned already
        (ticket(), deadline(met_at=RECEIVED + timedelta(hours=1)), 9),  # met
        (ticket(), deadline(breached_at=RECEIVED + timedelta(hours=9)), 9),  # breached
        (ticket(), deadline(), 10),  # past due: the breach is the news
        (ticket(status="closed"), deadline(), 9),  # ticket over
        (ticket(kind="complaint", case_state="closed"), deadline(), 9),  # case over
    ],
)
def test_no_warning(t, d, hours):
    assert sla_watch.at_risk(t, d, RECEIVED + timedelta(hours=hours), 0.8) == []


def test_back_dated_window_and_share_config():
    assert sla_watch.at_risk_from(DUE, RECEIVED, 0.8) == RECEIVED  # due before receipt: the due time
    assert sla_watch.parse_share(None) == 0.8 and sla_watch.parse_share("0.6") == 0.6
    for bad in ("1", "0", "x", "-0.2"):
        with pytest.raises(ValueError, match="SLA_AT_RISK_SHARE"):
            sla_watch.parse_share(bad)
