"""Settlement's refund rules (退赔款, seed 000: paid by the settlement department, 结算部门 = HQ)."""

import pytest

from services.settlement import refunds
from shared.errors import Conflict, Forbidden


def test_only_hq_pays_and_hq_or_the_center_read():
    refunds.check_payer("hq")
    for role in ("center", "outlet", "warehouse", "customer", "service"):
        with pytest.raises(Forbidden):
            refunds.check_payer(role)
    refunds.check_reader("center")
    with pytest.raises(Forbidden):
        refunds.check_reader("outlet")


def test_a_refund_is_paid_once():
    refunds.check_payable(refunds.REQUESTED)
    with pytest.raises(Conflict) as exc:
        refunds.check_payable(refunds.PAID)
    assert "refund_id" in exc.value.fields
