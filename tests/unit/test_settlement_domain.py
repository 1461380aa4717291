"""Settlement's domain alone: money rounding, tariff versions and overrides, pricing, every
audit rule (a claim that passes and one that trips it), the three audit levels, statements."""

from datetime import date
from decimal import Decimal

import pytest

from services.settlement import audit_levels, domain, money
from services.settlement.audit_levels import AuditRefused
from services.settlement.domain import AuditContext, ClaimFacts, PriorClaim, Status
from services.settlement.tariff import TariffBook, TariffError, parse_version

BOOK = TariffBook.load()
D = Decimal


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


def run(f, ctx=None):
    tariff = BOOK.in_force(f.tenant_id, f.visit_date)
    p = domain.price(f, tariff, BOOK)
    return p, domain.audit(f, p, ctx or AuditContext(warranty_years=1))


def rule(result, name):
    return next(r for r in result.results if r.rule == name)


# ---------------------------------------------------------------- money
def test_money_rounds_half_up_per_line_and_sums_lines():
    assert money.money("0.005") == D("0.01")
    assert money.money("2.675") == D("2.68")  # a float would give 2.67
    assert money.line("315", 1, "1.1") == D("346.50")
    assert money.line("333.33", 1, "0.9") == D("300.00")  # 299.997 → 300.00
    assert money.total([D("0.01")] * 3) == D("0.03")
    mine, rest = money.share(D("333.33"), "0.8")
    assert (mine, rest) == (D("266.66"), D("66.67")) and mine + rest == D("333.33")
    assert money.from_fen(money.to_fen(D("1234.56"))) == D("1234.56")
    with pytest.raises(TypeError):
        money.money(1.5)


# ---------------------------------------------------------------- tariffs
def test_tariff_versions_by_date_and_tenant_override():
    t2025 = BOOK.in_force("C01", date(2025, 12, 31))
    t2026 = BOOK.in_force("C01", date(2026, 1, 1))
    assert t2025.versions == ("HQ-2025",) and t2026.versions == ("HQ-2026",)
    assert t2025.dec("visit_fee") == 50 and t2026.dec("visit_fee") == 60
    c02 = BOOK.in_force("C02", date(2026, 5, 1))
    assert c02.versions == ("HQ-2026", "C02-2026")
    assert c02.dec("visit_fee") == 70 and c02.line_id("visit_fee") == "C02-2026:visit_fee"
    # a merged dict: C02 overrides onsite only, HQ's other entries stay with HQ's line id
    assert c02.sla_deduction("onsite") == (D("150"), "C02-2026:sla_deductions/onsite")
    assert c02.sla_deduction("complaint_close")[1] == "HQ-2026:sla_deductions/complaint_close"
    assert c02.labour("数控车床", "install", "general") == (D("630"), "HQ-2026:labour/数控车床/install")
    with pytest.raises(TariffError):
        BOOK.in_force("C01", date(2024, 6, 1))


def test_tariff_version_validation_names_fields():
    with pytest.raises(TariffError) as err:
        parse_version(
            {
                "id": "HQ-X",
                "tenant": None,
                "valid_from": "2027-01-01",
                "visit_fee": -5,
                "transport_bands": [{"up_to_km": 10, "fee": 0}],
            }
        )
    assert "visit_fee" in err.value.fields and "labour" in err.value.fields
    assert "transport_bands" in err.value.fields
    v = parse_version({"id": "C03-2027", "tenant": "C03", "valid_from": "2026-01-01", "visit_fee": 65})
    with pytest.raises(TariffError):
        TariffBook(
            list(BOOK.versions)
            + [parse_version({"id": "C02-b", "tenant": "C02", "valid_from": "2026-06-01", "visit_fee": 1})],
            {},
            {},
        ).check_overlap(parse_version({"id": "C02-c", "tenant": "C02", "valid_from": "2026-07-01", "visit_fee": 2}))
    BOOK.check_overlap(v)  # C03 has no version yet: fine


def test_fault_classes_and_kinds():
    assert BOOK.fault_class("液压系统漏油") == "hydraulic_thermal"
    assert BOOK.fault_class("运行异响") == "mechanical"
    assert BOOK.fault_class("报警代码E07") == "electrical"
    assert BOOK.fault_class("说不清") == "general"
    assert BOOK.labour_kind("complaint") == "repair" and BOOK.labour_kind("consultation") == "none"


# ---------------------------------------------------------------- pricing
def test_price_lines_cite_tariff_lines():
    p, _ = run(facts(tier="out_of_province", planned_km=420.0, parts_count=2, grade="C", fault="主轴过热"))
    lines = {l.code: l for l in p.lines}
    assert lines["labour"].amount == D("342.00")  # 380 mechanical × 0.90
    assert lines["labour"].tariff_line == "HQ-2026:labour/数控车床/repair/mechanical"
    assert lines["visit_fee"].amount == D("60.00")
    assert lines["transport"].amount == D("320.00") and lines["transport"].tariff_line == "HQ-2026:transport_bands/5"
    assert lines["travel_allowance"].amount == D("320.00")  # ceil(420/300)=2 days × 160
    assert lines["parts_handling"].amount == D("40.00")
    assert p.total == sum(l.amount for l in p.lines) == D("1082.00")
    maint = run(facts(kind="maintenance", grade="B", planned_km=5))[0]
    assert {l.code: l.amount for l in maint.lines} == {
        "labour": D("250.00"),
        "visit_fee": D("60.00"),
        "transport": D("0.00"),
    }


# ---------------------------------------------------------------- audit rules: pass and trip
def test_rule_warranty_valid():
    _, ok = run(facts(purchase_date=date(2025, 11, 1)), AuditContext(warranty_years=1))
    assert rule(ok, "warranty_valid").outcome == "pass" and ok.status == Status.CENTER_REVIEW
    _, bad = run(facts(purchase_date=date(2025, 10, 1)), AuditContext(warranty_years=1))
    r = rule(bad, "warranty_valid")
    assert r.outcome == "reject" and "expired on 2026-10-01" in r.reason and bad.status == Status.REJECTED
    # a 5-year product line is still in warranty
    _, five = run(facts(purchase_date=date(2022, 10, 1)), AuditContext(warranty_years=5))
    assert rule(five, "warranty_valid").outcome == "pass"
    _, paid = run(facts(warranty="self_paid", purchase_date=date(2010, 1, 1)))
    assert rule(paid, "warranty_valid").outcome == "pass"


def test_rule_duplicate_claim():
    _, ok = run(facts())
    assert rule(ok, "duplicate_claim").outcome == "pass"
    _, dup = run(facts(), AuditContext(duplicate_of="CL1"))
    assert rule(dup, "duplicate_claim").outcome == "reject" and dup.status == Status.REJECTED


def test_rule_repeat_repair():
    prior = (PriorClaim("CL0", date(2026, 9, 20), "无法启动"),)
    _, flagged = run(facts(), AuditContext(prior_same_serial=prior))
    r = rule(flagged, "repeat_repair")
    assert r.outcome == "flag" and "22 day(s)" in r.reason and flagged.flagged
    assert flagged.status == Status.CENTER_REVIEW  # flagged, not rejected
    _, other_fault = run(facts(), AuditContext(prior_same_serial=(PriorClaim("CL0", date(2026, 9, 20), "运行异响"),)))
    assert rule(other_fault, "repeat_repair").outcome == "pass"
    _, too_old = run(facts(), AuditContext(prior_same_serial=(PriorClaim("CL0", date(2026, 9, 1), "无法启动"),)))
    assert rule(too_old, "repeat_repair").outcome == "pass"


def test_rule_part_return():
    _, ok = run(facts())
    assert rule(ok, "part_return").outcome == "pass" and not ok.held
    _, held = run(facts(), AuditContext(open_part_holds=(("RMA1", "P-9", date(2026, 10, 1)),)))
    assert rule(held, "part_return").outcome == "hold" and held.held and held.status == Status.CENTER_REVIEW


def test_rule_sla_breach():
    _, ok = run(facts(), AuditContext(sla_deductions=(("complaint_close", D("0"), "HQ-2026:x"),)))
    assert rule(ok, "sla_breach").outcome == "pass"
    _, ded = run(facts(), AuditContext(sla_deductions=(("onsite", D("100"), "HQ-2026:sla_deductions/onsite"),)))
    r = rule(ded, "sla_breach")
    assert r.outcome == "deduct" and r.amount == D("100") and "HQ-2026:sla_deductions/onsite" in r.reason


def test_rule_negative_callback():
    _, ok = run(facts())
    assert rule(ok, "negative_callback").outcome == "pass"
    _, held = run(facts(), AuditContext(open_callback_holds=(("CB1", "态度差"),)))
    assert rule(held, "negative_callback").outcome == "hold" and held.held


def test_rule_customer_confirmed():
    _, ok = run(facts(customer_confirmed=True))
    assert rule(ok, "customer_confirmed").outcome == "pass"
    for missing in (False, None):
        _, bad = run(facts(customer_confirmed=missing))
        assert rule(bad, "customer_confirmed").outcome == "reject" and bad.status == Status.REJECTED


def test_rule_tariff_cap():
    p, ok = run(facts(claimed={"labour": D("300.00")}))
    assert rule(ok, "tariff_cap").outcome == "pass"
    assert ok.claimed_total == ok.allowed_total == p.total - D("46.50")
    p, capped = run(facts(claimed={"labour": D("500.00"), "transport": D("80.00")}))
    r = rule(capped, "tariff_cap")
    assert r.outcome == "cap" and r.amount == D("-198.50")  # (500-346.50) + (80-35)
    assert capped.claimed_total == p.total + D("198.50") and capped.allowed_total == p.total


# ---------------------------------------------------------------- three levels
def step(status, level, action, role, duty=None, user="u", amount=None, reason=None, prior=(), flagged=False):
    return audit_levels.audit_step(
        status, level, action, role, duty, user, D("441.50"), D("441.50"), prior, flagged, amount, reason
    )


def test_three_levels_in_order():
    s1 = step(Status.CENTER_REVIEW, "center", "approve", "center", user="a")
    assert s1.status == Status.TECH_REVIEW
    s2 = step(
        s1.status, "technical_lead", "adjust", "center", "technical_lead", "b", D("400"), "no part fitted", prior=("a",)
    )
    assert s2.status == Status.HQ_REVIEW and s2.amount == D("400.00")
    s3 = step(s2.status, "hq", "approve", "hq", user="c", prior=("a", "b"))
    assert s3.status == Status.APPROVED


def test_audit_refuses_wrong_role_skipped_level_and_missing_reason():
    with pytest.raises(AuditRefused) as e:
        step(Status.CENTER_REVIEW, "center", "approve", "outlet")
    assert e.value.kind == "role"
    with pytest.raises(AuditRefused) as e:  # a plain center user is no technical lead
        step(Status.TECH_REVIEW, "technical_lead", "approve", "center")
    assert e.value.kind == "role"
    with pytest.raises(AuditRefused) as e:  # HQ cannot skip the center and the technical lead
        step(Status.CENTER_REVIEW, "hq", "approve", "hq")
    assert e.value.kind == "level" and "skip" in e.value.message
    with pytest.raises(AuditRefused) as e:
        step(Status.HQ_REVIEW, "center", "approve", "center")
    assert e.value.kind == "level"
    with pytest.raises(AuditRefused) as e:
        step(Status.CENTER_REVIEW, "center", "reject", "center")
    assert e.value.fields == {"reason": ["required for reject"]}
    with pytest.raises(AuditRefused) as e:
        step(Status.CENTER_REVIEW, "center", "adjust", "center", amount=D("500"), reason="x")
    assert "amount" in e.value.fields  # above the tariff
    with pytest.raises(AuditRefused) as e:  # the same person may not sign two levels
        step(Status.TECH_REVIEW, "technical_lead", "approve", "center", "technical_lead", user="a", prior=("a",))
    assert e.value.kind == "role"
    with pytest.raises(AuditRefused) as e:  # a repeat repair needs the technical lead's reason
        step(Status.TECH_REVIEW, "technical_lead", "approve", "center", "technical_lead", flagged=True)
    assert "reason" in e.value.fields
    assert step(Status.CENTER_REVIEW, "center", "reject", "center", reason="no signature").status == Status.REJECTED


# ---------------------------------------------------------------- statements
def test_statement_lines_and_total():
    claims = [
        domain.StatementClaim(
            "CL1",
            "V1",
            "T1",
            date(2026, 10, 3),
            "warranty",
            D("500.00"),
            D("441.50"),
            adjustments=(("tariff_cap", "capped", D("-58.50")),),
            tariff_ref="HQ-2026:labour/x",
        ),
        domain.StatementClaim(
            "CL2", "V2", "T2", date(2026, 10, 5), "warranty", D("300.00"), D("300.00"), hold_released=True
        ),
        domain.StatementClaim(
            "CL3",
            "V3",
            "T3",
            date(2026, 10, 6),
            "self_paid",
            D("400.00"),
            D("400.00"),
            receipt=D("400.00"),
            center_share=D("80.00"),
            share_line="HQ-2026:self_paid_outlet_share",
        ),
    ]
    deductions = [
        domain.StatementDeduction(
            "T9:onsite", "sla_breach", D("100.00"), "HQ-2026:sla_deductions/onsite", "sla_breach:onsite", "late"
        )
    ]
    lines, total = domain.build_statement(claims, deductions)
    assert [(l.kind, l.amount) for l in lines] == [
        ("claim", D("500.00")),
        ("adjustment", D("-58.50")),
        ("hold_released", D("300.00")),
        ("self_paid_share", D("-80.00")),
        ("deduction", D("-100.00")),
    ]
    assert total == D("561.50")


def test_month_bounds_are_shanghai_months():
    start, end = domain.month_bounds("2026-10")
    assert start.isoformat() == "2026-09-30T16:00:00+00:00" and end.isoformat() == "2026-10-31T16:00:00+00:00"
    assert domain.month_last_day("2026-02") == date(2026, 2, 28)
