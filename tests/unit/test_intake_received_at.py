"""Who may say when a request was received (it starts the SLA clock): services.intake.domain.received_at."""

from datetime import UTC, datetime, timedelta

import pytest

from services.intake import domain
from shared import tenancy
from shared.errors import ValidationFailed

NOW = datetime(2026, 6, 10, 2, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)


def _refused(given, role):
    with pytest.raises(ValidationFailed) as info:
        domain.received_at(given, NOW, role)
    assert list(info.value.fields) == ["received_at"]
    return info.value


def test_without_a_time_it_is_now_for_everyone():
    for role in tenancy.ROLES:
        assert domain.received_at(None, NOW, role) == NOW


def test_staff_and_the_bridge_may_back_date():
    local = YESTERDAY.astimezone(domain.LOCAL_TZ)
    for role in (tenancy.CENTER, tenancy.HQ, tenancy.SERVICE):  # CSV import, late entry, hotline/fax bridge
        got = domain.received_at(local, NOW, role)
        assert got == YESTERDAY and got.tzinfo == UTC


def test_customers_and_outlets_may_not_set_it():
    for role in (tenancy.CUSTOMER, tenancy.OUTLET, tenancy.WAREHOUSE):
        _refused(YESTERDAY, role)
        _refused(NOW, role)


def test_never_in_the_future_beyond_the_clock_skew_nor_before_2000():
    assert domain.received_at(NOW + domain.CLOCK_SKEW, NOW, tenancy.CENTER) == NOW + domain.CLOCK_SKEW
    assert "future" in _refused(NOW + domain.CLOCK_SKEW + timedelta(seconds=1), tenancy.CENTER).message
    _refused(datetime(1999, 12, 31, tzinfo=UTC), tenancy.HQ)
