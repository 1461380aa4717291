"""Settlement's rules moved out of its entrypoints, alone (no nameko, no database): the hold rules
re-run when a hold opens or closes, who pays a job, the tariff cap's adjustment, local months,
when an unreturned part is deducted, which payments fit a statement, why a claim keeps an
account open, and the amounts the API shows."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.settlement import domain, queries
from services.settlement.domain import PASS, AuditContext, ClaimFacts, Status
from services.settlement.tariff import TariffBook

BOOK = TariffBook.load()
UTC = UTC


def facts(**kw):
    base = dict(
        tenant_id="C01",
        outlet_id="C01-O01",
        visit_id="V1",
        ticket_id="T1",
        visit_date=date(2026, 10, 12),
        kind="repair",
        product_line="数控车床",
        fault="无法启动",
        serial_no="SN1",
        tier="in_province",
        planned_km=25.0,
        parts_count=0,
        grade="A",
        warranty="warranty",
        purchase_date=date(2026, 3, 1),
        customer_confirmed=True,
    )
    base.update(kw)
    return ClaimFacts(**base)


def audited(f):
    p = domain.price(f, BOOK.in_force(f.tenant_id, f.visit_date), BOOK)
    return domain.audit(f, p, AuditContext(warranty_years=1))


def by_rule(rules):
    return {r["rule"]: r for r in rules}


def test_an_open_hold_holds_the_claim_and_a_released_one_passes_naming_its_release():
    rules = [r.as_dict() for r in audited(facts()).results]
    held = domain.hold_rules(
        rules,
        AuditContext(
            open_part_holds=(("RMA-1", "P-1", date(2026, 10, 20)),), open_callback_holds=(("CB-1", "不满意"),)
        ),
    )
    assert by_rule(held)["part_return"]["outcome"] == "hold" and "RMA-1" in by_rule(held)["part_return"]["reason"]
    assert by_rule(held)["negative_callback"]["outcome"] == "hold"
    assert [r["rule"] for r in held] == list(domain.RULES)  # every rule once, in the catalogue's order

    released = domain.hold_rules(
        held,
        AuditContext(),
        (
            ("part_return", "RMA-1", "part received at WH-C01"),
            ("callback", "CB-1", "QA closed the callback (resolved)"),
        ),
    )
    assert by_rule(released)["part_return"] == {
        "rule": "part_return",
        "outcome": PASS,
        "amount": None,
        "reason": "RMA-1: part received at WH-C01",
    }
    assert by_rule(released)["negative_callback"]["reason"] == "CB-1: QA closed the callback (resolved)"

    # a callback hold still open keeps its rule held though a part hold was released
    mixed = domain.hold_rules(
        held, AuditContext(open_callback_holds=(("CB-2", None),)), (("part_return", "RMA-1", "received"),)
    )
    assert by_rule(mixed)["part_return"]["reason"] == "RMA-1: received"
    assert by_rule(mixed)["negative_callback"]["outcome"] == "hold"
    assert "dissatisfied" in by_rule(mixed)["negative_callback"]["reason"]

    # no hold ever: the rules' own pass
    clean = domain.hold_rules(rules, AuditContext())
    assert by_rule(clean)["part_return"]["reason"] == "no returnable part overdue"


def test_the_customer_pays_a_self_paid_job_the_maker_every_other():
    assert domain.payer_of("self_paid") == domain.SELF_PAID
    assert domain.payer_of("warranty") == domain.WARRANTY
    assert domain.payer_of(None) == domain.WARRANTY


def test_the_tariff_cap_is_recorded_as_an_adjustment_only_when_it_capped():
    assert domain.cap_adjustment(audited(facts())) is None
    capped = domain.cap_adjustment(audited(facts(claimed={"labour": Decimal("9999.00")})))
    assert capped["rule"] == "tariff_cap" and capped["reason"].startswith("claimed above the tariff")
    assert Decimal(capped["delta"]) < 0


def test_months_and_the_grace_of_an_unreturned_part():
    assert domain.local_month(datetime(2026, 10, 31, 16, 30, tzinfo=UTC)) == "2026-11"  # 00:30 in Shanghai
    assert domain.local_month(datetime(2026, 10, 31, 15, 59, tzinfo=UTC)) == "2026-10"
    due = datetime(2026, 10, 1, 15, 59, 59, tzinfo=UTC)
    assert domain.unreturned_deadline(due, "15") == due + timedelta(days=15)
    assert domain.unreturned_deadline(due, 0) == due


def test_a_payment_fits_what_is_outstanding_in_its_direction():
    assert domain.payment_fits(100, 100) and domain.payment_fits(40, 100)
    assert domain.payment_fits(-30, -30)  # the outlet pays back a negative statement
    for amount, outstanding in ((0, 100), (10, 0), (101, 100), (-10, 100), (10, -100), (-31, -30)):
        assert not domain.payment_fits(amount, outstanding), (amount, outstanding)
    assert domain.statement_status(100, 100) == "paid"
    assert domain.statement_status(40, 100) == "partially_paid"


def test_why_a_claim_keeps_the_account_open():
    describe = domain.open_claim_description
    assert describe(Status.TECH_REVIEW, False, domain.WARRANTY, False) == "claim in audit (tech_review)"
    assert describe(Status.CENTER_REVIEW, True, domain.WARRANTY, False) == "claim in audit (center_review)"
    assert describe(Status.APPROVED, True, domain.WARRANTY, False) == "claim approved but held"
    assert describe(Status.APPROVED, False, domain.SELF_PAID, False) == "self-paid claim without the customer's receipt"
    assert describe(Status.APPROVED, False, domain.SELF_PAID, True) == "approved claim not yet on a statement"
    assert describe(Status.APPROVED, False, domain.WARRANTY, False) == "approved claim not yet on a statement"


def test_amounts_are_shown_in_yuan_to_the_fen():
    assert queries.yuan_text(31550) == "315.50"
    assert queries.yuan_text(-5) == "-0.05"
    assert queries.yuan_text(None) == "0.00"
