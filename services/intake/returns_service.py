"""Intake's entrypoints of returns and exchanges (退换机) and a complaint's compensation (退赔款), a
mixin of the intake service: load, let `returns` decide, write the case and the ticket's audit
entry, emit (parts books the machine, settlement pays the refund), commit, dump.

The session scopes every row to the caller's tenant (shared.db): another center's ticket or case
is simply not found (404).
"""

from __future__ import annotations

import logging
import uuid

from sqlalchemy import func, select

from services.intake import returns
from services.intake.domain import Audit
from services.intake.models import AuditEntry, InstalledProduct, Ticket
from services.intake.operations import audit
from services.intake.return_models import ReturnCase
from services.intake.returns_schemas import (
    CancelReplacementIn,
    CompensationIn,
    CompensationOut,
    OpenReturn,
    ReturnOut,
    ReturnQuery,
    ReturnStepIn,
)
from shared.clock import LOCAL_TZ, as_utc
from shared.db import AwareView, get_or_404, utcnow
from shared.errors import Conflict, ValidationFailed
from shared.rpc import call_without_proxy, rpc
from shared.validation import load

log = logging.getLogger(__name__)
_out = ReturnOut()
_compensation_out = CompensationOut()
COMPENSATION_ACTION = "compensation_approved"


class ReturnEntrypoints:
    """The return case's RPCs; `IntakeService` inherits them (its `db` and `policies`)."""

    @rpc
    def open_return(self, ticket_id, payload):
        """A return (within 15 days) or exchange (within 30) of a ticket's machine: 422 naming the
        field when it is not eligible, 409 when the ticket has a case still open."""
        cmd = load(OpenReturn(), payload or {})
        principal = self.db.principal
        returns.check_opener(principal.role)
        with self.db.uow() as uow:
            session = uow.session
            ticket = get_or_404(session, Ticket, ticket_id, "ticket_id")
            product = session.get(InstalledProduct, ticket.product_id) if ticket.product_id else None
            model = cmd["model"] or ticket.model
            serial = cmd["serial_no"] or ticket.serial_no
            missing = {
                f: ["required: the ticket names none"] for f, v in (("model", model), ("serial_no", serial)) if not v
            }
            if missing:
                raise ValidationFailed("the machine must be named", missing)
            purchase = cmd["purchase_date"] or ticket.purchase_date or (product and product.purchase_date)
            installed = cmd["installed_on"] or (product and product.installed_on)
            requested_on = as_utc(ticket.received_at).astimezone(LOCAL_TZ).date()
            terms = self.policies.directory.warranty_terms(ticket.product_line)
            found = returns.eligibility(cmd["kind"], terms, purchase, installed, requested_on)
            still_open = session.scalar(
                select(func.count(ReturnCase.id)).where(
                    ReturnCase.ticket_id == ticket.id, ReturnCase.step.not_in(returns.Step.FINAL)
                )
            )
            if still_open:
                raise Conflict("this ticket has a return or exchange still open", {"ticket_id": ["a case is open"]})
            now = utcnow()
            case = ReturnCase(
                id="rc_" + uuid.uuid4().hex[:24],
                tenant_id=ticket.tenant_id,
                ticket_id=ticket.id,
                kind=cmd["kind"],
                step=returns.Step.REQUESTED,
                reason=cmd["reason"],
                product_line=ticket.product_line,
                model=model,
                serial_no=serial,
                purchase_date=purchase,
                installed_on=installed,
                days=found.days,
                counted_from=found.counted_from,
                requested_by=principal.user,
                requested_at=now,
            )
            session.add(case)
            audit(
                uow,
                ticket,
                principal,
                Audit(
                    f"{cmd['kind']}_requested",
                    None,
                    returns.Step.REQUESTED,
                    cmd["reason"],
                    {"return_case_id": case.id, "days": found.days, "counted_from": found.counted_from},
                ),
            )
            uow.commit()
            return self._dump_return(case, ticket)

    @rpc
    def return_step(self, case_id, payload):
        """inspect, decide, receive, issue_replacement or close (returns.ACTIONS); 409 on the wrong step."""
        cmd = load(ReturnStepIn(), payload or {})
        principal = self.db.principal
        with self.db.uow() as uow:
            case = get_or_404(uow.session, ReturnCase, case_id, "case_id")
            ticket = uow.session.get(Ticket, case.ticket_id)
            before = case.step
            case.step = returns.check_step(cmd["action"], case.step, case.kind, principal)
            _STEPS[cmd["action"]](uow, case, ticket, cmd, principal, utcnow())
            audit(
                uow,
                ticket,
                principal,
                Audit(f"return_{cmd['action']}", before, case.step, cmd["note"], {"return_case_id": case.id}),
            )
            uow.commit()
            return self._dump_return(case, ticket)

    @rpc
    def cancel_replacement(self, case_id, payload):
        """Cancel an exchange's replacement awaiting stock (returns.check_cancel_replacement): parts
        withdraws its waiting request first, under the lock its receipts take, and refuses (409) when a
        unit was issued meanwhile; then the case is a received return (the refund requested of
        settlement) or withdrawn, audited with who, when and why."""
        cmd = load(CancelReplacementIn(), payload or {})
        principal = self.db.principal
        with self.db.uow() as uow:
            case = get_or_404(uow.session, ReturnCase, case_id, "case_id")
            ticket = uow.session.get(Ticket, case.ticket_id)
            before, kind_before = case.step, case.kind
            target = returns.check_cancel_replacement(
                case.step, case.kind, principal, cmd["outcome"], cmd["refund_amount"]
            )
            # decided where the stock is (parts: the same request again is answered the same);
            # no RpcProxy in intake: see `call_without_proxy`
            call_without_proxy(self.db.worker_ctx, "parts", "cancel_replacement", case.id, {"reason": cmd["reason"]})
            now = utcnow()
            case.step, case.replacement_cancel_outcome = target, cmd["outcome"]
            case.replacement_cancelled_by, case.replacement_cancelled_at = principal.user, now
            case.replacement_cancel_reason = cmd["reason"]
            if cmd["outcome"] == returns.REFUND_INSTEAD:
                case.kind, case.refund_amount = returns.RETURN, cmd["refund_amount"]
                _request_refund(uow, case, principal.user, now)
            else:
                case.closed_by, case.closed_at = principal.user, now
            data = {"return_case_id": case.id, "outcome": cmd["outcome"], "kind": [kind_before, case.kind]}
            if case.refund_id:
                data.update(refund_id=case.refund_id, refund_amount=str(case.refund_amount))
            audit(uow, ticket, principal, Audit("return_replacement_cancelled", before, case.step, cmd["reason"], data))
            uow.commit()
            return self._dump_return(case, ticket)

    @rpc
    def get_return(self, case_id):
        returns.check_reader(self.db.principal.role)
        with self.db.uow() as uow:
            case = get_or_404(uow.session, ReturnCase, case_id, "case_id")
            return self._dump_return(case, uow.session.get(Ticket, case.ticket_id))

    @rpc
    def list_returns(self, query=None):
        q = load(ReturnQuery(), query or {})
        returns.check_reader(self.db.principal.role)
        with self.db.uow() as uow:
            stmt = select(ReturnCase)
            for name in ("step", "kind", "ticket_id"):
                if q[name]:
                    stmt = stmt.where(getattr(ReturnCase, name) == q[name])
            total = uow.session.scalar(stmt.with_only_columns(func.count(ReturnCase.id)))
            rows = uow.session.scalars(
                stmt.order_by(ReturnCase.requested_at.desc(), ReturnCase.id).limit(q["limit"]).offset(q["offset"])
            ).all()
            numbers = dict(
                uow.session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_({r.ticket_id for r in rows})))
                .tuples()
                .all()
            )
            items = [dict(_out.dump(AwareView(r)), ticket_number=numbers.get(r.ticket_id)) for r in rows]
            return {"items": items, "total": total, "limit": q["limit"], "offset": q["offset"]}

    @rpc
    def request_compensation(self, ticket_id, payload):
        """A complaint's compensation (退赔款), approved by a technical lead after the negotiation:
        settlement pays it (refund.requested); its payment moves the case to compensation."""
        cmd = load(CompensationIn(), payload or {})
        principal = self.db.principal
        with self.db.uow() as uow:
            ticket = get_or_404(uow.session, Ticket, ticket_id, "ticket_id")
            returns.check_compensation(principal, ticket.kind, ticket.case_state, cmd["amount"])
            pending = uow.session.scalar(
                select(func.count(AuditEntry.id)).where(
                    AuditEntry.ticket_id == ticket.id, AuditEntry.action == COMPENSATION_ACTION
                )
            )
            if pending:
                raise Conflict("a compensation was decided already", {"ticket_id": ["compensation decided already"]})
            refund_id = "rf_" + uuid.uuid4().hex[:24]
            uow.emit(
                "refund.requested",
                {
                    "tenant_id": ticket.tenant_id,
                    "refund_id": refund_id,
                    "ticket_id": ticket.id,
                    "return_case_id": None,
                    "kind": "compensation",
                    "amount": cmd["amount"],
                    "reason": cmd["reason"],
                    "approved_by": principal.user,
                    "at": utcnow(),
                },
            )
            data = {"refund_id": refund_id, "amount": str(cmd["amount"])}
            audit(
                uow,
                ticket,
                principal,
                Audit(COMPENSATION_ACTION, ticket.case_state, ticket.case_state, cmd["reason"], data),
            )
            uow.commit()
            return _compensation_out.dump(
                {"ticket_id": ticket.id, "refund_id": refund_id, "amount": cmd["amount"], "approved_by": principal.user}
            )

    @staticmethod
    def _dump_return(case, ticket):
        return dict(_out.dump(AwareView(case)), ticket_number=ticket.number if ticket else None)


def refund_paid(uow, payload) -> bool:
    """settlement.refund_paid for a return case: a received return is refunded (audited on its
    ticket). A payment heard again, or for a case not waiting for it, changes nothing. False: the
    payment names no return case (a complaint's compensation: the ticket's rule)."""
    if not payload.get("return_case_id"):
        return False
    case = uow.session.get(ReturnCase, payload["return_case_id"])
    if case is None:
        log.warning("settlement.refund_paid for unknown return case %s", payload["return_case_id"])
        return True
    ticket, before = uow.session.get(Ticket, case.ticket_id), case.step
    step = returns.refund_paid(case.step, case.kind)
    data = {"return_case_id": case.id, "refund_id": payload.get("refund_id"), "amount": str(payload["amount"])}
    if step is None:
        data["ignored"] = True
    else:
        case.step, case.refund_paid_at = step, payload["paid_at"]
    audit(uow, ticket, uow.principal, Audit("refund_paid", before, case.step, None, data))
    return True


def replacement_issued(uow, payload) -> None:
    """parts.replacement_issued: parts booked the exchange's replacement out of the warehouse (at
    once, or when a unit arrived); a case waiting for it is replaced, with the unit parts sent.
    Heard again, or for a case not waiting for it: audited as ignored, nothing changes."""
    case = uow.session.get(ReturnCase, payload["return_case_id"])
    if case is None:
        log.warning("parts.replacement_issued for unknown return case %s", payload["return_case_id"])
        return
    ticket, before = uow.session.get(Ticket, case.ticket_id), case.step
    step = returns.replacement_issued(case.step, case.kind)
    data = {"return_case_id": case.id, "movement_no": payload["movement_no"], "serial": payload.get("serial")}
    if step is None:
        data["ignored"] = True
    else:
        case.step, case.replaced_at = step, payload["at"]
        case.replaced_by = payload.get("by") or case.replacement_requested_by
        case.replacement_serial = payload.get("serial") or case.replacement_serial
    audit(uow, ticket, uow.principal, Audit("replacement_issued", before, case.step, None, data))


def replacement_short(uow, payload) -> None:
    """parts.replacement_short: the warehouse has no good unit; the case waits for stock (parts
    issues it when one is received). Heard again, or after the issue: audited as ignored."""
    case = uow.session.get(ReturnCase, payload["return_case_id"])
    if case is None:
        log.warning("parts.replacement_short for unknown return case %s", payload["return_case_id"])
        return
    ticket, before = uow.session.get(Ticket, case.ticket_id), case.step
    step = returns.replacement_short(case.step, case.kind)
    data = {"return_case_id": case.id, "location_id": payload["location_id"], "part_no": payload["part_no"]}
    if step is None:
        data["ignored"] = True
    else:
        case.step, case.awaiting_stock_at = step, payload["at"]
    audit(uow, ticket, uow.principal, Audit("replacement_short", before, case.step, None, data))


# ---------------------------------------------------------------- what each step records and tells
def _inspect(uow, case, ticket, cmd, principal, now):
    missing = {f: ["required to inspect"] for f in ("quality_fault", "finding") if cmd[f] is None}
    if missing:
        raise ValidationFailed("the inspection's result is needed", missing)
    case.quality_fault, case.finding = cmd["quality_fault"], cmd["finding"]
    case.inspected_by, case.inspected_at = principal.user, now


def _decide(uow, case, ticket, cmd, principal, now):
    if cmd["approve"] is None:
        raise ValidationFailed("approve or reject", {"approve": ["required to decide"]})
    case.step = returns.check_decision(
        cmd["approve"],
        case.kind,
        case.quality_fault,
        case.inspected_by,
        principal.user,
        cmd["refund_amount"],
        cmd["note"],
    )
    case.decided_by, case.decided_at, case.decision_note = principal.user, now, cmd["note"]
    case.refund_amount = cmd["refund_amount"]
    if case.step == returns.Step.REJECTED:
        case.closed_at = now


def _machine_event(case, ticket, principal, now):
    return {
        "tenant_id": case.tenant_id,
        "return_case_id": case.id,
        "ticket_id": case.ticket_id,
        "kind": case.kind,
        "product_line": case.product_line,
        "model": case.model,
        "serial_no": case.serial_no,
        "replacement_serial": case.replacement_serial,
        "by": principal.user,
        "at": now,
    }


def _receive(uow, case, ticket, cmd, principal, now):
    """The machine is back in the center's warehouse (parts books it); a return's refund goes to
    settlement, approved by the center's decision after the technical lead's inspection."""
    case.received_by, case.received_at = principal.user, now
    uow.emit("return.machine_returned", _machine_event(case, ticket, principal, now))
    if case.kind == returns.RETURN:
        _request_refund(uow, case, case.decided_by, now)


def _request_refund(uow, case, approved_by, now):
    """A return's refund to settlement (it pays; settlement.refund_paid moves the case to refunded)."""
    case.refund_id = "rf_" + uuid.uuid4().hex[:24]
    uow.emit(
        "refund.requested",
        {
            "tenant_id": case.tenant_id,
            "refund_id": case.refund_id,
            "ticket_id": case.ticket_id,
            "return_case_id": case.id,
            "kind": "return",
            "amount": case.refund_amount,
            "reason": case.reason,
            "approved_by": approved_by,
            "at": now,
        },
    )


def _issue_replacement(uow, case, ticket, cmd, principal, now):
    """The center asks parts for the exchange's replacement (the case is replacement_requested);
    parts answers with parts.replacement_issued (the case is replaced) or parts.replacement_short."""
    case.replacement_serial = returns.check_replacement_serial(cmd["replacement_serial"], case.serial_no)
    case.replacement_requested_by, case.replacement_requested_at = principal.user, now
    uow.emit("return.replacement_requested", _machine_event(case, ticket, principal, now))


def _close(uow, case, ticket, cmd, principal, now):
    case.closed_by, case.closed_at = principal.user, now


_STEPS = {
    "inspect": _inspect,
    "decide": _decide,
    "receive": _receive,
    "issue_replacement": _issue_replacement,
    "close": _close,
}
