"""The outlet's money pages (a mixin that `OutletPages` inherits; role ``outlet``): its balance,
its claims with their audit status and any deductions with the rule and reason, and its monthly
statements, viewed and downloaded as XLSX or PDF.

The RPCs are those behind ``GET /api/v1/settlement/outlets/<id>/balance``, ``/settlement/claims``,
``/settlement/claims/<id>``, ``/settlement/statements``, ``/settlement/statements/<id>`` and
``/settlement/statements/<id>/download/<fmt>``; settlement's scoped session gives an outlet its own
claims and statements only (another outlet's: not found, a 404 page).
"""

from __future__ import annotations

import base64
from decimal import Decimal, InvalidOperation
from urllib.parse import quote

from werkzeug.wrappers import Response

from services.gateway.portal.web import page
from shared.errors import NotFound
from shared.rpc import RpcProxy

FORMATS = ("pdf", "xlsx")


def yuan(value: object) -> str:
    """An amount as the pages show it: ``¥1,234.50`` (negative ``-¥12.00``; "" for none)."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return f"{'-' if amount < 0 else ''}¥{abs(amount):,.2f}"


class OutletMoneyPages:
    """`/outlet/money` and its claims and statements; `OutletPages` inherits them."""

    settlement = RpcProxy("settlement")

    @page("GET", "/outlet/money", roles=("outlet",))
    def outlet_money_page(self, request, page):
        outlet_id = page.user.outlet_id
        balance = self.settlement.balance(outlet_id, {})
        statements = self.settlement.list_statements({"limit": 24})["items"]
        claims = self.settlement.list_claims({"limit": 50})
        return page.render(
            "outlet/money.html",
            balance=balance,
            statements=statements,
            claims=claims["items"],
            claims_total=claims["total"],
            yuan=yuan,
        )

    @page("GET", "/outlet/money/claims/<string:claim_id>", roles=("outlet",))
    def outlet_claim_page(self, request, page, claim_id):
        claim = self.settlement.get_claim(claim_id)  # another outlet's: NotFound, a 404 page
        return page.render("outlet/claim.html", claim=claim, yuan=yuan)

    @page("GET", "/outlet/money/statements/<string:statement_id>", roles=("outlet",))
    def outlet_statement_page(self, request, page, statement_id):
        statement = self.settlement.get_statement(statement_id)
        return page.render("outlet/statement.html", statement=statement, yuan=yuan, formats=FORMATS)

    @page("GET", "/outlet/money/statements/<string:statement_id>/download/<string:fmt>", roles=("outlet",))
    def outlet_statement_file_page(self, request, page, statement_id, fmt):
        if fmt not in FORMATS:
            raise NotFound(f"no {fmt} download")
        doc = self.settlement.statement_file(statement_id, fmt)
        name = doc["filename"]
        return Response(
            base64.b64decode(doc["data"]),
            status=200,
            mimetype=doc["content_type"],
            headers={"Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"},
        )
