"""Every state × action pair over the real service: an illegal step (out of order) and a step
by the wrong role are refused with a clear error and leave the outlet's record (status,
version, file, steps) exactly as it was."""

from contextlib import ExitStack
from datetime import UTC, datetime

from shared.tenancy import Principal
from tests.certification_fixtures import *  # noqa: F401,F403
from tests.certification_fixtures import (
    C01,
    C01_TECH,
    C02,
    HEAD,
    HQ,
    HQ_TECH,
    INSPECTION,
    back_dated_agreement,
    drive,
    publish_settlement,
    wait_for,
)

STATES = [
    "applied",
    "center_reviewed",
    "technical_reviewed",
    "approved",
    "probation",
    "effective",
    "suspended",
    "revocation_requested",
    "revocation_center_reviewed",
    "revocation_technical_reviewed",
    "revoking",
    "revoked",
    "rejected",
]

# the legal (action, state) pairs, from seed 003's flow charts
LEGAL = {
    ("center_review", "applied"),
    ("technical_review", "center_reviewed"),
    ("head_approval", "technical_reviewed"),
    ("issue_agreement", "approved"),
    ("assess_probation", "probation"),
    ("suspend", "probation"),
    ("suspend", "effective"),
    ("reinstate", "suspended"),
    ("request_revocation", "probation"),
    ("request_revocation", "effective"),
    ("request_revocation", "suspended"),
    ("revocation_center_review", "revocation_requested"),
    ("revocation_technical_review", "revocation_center_reviewed"),
    ("revocation_approval", "revocation_technical_reviewed"),
    ("request_clearing", "revoking"),
    ("accounts_cleared", "revoking"),
    ("accounts_open", "revoking"),
}

BODY = {
    "center_review": {"decision": "pass", "inspection": INSPECTION},
    "technical_review": {"decision": "pass"},
    "head_approval": {"decision": "pass"},
    "issue_agreement": {"agreement": back_dated_agreement()},
    "assess_probation": {"result": "refused", "assessment": {"findings": "不合格"}},
    "suspend": {"reason": "违反协议"},
    "reinstate": {"reason": "整改完成"},
    "request_revocation": {"revocation": {"reason_code": "outlet_request", "written_request_ref": "doc://函"}},
    "revocation_center_review": {"decision": "pass"},
    "revocation_technical_review": {"decision": "pass"},
    "revocation_approval": {"decision": "pass"},
    "request_clearing": {},
    "accounts_cleared": {},
    "accounts_open": {},
}


def callers(outlet_id):
    own = Principal(f"owner-{outlet_id}", "outlet", tenant="C01", outlet=outlet_id)
    return {
        "own_outlet": own,
        "center": C01,
        "center_tech": C01_TECH,
        "hq": HQ,
        "hq_tech": HQ_TECH,
        "head": HEAD,
        "other_center": C02,
        "other_outlet": Principal("other-outlet", "outlet", tenant="C01", outlet="C01-O02"),
    }


CENTER_USERS = {"center", "center_tech"}
HQ_USERS = {"hq", "hq_tech", "head"}
# who may take each action (a duty adds to the role, it does not replace it)
ALLOWED = {
    "center_review": CENTER_USERS,
    "technical_review": {"center_tech", "hq_tech"},
    "head_approval": {"head"},
    "issue_agreement": CENTER_USERS | HQ_USERS,
    "assess_probation": CENTER_USERS,
    "suspend": CENTER_USERS | HQ_USERS,
    "reinstate": CENTER_USERS | HQ_USERS,
    "request_revocation": {"own_outlet"} | CENTER_USERS | HQ_USERS,
    "revocation_center_review": CENTER_USERS,
    "revocation_technical_review": {"center_tech", "hq_tech"},
    "revocation_approval": {"head"},
    "request_clearing": CENTER_USERS | HQ_USERS,
    "accounts_cleared": set(),  # settlement's answer, never a user's step
    "accounts_open": set(),
}


def snapshot(cert, outlet_id):
    return cert.get_outlet(outlet_id)


def test_every_state_and_action_refused_unless_legal_and_record_unchanged(cert_platform, rpc_as):
    config = cert_platform.config
    outlets = {}
    for n, state in enumerate(STATES, start=10):
        outlet_id = f"C01-O{n}"
        if state == "revoked":
            out = drive(rpc_as, outlet_id, "revoking")
            publish_settlement(
                config,
                "account.cleared",
                {
                    "tenant_id": "C01",
                    "outlet_id": outlet_id,
                    "request_id": out["clearing_request_id"],
                    "open_items": [],
                    "at": datetime.now(UTC),
                },
            )

            def revoked(oid=outlet_id):
                with rpc_as(C01, "certification") as cert:
                    return cert.get_outlet(oid)["status"] == "revoked"

            wait_for(revoked)
        else:
            drive(rpc_as, outlet_id, state)
        outlets[state] = outlet_id

    refusals = {"forbidden": 0, "not_found": 0, "invalid_transition": 0}
    legal_seen = set()
    proxies = {}
    with ExitStack() as stack, rpc_as(HQ, "certification") as reader:
        for state, outlet_id in outlets.items():
            before = snapshot(reader, outlet_id)
            assert before["status"] == state
            everyone = callers(outlet_id)
            for action, body in BODY.items():
                allowed = ALLOWED[action]
                for name, principal in everyone.items():
                    legal = (action, state) in LEGAL and name in allowed
                    if legal:
                        legal_seen.add((action, state))
                        continue  # the lifecycle tests take the legal steps
                    if principal not in proxies:
                        proxies[principal] = stack.enter_context(rpc_as(principal, "certification"))
                    try:
                        proxies[principal].outlet_step(outlet_id, dict(body, action=action))
                    except Exception as exc:  # noqa: BLE001 (the remote error's class is checked)
                        code = getattr(exc, "code", None) or type(exc).__name__
                    else:
                        raise AssertionError(f"{name} could {action} an outlet that is {state}")
                    if name in ("other_center", "other_outlet"):
                        assert code == "not_found", (name, action, state, code)  # not theirs: invisible
                    elif name not in allowed:
                        assert code == "forbidden", (name, action, state, code)
                    else:
                        assert code == "invalid_transition", (name, action, state, code)
                    refusals[code] += 1
                    after = snapshot(reader, outlet_id)
                    assert after == before, f"{name} {action} on {state} changed the record"
    # every legal pair was met by a right role, the rest refused
    assert legal_seen == {pair for pair in LEGAL if pair[0] not in ("accounts_cleared", "accounts_open")}
    assert refusals["invalid_transition"] > 100 and refusals["forbidden"] > 200 and refusals["not_found"] > 300
