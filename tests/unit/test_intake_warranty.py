"""domain.decide_warranty: 15-day return, 30-day exchange, warranty years, expiry, 29 February."""

from datetime import date

import pytest

from services.intake.warranty import decide_warranty
from shared.errors import ValidationFailed
from shared.tenants import TenantDirectory, WarrantyTerms

ONE = WarrantyTerms(warranty_years=1)
TWO = WarrantyTerms(warranty_years=2)
FIVE = WarrantyTerms(warranty_years=5)


@pytest.mark.parametrize(
    "terms,purchase,on,status,remedy",
    [
        (ONE, date(2025, 3, 1), date(2025, 3, 1), "warranty", "return"),  # same day
        (ONE, date(2025, 3, 1), date(2025, 3, 16), "warranty", "return"),  # day 15
        (ONE, date(2025, 3, 1), date(2025, 3, 17), "warranty", "exchange"),  # day 16
        (ONE, date(2025, 3, 1), date(2025, 3, 31), "warranty", "exchange"),  # day 30
        (ONE, date(2025, 3, 1), date(2025, 4, 1), "warranty", "repair"),  # day 31
        (ONE, date(2025, 3, 1), date(2026, 3, 1), "warranty", "repair"),  # last day of 1 year
        (ONE, date(2025, 3, 1), date(2026, 3, 2), "self_paid", "repair"),  # expired
        (TWO, date(2024, 3, 1), date(2026, 3, 1), "warranty", "repair"),
        (TWO, date(2024, 3, 1), date(2026, 3, 2), "self_paid", "repair"),
        (FIVE, date(2021, 6, 1), date(2026, 5, 31), "warranty", "repair"),
        (FIVE, date(2019, 6, 1), date(2026, 5, 31), "self_paid", "repair"),
    ],
)
def test_decide_warranty(terms, purchase, on, status, remedy):
    d = decide_warranty(terms, purchase, on)
    assert (d.status, d.remedy) == (status, remedy), d.reason
    assert d.expires_on is not None


def test_29_february_purchase():
    d = decide_warranty(ONE, date(2024, 2, 29), date(2025, 2, 28))
    assert d.status == "warranty" and d.expires_on == date(2025, 2, 28)
    d = decide_warranty(ONE, date(2024, 2, 29), date(2025, 3, 1))
    assert d.status == "self_paid"
    d = decide_warranty(WarrantyTerms(warranty_years=4), date(2024, 2, 29), date(2028, 2, 29))
    assert d.status == "warranty" and d.expires_on == date(2028, 2, 29)


def test_missing_purchase_date():
    d = decide_warranty(ONE, None, date(2025, 3, 1))
    assert d.status == "unknown" and d.remedy is None and d.expires_on is None


def test_purchase_after_request_is_rejected():
    with pytest.raises(ValidationFailed) as exc:
        decide_warranty(ONE, date(2025, 3, 2), date(2025, 3, 1))
    assert "purchase_date" in exc.value.fields


def test_terms_per_product_line():
    directory = TenantDirectory.load()
    assert directory.warranty_terms("螺杆空压机").warranty_years == 5
    assert directory.warranty_terms("立式加工中心").warranty_years == 2
    assert directory.warranty_terms("数控车床").warranty_years == 1
    unknown = directory.warranty_terms("不存在的产品")
    assert (unknown.warranty_years, unknown.return_days, unknown.exchange_days) == (1, 15, 30)
