"""Settlement's entrypoints of refunds and compensations (退赔款), a mixin of the settlement
service: record what intake approved (refund.requested, once per refund id), list, pay (HQ),
which emits settlement.refund_paid in the same unit of work."""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from services.settlement import refund_schemas, refunds
from services.settlement.money import from_fen, money, to_fen
from services.settlement.refund_models import Refund
from shared.db import AwareView, get_or_404, utcnow
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)
_out = refund_schemas.RefundOut()


def _dump(row: Refund) -> dict:
    return dict(_out.dump(AwareView(row)), amount=str(from_fen(row.amount_fen)))


class RefundEntrypoints:
    """The refunds' RPCs and consumer; `SettlementService` inherits them (its `db`)."""

    @consume("intake", "refund.requested")
    def on_refund_requested(self, uow, payload):
        """Recorded once per refund id (a redelivery under another message id adds nothing)."""
        if uow.session.get(Refund, payload["refund_id"]) is not None:
            log.info("refund %s recorded already", payload["refund_id"])
            return
        uow.session.add(
            Refund(
                id=payload["refund_id"],
                tenant_id=payload["tenant_id"],
                ticket_id=payload["ticket_id"],
                return_case_id=payload.get("return_case_id"),
                kind=payload["kind"],
                amount_fen=to_fen(money(payload["amount"])),
                reason=payload.get("reason"),
                approved_by=payload["approved_by"],
                requested_at=payload["at"],
                status=refunds.REQUESTED,
            )
        )

    @rpc
    def list_refunds(self, query=None):
        q = load(refund_schemas.RefundQuery(), query or {})
        refunds.check_reader(self.db.principal.role)
        with self.db.uow() as uow:
            stmt = select(Refund)
            for name in ("status", "ticket_id", "return_case_id"):
                if q[name]:
                    stmt = stmt.where(getattr(Refund, name) == q[name])
            total = uow.session.scalar(stmt.with_only_columns(func.count(Refund.id)))
            rows = uow.session.scalars(
                stmt.order_by(Refund.requested_at.desc(), Refund.id).limit(q["limit"]).offset(q["offset"])
            ).all()
            return {"items": [_dump(r) for r in rows], "total": total, "limit": q["limit"], "offset": q["offset"]}

    @rpc
    def get_refund(self, refund_id):
        refunds.check_reader(self.db.principal.role)
        with self.db.uow() as uow:
            return _dump(get_or_404(uow.session, Refund, refund_id, "refund_id"))

    @rpc
    def pay_refund(self, refund_id, payload=None):
        """HQ's settlement department pays: recorded with who and when, settlement.refund_paid
        emitted with it (once: a second payment is a 409)."""
        cmd = load(refund_schemas.PayRefund(), payload or {})
        principal = self.db.principal
        refunds.check_payer(principal.role)
        with self.db.uow() as uow:
            row = get_or_404(uow.session, Refund, refund_id, "refund_id")
            refunds.check_payable(row.status)
            now = utcnow()
            # guarded: of two payments racing, one updates the row, the other finds it paid (409)
            paid = uow.session.execute(
                update(Refund)
                .where(Refund.id == row.id, Refund.status == refunds.REQUESTED)
                .values(status=refunds.PAID, paid_by=principal.user, paid_at=now, payment_ref=cmd["payment_ref"])
                .execution_options(synchronize_session="fetch")
            )
            if paid.rowcount != 1:
                refunds.check_payable(refunds.PAID)
            uow.emit(
                "settlement.refund_paid",
                {
                    "tenant_id": row.tenant_id,
                    "ticket_id": row.ticket_id,
                    "amount": from_fen(row.amount_fen),
                    "paid_at": now,
                    "refund_id": row.id,
                    "return_case_id": row.return_case_id,
                    "kind": row.kind,
                },
            )
            uow.commit()
            return _dump(row)
