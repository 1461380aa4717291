"""Gateway routes of returns and exchanges (退换机) and refunds or compensations (退赔款), a mixin
of GatewayService: a ticket's machine returned (15 天包退) or exchanged (30 天包换), the case's steps
(inspect, decide, receive, issue_replacement, close), the cancel of a replacement awaiting stock,
a complaint's compensation, and the refunds settlement pays (HQ), which complete the case's step.

Which cases a caller sees is intake's and settlement's scoped sessions' business (another
center's case is a 404); who may take a step is their rules', so these routes only parse and pass on.
"""

from __future__ import annotations

from services.gateway.api import API, api, json_body, query_args
from services.intake import contracts
from services.settlement import contracts as settlement_contracts
from shared.rpc import RpcProxy


class ReturnRoutes:
    """The returns' and refunds' endpoints under /api/v1; `GatewayService` inherits them."""

    intake = RpcProxy("intake")
    settlement = RpcProxy("settlement")

    @api(
        "POST",
        f"{API}/tickets/<string:ticket_id>/returns",
        "Open a return (within 15 days) or exchange (within 30 days) of the ticket's machine (退换机); "
        "422 naming the field when it is not eligible, 409 when a case is open",
        body=contracts.OpenReturn,
        response=contracts.ReturnOut,
        status=201,
        tag="returns",
    )
    def open_return(self, request, principal, ticket_id):
        return self.intake.open_return(ticket_id, json_body(request))

    @api(
        "GET",
        f"{API}/returns",
        "Your center's returns and exchanges, newest first",
        query=contracts.ReturnQuery,
        response=contracts.ReturnPage,
        tag="returns",
    )
    def list_returns(self, request, principal):
        return self.intake.list_returns(query_args(request))

    @api(
        "GET",
        f"{API}/returns/<string:case_id>",
        "One return or exchange with who inspected, decided, received, replaced and closed it",
        response=contracts.ReturnOut,
        tag="returns",
    )
    def get_return(self, request, principal, case_id):
        return self.intake.get_return(case_id)

    @api(
        "POST",
        f"{API}/returns/<string:case_id>/steps",
        "Take a step: inspect (a technical lead: quality_fault, finding), decide (the center: approve, "
        "refund_amount of a return, note when rejecting), receive (the machine back in the warehouse), "
        "issue_replacement (an exchange: asks parts for the replacement, replacement_serial optional; the case "
        "is replacement_requested, then replaced when parts books it, or awaiting_stock until a unit arrives), "
        "close; 409 on the wrong step",
        body=contracts.ReturnStepIn,
        response=contracts.ReturnOut,
        tag="returns",
    )
    def return_step(self, request, principal, case_id):
        return self.intake.return_step(case_id, json_body(request))

    @api(
        "POST",
        f"{API}/returns/<string:case_id>/replacement/cancel",
        "Cancel an exchange's replacement awaiting stock (the center's own case, or HQ), with a reason: "
        "outcome refund (the customer takes a refund instead: refund_amount; the case becomes a received return "
        "and settlement pays it) or withdraw (the case is withdrawn). Parts never issues it afterwards, even when a "
        "unit arrives at that moment. 409 naming the step when it is not awaiting stock (a replacement issued: "
        "replaced), 422 naming the field; repeat it safely with the same Idempotency-Key",
        body=contracts.CancelReplacementIn,
        response=contracts.ReturnOut,
        tag="returns",
    )
    def cancel_replacement(self, request, principal, case_id):
        return self.intake.cancel_replacement(case_id, json_body(request))

    @api(
        "POST",
        f"{API}/tickets/<string:ticket_id>/compensation",
        "Decide a complaint's compensation (退赔款) after the negotiation: a technical lead approves, "
        "settlement pays it",
        body=contracts.CompensationIn,
        response=contracts.CompensationOut,
        status=201,
        tag="returns",
    )
    def request_compensation(self, request, principal, ticket_id):
        return self.intake.request_compensation(ticket_id, json_body(request))

    @api(
        "GET",
        f"{API}/refunds",
        "Refunds and compensations to pay or paid (HQ: every center's; a center: its own)",
        query=settlement_contracts.RefundQuery,
        response=settlement_contracts.RefundPage,
        tag="returns",
    )
    def list_refunds(self, request, principal):
        return self.settlement.list_refunds(query_args(request))

    @api(
        "GET",
        f"{API}/refunds/<string:refund_id>",
        "One refund or compensation",
        response=settlement_contracts.RefundOut,
        tag="returns",
    )
    def get_refund(self, request, principal, refund_id):
        return self.settlement.get_refund(refund_id)

    @api(
        "POST",
        f"{API}/refunds/<string:refund_id>/pay",
        "Pay a refund or compensation (HQ's settlement department, 结算部门): settlement.refund_paid "
        "completes the case's step; 409 when paid already",
        body=settlement_contracts.PayRefund,
        response=settlement_contracts.RefundOut,
        tag="returns",
    )
    def pay_refund(self, request, principal, refund_id):
        return self.settlement.pay_refund(refund_id, json_body(request))
