"""What other packages may import of intake (the gateway, the operator command, benchmarks):
its request and answer schemas and the CSV row converter. Nothing here reaches its models."""

from services.intake.archive_schemas import (
    CustomerCsvQuery,
    CustomerDetail,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    CustomerQuery,
    DuplicatesQuery,
    KeepApart,
    MergeCustomers,
    ProductDetail,
)
from services.intake.hq_schemas import SlaReportOut, SlaReportQuery, TriageQuery, TriageTicketOut
from services.intake.schemas import (
    AuditOut,
    BridgeRequest,
    ListQuery,
    PreviewOut,
    PreviewQuery,
    RegisterTicket,
    StepsOut,
    TicketOut,
    Transition,
    csv_row_to_payload,
)

__all__ = [
    "AuditOut",
    "BridgeRequest",
    "CustomerCsvQuery",
    "CustomerDetail",
    "CustomerOut",
    "CustomerPage",
    "CustomerPatch",
    "CustomerQuery",
    "DuplicatesQuery",
    "KeepApart",
    "ListQuery",
    "MergeCustomers",
    "PreviewOut",
    "PreviewQuery",
    "ProductDetail",
    "RegisterTicket",
    "SlaReportOut",
    "SlaReportQuery",
    "StepsOut",
    "TicketOut",
    "Transition",
    "TriageQuery",
    "TriageTicketOut",
    "csv_row_to_payload",
]
