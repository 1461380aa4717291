"""What other packages may import of settlement (the gateway): its request and answer schemas.
Nothing here reaches its models."""

from services.settlement.refund_schemas import PayRefund, RefundOut, RefundPage, RefundQuery
from services.settlement.schemas import (
    AuditIn,
    BalanceOut,
    BalanceQuery,
    ClaimOut,
    ClaimQuery,
    IssueAll,
    IssueStatement,
    Money,
    PaymentIn,
    Receipt,
    StatementOut,
    StatementQuery,
    StatementSummary,
    SubmitClaim,
    TariffQuery,
)

__all__ = [
    "AuditIn",
    "BalanceOut",
    "BalanceQuery",
    "ClaimOut",
    "ClaimQuery",
    "IssueAll",
    "IssueStatement",
    "Money",
    "PayRefund",
    "PaymentIn",
    "Receipt",
    "RefundOut",
    "RefundPage",
    "RefundQuery",
    "StatementOut",
    "StatementQuery",
    "StatementSummary",
    "SubmitClaim",
    "TariffQuery",
]
