"""Certification rules without a broker: every state × action × role, certificate dates,
line eligibility and the network plan."""

from datetime import UTC, date
from decimal import Decimal

import pytest

from services.certification import domain
from services.certification.domain import OutletState
from shared.errors import Forbidden, InvalidTransition, ValidationFailed
from shared.tenancy import Principal

OUTLET = Principal("o8", "outlet", tenant="C01", outlet="C01-O08")
CENTER = Principal("agent", "center", tenant="C01")
CENTER_TECH = Principal("tech-lead", "center", tenant="C01", duty="technical_lead")
HQ = Principal("hq", "hq")
HQ_TECH = Principal("hq-tech", "hq", duty="technical_lead")
HEAD = Principal("head", "hq", duty="service_head")
SERVICE = Principal("certification", "service")
PRINCIPALS = {
    "outlet": OUTLET,
    "center": CENTER,
    "center_tech": CENTER_TECH,
    "hq": HQ,
    "hq_tech": HQ_TECH,
    "head": HEAD,
    "service": SERVICE,
}

# Written from seed 003's flow charts, independently of domain.STEPS:
# (action, from state) -> {choice: to state}; who may take the action.
OPERATING_FROM = ("probation", "effective", "suspended")
EXPECTED = {
    ("center_review", "applied"): {"pass": "center_reviewed", "reject": "rejected"},
    ("technical_review", "center_reviewed"): {"pass": "technical_reviewed", "reject": "rejected"},
    ("head_approval", "technical_reviewed"): {"pass": "approved", "reject": "rejected"},
    ("issue_agreement", "approved"): {None: "probation"},
    ("assess_probation", "probation"): {"passed": "effective", "extended": "probation", "refused": "revoking"},
    ("suspend", "probation"): {None: "suspended"},
    ("suspend", "effective"): {None: "suspended"},
    ("reinstate", "suspended"): {None: "<resume>"},
    **{("request_revocation", s): {None: "revocation_requested"} for s in OPERATING_FROM},
    ("revocation_center_review", "revocation_requested"): {"pass": "revocation_center_reviewed", "reject": "<resume>"},
    ("revocation_technical_review", "revocation_center_reviewed"): {
        "pass": "revocation_technical_reviewed",
        "reject": "<resume>",
    },
    ("revocation_approval", "revocation_technical_reviewed"): {"pass": "revoking", "reject": "<resume>"},
    ("request_clearing", "revoking"): {None: "revoking"},
    ("accounts_cleared", "revoking"): {None: "revoked"},
    ("accounts_open", "revoking"): {None: "revoking"},
}
WHO = {
    "center_review": {"center", "center_tech"},
    "technical_review": {"center_tech", "hq_tech"},
    "head_approval": {"head"},
    "issue_agreement": {"center", "center_tech", "hq", "hq_tech", "head"},
    "assess_probation": {"center", "center_tech"},
    "suspend": {"center", "center_tech", "hq", "hq_tech", "head"},
    "reinstate": {"center", "center_tech", "hq", "hq_tech", "head"},
    "request_revocation": {"outlet", "center", "center_tech", "hq", "hq_tech", "head"},
    "revocation_center_review": {"center", "center_tech"},
    "revocation_technical_review": {"center_tech", "hq_tech"},
    "revocation_approval": {"head"},
    "request_clearing": {"center", "center_tech", "hq", "hq_tech", "head"},
    "accounts_cleared": {"service"},
    "accounts_open": {"service"},
}


def test_the_step_table_has_every_action_of_the_seed():
    assert set(domain.STEPS) == set(WHO)
    assert set(domain.STATES) >= {s for (_, s) in EXPECTED}


@pytest.mark.parametrize("state", domain.STATES)
@pytest.mark.parametrize("action", sorted(WHO))
def test_every_state_action_and_role(state, action):
    choices = {c for (a, _), t in EXPECTED.items() if a == action for c in t}
    for who, principal in PRINCIPALS.items():
        for choice in choices:
            resume = "effective"
            legal = EXPECTED.get((action, state))
            if who not in WHO[action]:
                with pytest.raises(Forbidden):
                    domain.decide(action, state, principal, choice, resume)
            elif legal is None:
                with pytest.raises(InvalidTransition) as err:
                    domain.decide(action, state, principal, choice, resume)
                assert state in err.value.message
            else:
                want = legal[choice]
                assert domain.decide(action, state, principal, choice, resume) == (
                    resume if want == "<resume>" else want
                )


def test_a_missing_decision_and_an_unknown_action_name_their_field():
    with pytest.raises(ValidationFailed) as err:
        domain.decide("center_review", OutletState.APPLIED, CENTER, None)
    assert "decision" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        domain.decide("assess_probation", OutletState.PROBATION, CENTER, "maybe")
    assert "result" in err.value.fields
    with pytest.raises(ValidationFailed) as err:
        domain.decide("approve_everything", OutletState.APPLIED, HEAD)
    assert "action" in err.value.fields


def test_reinstatement_returns_to_probation_when_suspended_on_probation():
    assert (
        domain.decide("reinstate", OutletState.SUSPENDED, CENTER, None, OutletState.PROBATION) == OutletState.PROBATION
    )
    with pytest.raises(InvalidTransition):
        domain.decide("reinstate", OutletState.SUSPENDED, CENTER, None, None)


def test_revocation_form_rules():
    with pytest.raises(ValidationFailed):
        domain.check_revocation_form(None, CENTER)
    with pytest.raises(ValidationFailed) as err:
        domain.check_revocation_form({"reason_code": "complaints"}, OUTLET)
    assert "revocation" in err.value.fields
    with pytest.raises(ValidationFailed):  # an outlet's own request is in writing
        domain.check_revocation_form({"reason_code": "outlet_request"}, OUTLET)
    assert domain.check_revocation_form({"reason_code": "outlet_request", "written_request_ref": "函-2026-11"}, OUTLET)
    assert domain.check_revocation_form({"reason_code": "poor_quality"}, CENTER)


def test_probation_and_certificate_dates():
    assert domain.probation_end(date(2026, 11, 30)) == date(2027, 2, 28)
    assert domain.probation_end(date(2026, 1, 15)) == date(2026, 4, 15)
    assert domain.certificate_valid_until(date(2026, 3, 10)) == date(2028, 3, 10)
    assert domain.certificate_valid_until(date(2024, 2, 29)) == date(2026, 2, 28)
    until = date(2026, 12, 1)
    assert not domain.is_expired(until, date(2026, 12, 1))  # valid through its date
    assert domain.is_expired(until, date(2026, 12, 2))
    assert domain.is_expiring(until, date(2026, 11, 1))  # 30 days before
    assert not domain.is_expiring(until, date(2026, 10, 31))
    assert not domain.is_expiring(until, date(2026, 12, 2))  # expired, not expiring


def test_local_date_is_china_calendar():
    from datetime import datetime

    # 2026-11-30 17:30 UTC is already 1 December in China
    assert domain.local_date(datetime(2026, 11, 30, 17, 30, tzinfo=UTC)) == date(2026, 12, 1)


def test_line_eligibility_against_the_minimum():
    lines = {"数控车床", "注塑机"}
    assert domain.line_eligibility(lines, {"数控车床": 2}, 1) == {"数控车床": (True, 2), "注塑机": (False, 0)}
    assert domain.line_eligibility(lines, {"数控车床": 2, "注塑机": 1}, 2)["注塑机"] == (False, 1)


def test_network_plan_volume_needs_and_gaps():
    base = [
        {
            "tenant_id": "C01",
            "province": "湖北省",
            "city": "武汉市",
            "district": "洪山区",
            "model": "VMC850",
            "installed": 5000,
            "planned_sales": 500,
        },
        {
            "tenant_id": "C01",
            "province": "湖北省",
            "city": "武汉市",
            "district": "江夏区",
            "model": "LG-75A",
            "installed": 2000,
            "planned_sales": 0,
        },
        {
            "tenant_id": "C01",
            "province": "湖北省",
            "city": "襄阳市",
            "district": "襄城区",
            "model": "VMC850",
            "installed": 1000,
            "planned_sales": 100,
        },
    ]
    rates = {"VMC850": Decimal("0.18"), "LG-75A": Decimal("0.30")}
    outlets = [("C01-O01", "C01", "湖北省", "襄阳市"), ("C01-O02", "C01", "湖北省", "宜昌市")]
    areas = {a.city: a.as_dict() for a in domain.network_plan(base, rates, outlets, 1000)}
    # 武汉: 5500 × 0.18 + 2000 × 0.30 = 990 + 600 = 1590 repairs a year → 2 outlets, none there
    assert areas["武汉市"]["yearly_repairs"] == 1590
    assert areas["武汉市"]["outlets_needed"] == 2 and areas["武汉市"]["gap"] == 2
    assert areas["武汉市"]["districts"] == {"江夏区": 600, "洪山区": 990}
    # 襄阳: 1100 × 0.18 = 198 → 1 needed, 1 there
    assert areas["襄阳市"]["yearly_repairs"] == 198 and areas["襄阳市"]["gap"] == 0
    # 宜昌: an outlet and no installed base → surplus
    assert areas["宜昌市"]["outlets_needed"] == 0 and areas["宜昌市"]["gap"] == -1
    # the biggest gap first
    assert domain.network_plan(base, rates, outlets, 1000)[0].city == "武汉市"
    with pytest.raises(ValidationFailed):
        domain.network_plan(base, {"VMC850": Decimal("0.1")}, outlets, 1000)
    with pytest.raises(ValidationFailed):
        domain.network_plan(base, rates, outlets, 0)


def test_shipped_sample_data_loads():
    from services.certification import seed

    rates = seed.read_repair_rates(seed.REPAIR_RATES_FILE)
    rows = seed.read_installed_base(seed.INSTALLED_BASE_FILE)
    assert {r["model"] for r in rows} <= set(rates)
    assert {r["tenant_id"] for r in rows} == {"C01", "C02", "C03", "C04", "C05", "C06"}
    techs = seed.read_technicians(seed.TECHNICIANS_FILE)
    assert len(techs) == 108 and all(t["certificates"] for t in techs)


def test_bad_csv_is_refused_naming_the_line(tmp_path):
    from services.certification import seed

    bad = tmp_path / "rates.csv"
    bad.write_text("model,product_line,repair_rate\nVMC850,立式加工中心,lots\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as err:
        seed.read_repair_rates(bad)
    assert "line 2" in str(err.value)
