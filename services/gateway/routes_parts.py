"""Gateway routes of the parts service (a mixin of GatewayService).

Who may call which route is decided here (roles); which rows they get back is decided by parts'
scoped session: a warehouse sees its own stock and returns, an outlet its stock, requests and
RMAs, a center its tenant, HQ everything. Customers have no business with parts.
"""

from __future__ import annotations

import base64

from werkzeug.wrappers import Response

from services.gateway import responses_parts as responses
from services.gateway.api import API, api, json_body, query_args
from services.parts import contracts
from shared import tenancy
from shared.errors import Forbidden
from shared.rpc import RpcProxy

STAFF = (tenancy.HQ, tenancy.CENTER, tenancy.WAREHOUSE, tenancy.OUTLET)
KEEPERS = (tenancy.HQ, tenancy.CENTER, tenancy.WAREHOUSE)
REQUESTERS = (tenancy.HQ, tenancy.CENTER, tenancy.OUTLET)
P = f"{API}/parts"


def _allow(principal, roles, what):
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} cannot {what}")


class PartsRoutes:
    """The parts endpoints under /api/v1/parts; `GatewayService` inherits them."""

    parts = RpcProxy("parts")

    # ------------------------------------------------------------ catalogue, locations, stock
    @api(
        "GET",
        f"{P}/catalogue",
        "Spare parts by product line and model; with fault=…, what a visit takes along",
        query=contracts.CatalogueQuery,
        tag="parts",
        response=responses.Catalogue,
    )
    def parts_catalogue(self, request, principal):
        _allow(principal, STAFF, "read the parts catalogue")
        return self.parts.catalogue_parts(query_args(request))

    @api(
        "GET",
        f"{P}/locations",
        "Stock locations you may see (warehouses, outlets, factory)",
        response=responses.Location(many=True),
        tag="parts",
    )
    def parts_locations(self, request, principal):
        _allow(principal, STAFF, "see stock locations")
        return self.parts.locations()

    @api(
        "GET",
        f"{P}/stock",
        "Stock on hand, reserved and available per location and part",
        query=contracts.StockQuery,
        tag="parts",
        response=responses.StockPage,
    )
    def parts_stock(self, request, principal):
        _allow(principal, STAFF, "see stock")
        return self.parts.stock(query_args(request))

    @api(
        "GET",
        f"{P}/movements",
        "Stock movements (the ledger), filtered by location, part, kind, month",
        query=contracts.MovementQuery,
        tag="parts",
        response=responses.MovementPage,
    )
    def parts_movements(self, request, principal):
        _allow(principal, STAFF, "see stock movements")
        return self.parts.movements(query_args(request))

    @api(
        "POST",
        f"{P}/receipts",
        "Book new stock into a warehouse (入库)",
        body=contracts.StockReceiptIn,
        status=201,
        tag="parts",
        response=responses.Booked,
    )
    def parts_receive(self, request, principal):
        _allow(principal, KEEPERS, "book receipts")
        return self.parts.receive_stock(json_body(request))

    @api(
        "POST",
        f"{P}/adjustments",
        "Stock count correction with a reason (盘点调整)",
        body=contracts.AdjustmentIn,
        status=201,
        tag="parts",
        response=responses.Booked,
    )
    def parts_adjust(self, request, principal):
        _allow(principal, KEEPERS, "adjust stock")
        return self.parts.adjust(json_body(request))

    @api(
        "POST",
        f"{P}/transfers",
        "Move stock between warehouses (调拨)",
        body=contracts.TransferIn,
        status=201,
        tag="parts",
        response=responses.MovementBooked,
    )
    def parts_transfer(self, request, principal):
        _allow(principal, KEEPERS, "transfer stock")
        return self.parts.transfer(json_body(request))

    @api(
        "POST",
        f"{P}/scrap",
        "Write off stock (报废) with a reason",
        body=contracts.ScrapIn,
        status=201,
        response=responses.MovementBooked,
        tag="parts",
    )
    def parts_scrap(self, request, principal):
        _allow(principal, KEEPERS, "scrap stock")
        return self.parts.scrap(json_body(request))

    # ------------------------------------------------------------ requests and issue
    @api(
        "GET",
        f"{P}/reservations",
        "Parts requests and reservations (an outlet: its own)",
        query=contracts.ReservationQuery,
        tag="parts",
        response=responses.ReservationPage,
    )
    def parts_reservations(self, request, principal):
        _allow(principal, STAFF, "see parts requests")
        return self.parts.reservations(query_args(request))

    @api(
        "POST",
        f"{P}/reservations",
        "Request parts for an outlet (reserved at its regional warehouse)",
        body=contracts.RequestParts,
        status=201,
        tag="parts",
        response=responses.Reservation(many=True),
    )
    def parts_request(self, request, principal):
        _allow(principal, REQUESTERS, "request parts")
        return self.parts.request_parts(json_body(request))

    @api(
        "DELETE",
        f"{P}/reservations/<string:reservation_id>",
        "Release a reservation",
        response=responses.Reservation,
        tag="parts",
    )
    def parts_release(self, request, principal, reservation_id):
        _allow(principal, REQUESTERS, "release reservations")
        return self.parts.release_reservation(reservation_id)

    @api(
        "POST",
        f"{P}/issues",
        "Issue parts to an outlet (备件发放): reserved or direct lines, with serials",
        body=contracts.IssueParts,
        status=201,
        tag="parts",
        response=responses.Issue,
    )
    def parts_issue(self, request, principal):
        _allow(principal, KEEPERS, "issue parts")
        return self.parts.issue(json_body(request))

    # ------------------------------------------------------------ returns
    @api(
        "GET",
        f"{P}/rmas",
        "Old-part returns (旧件返厂) with due dates and ageing",
        query=contracts.RmaQuery,
        tag="parts",
        response=responses.RmaPage,
    )
    def parts_rmas(self, request, principal):
        _allow(principal, STAFF, "see returns")
        return self.parts.rmas(query_args(request))

    @api(
        "GET",
        f"{P}/rmas/ageing",
        "Open returns per outlet by age bucket (账龄)",
        response=responses.RmaAgeing(many=True),
        tag="parts",
    )
    def parts_rma_ageing(self, request, principal):
        _allow(principal, STAFF, "see returns")
        return self.parts.rma_ageing()

    @api(
        "GET",
        f"{P}/rmas/<string:rma_no>",
        "One return with its receipts and movements",
        response=responses.RmaDetail,
        tag="parts",
    )
    def parts_rma(self, request, principal, rma_no):
        _allow(principal, STAFF, "see returns")
        return self.parts.get_rma(rma_no)

    @api(
        "POST",
        f"{P}/rmas/<string:rma_no>/shipment",
        "The outlet sends an old part back (寄回) under a waybill; the warehouse's scan receives it",
        body=contracts.ShipRma,
        response=responses.Rma,
        tag="parts",
    )
    def parts_ship_rma(self, request, principal, rma_no):
        _allow(principal, REQUESTERS, "ship returns")
        return self.parts.ship_rma(rma_no, json_body(request))

    @api(
        "POST",
        f"{P}/scans",
        "Book a receipt by hand (手工签收) as a scanner would send it: new stock, or an old part "
        "against its RMA; refused with the field when the scanner's would be rejected",
        body=contracts.HandReceipt,
        status=201,
        tag="parts",
        response=responses.ScanStatus,
    )
    def parts_book_scan(self, request, principal):
        _allow(principal, KEEPERS, "book receipts")
        return self.parts.book_receipt(json_body(request))

    @api(
        "GET",
        f"{P}/scans",
        "Receipts as scanned or booked by hand, newest first, with their outcome",
        query=contracts.ScanQuery,
        tag="parts",
        response=responses.ScanPage,
    )
    def parts_scans(self, request, principal):
        _allow(principal, KEEPERS, "see scans")
        return self.parts.scans(query_args(request))

    @api(
        "GET",
        f"{P}/scans/<string:scan_id>",
        "What became of a scanner's receipt (accepted / rejected)",
        response=responses.ScanStatus,
        tag="parts",
    )
    def parts_scan(self, request, principal, scan_id):
        _allow(principal, KEEPERS, "see scans")
        return self.parts.scan_status(scan_id)

    @api(
        "GET",
        f"{P}/receipts/rejected",
        "Receipts that could not be applied, kept for review",
        query=contracts.RejectedQuery,
        tag="parts",
        response=responses.RejectedReceiptPage,
    )
    def parts_rejected(self, request, principal):
        _allow(principal, KEEPERS, "review rejected receipts")
        return self.parts.rejected_receipts(query_args(request))

    @api(
        "POST",
        f"{P}/receipts/rejected/<string:scan_id>/resolve",
        "Close a rejected receipt after review",
        body=contracts.ResolveRejected,
        tag="parts",
        response=responses.Resolved,
    )
    def parts_resolve_rejected(self, request, principal, scan_id):
        _allow(principal, KEEPERS, "resolve rejected receipts")
        return self.parts.resolve_rejected(scan_id, json_body(request))

    # ------------------------------------------------------------ reconciliation
    @api(
        "POST",
        f"{P}/reconciliations",
        "Reconcile a month (对账): issued vs consumed vs returned vs on hand",
        body=contracts.ReconcileIn,
        tag="parts",
        response=responses.ReconciliationRun,
    )
    def parts_reconcile(self, request, principal):
        _allow(principal, KEEPERS, "run a reconciliation")
        return self.parts.reconcile(json_body(request))

    @api(
        "GET",
        f"{P}/reconciliations",
        "Stored reconciliations with their discrepancies",
        query=contracts.ReconciliationQuery,
        tag="parts",
        response=responses.ReconciliationPage,
    )
    def parts_reconciliations(self, request, principal):
        _allow(principal, STAFF, "see reconciliations")
        return self.parts.reconciliations(query_args(request))

    @api(
        "GET",
        f"{P}/reconciliations.csv",
        "Reconciliations as CSV (summary and discrepancy rows)",
        query=contracts.ReconciliationQuery,
        content="text/csv",
        tag="parts",
    )
    def parts_reconciliations_csv(self, request, principal):
        _allow(principal, STAFF, "export reconciliations")
        body = self.parts.reconciliation_export(query_args(request), "csv")
        return Response(
            "\ufeff" + body,
            status=200,
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=parts-reconciliation.csv"},
        )

    @api(
        "GET",
        f"{P}/reconciliations.xlsx",
        "Reconciliations as an Excel workbook (summary, discrepancies)",
        query=contracts.ReconciliationQuery,
        content="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        tag="parts",
    )
    def parts_reconciliations_xlsx(self, request, principal):
        _allow(principal, STAFF, "export reconciliations")
        body = base64.b64decode(self.parts.reconciliation_export(query_args(request), "xlsx"))
        return Response(
            body,
            status=200,
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": "attachment; filename=parts-reconciliation.xlsx"},
        )

    @api(
        "GET",
        f"{P}/outlets/<string:outlet_id>/balance",
        "An outlet's open parts items (stock, unreturned old parts, reservations): clearing on revocation",
        tag="parts",
        response=responses.PartsBalance,
    )
    def parts_outlet_balance(self, request, principal, outlet_id):
        _allow(principal, (tenancy.HQ, tenancy.CENTER, tenancy.OUTLET), "see an outlet's parts balance")
        return self.parts.outlet_balance(outlet_id)
