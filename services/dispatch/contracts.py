"""What other packages may import of dispatch (the gateway, the operator command, benchmarks):
its request and answer schemas and the technicians' CSV row converter. Nothing here reaches its
models or the solver."""

from services.dispatch.schemas import (
    BoardQuery,
    CheckIn,
    CheckOut,
    Pin,
    PlanRunOut,
    ReturnVisitRequest,
    RouteQuery,
    TechnicianIn,
    TechnicianOut,
    VisitOut,
    technician_row_to_payload,
)

__all__ = [
    "BoardQuery",
    "CheckIn",
    "CheckOut",
    "Pin",
    "PlanRunOut",
    "ReturnVisitRequest",
    "RouteQuery",
    "TechnicianIn",
    "TechnicianOut",
    "VisitOut",
    "technician_row_to_payload",
]
