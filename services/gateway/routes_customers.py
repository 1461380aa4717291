"""Gateway routes of the customer and product archive (客户档案, 产品档案; a mixin of
GatewayService): a center's customers, searched, due for their yearly review or flagged as possible
duplicates; a customer's card with products and service history; a product's history; contacts
and consent updated; two customers merged by a person's decision; the archive as CSV.

Which customers a caller sees is intake's scoped session's business (another center's customer is
a 404); who may read or merge is intake's rule, so these routes only parse and pass on.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from services.gateway.api import API, api, json_body, query_args
from services.intake import contracts
from shared.rpc import RpcProxy


class CustomerRoutes:
    """The archive's endpoints under /api/v1; `GatewayService` inherits them."""

    intake = RpcProxy("intake")

    @api(
        "GET",
        f"{API}/customers",
        "Your center's customers (客户档案), searched; due_for_review: not reviewed for a year; "
        "duplicates: possible duplicates",
        query=contracts.CustomerQuery,
        response=contracts.CustomerPage,
        tag="customers",
    )
    def list_customers(self, request, principal):
        return self.intake.list_customers(query_args(request))

    @api(
        "GET",
        f"{API}/customers/duplicates",
        "Customers flagged as possible duplicates, for a person to merge or keep apart",
        query=contracts.DuplicatesQuery,
        response=contracts.CustomerPage,
        tag="customers",
    )
    def duplicate_customers(self, request, principal):
        return self.intake.duplicate_customers(query_args(request))

    @api(
        "GET",
        f"{API}/customers.csv",
        "Your center's customer archive as CSV (HQ: one center's with tenant_id, else every center's)",
        query=contracts.CustomerCsvQuery,
        content="text/csv",
        tag="customers",
    )
    def customers_csv(self, request, principal):
        return Response(
            "\ufeff" + self.intake.customers_csv(query_args(request)),
            status=200,
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=customers.csv"},
        )

    @api(
        "POST",
        f"{API}/customers/merge",
        "Merge one customer into another (a person's decision, recorded with who merged)",
        body=contracts.MergeCustomers,
        response=contracts.CustomerOut,
        tag="customers",
    )
    def merge_customers(self, request, principal):
        return self.intake.merge_customers(json_body(request))

    @api(
        "POST",
        f"{API}/customers/<string:customer_id>/keep-apart",
        "Decide a flagged customer is no duplicate (recorded with who decided); it leaves the duplicates list",
        body=contracts.KeepApart,
        response=contracts.CustomerOut,
        tag="customers",
    )
    def keep_customer_apart(self, request, principal, customer_id):
        return self.intake.keep_customer_apart(customer_id, json_body(request))

    @api(
        "GET",
        f"{API}/customers/<string:customer_id>",
        "A customer (客户信息卡) with its products and full service history",
        response=contracts.CustomerDetail,
        tag="customers",
    )
    def get_customer(self, request, principal, customer_id):
        return self.intake.get_customer(customer_id)

    @api(
        "PATCH",
        f"{API}/customers/<string:customer_id>",
        "Update a customer's contacts and consent to be contacted (the record counts as reviewed)",
        body=contracts.CustomerPatch,
        response=contracts.CustomerOut,
        tag="customers",
    )
    def update_customer(self, request, principal, customer_id):
        return self.intake.update_customer(customer_id, json_body(request))

    @api(
        "GET",
        f"{API}/products/<string:product_id>",
        "An installed product (产品档案) with its customer and service history",
        response=contracts.ProductDetail,
        tag="customers",
    )
    def get_product(self, request, principal, product_id):
        return self.intake.get_product(product_id)
