"""What other packages may import of parts (the gateway): its request and answer schemas and
the error its callers must be able to tell apart. Nothing here reaches its models."""

from nameko.exceptions import deserialize_to_instance

from services.parts.schemas import (
    AdjustmentIn,
    CatalogueQuery,
    HandReceipt,
    IssueParts,
    MovementQuery,
    ReconcileIn,
    ReconciliationQuery,
    RejectedQuery,
    RequestParts,
    ReservationQuery,
    ResolveRejected,
    RmaQuery,
    ScanQuery,
    ScrapIn,
    ShipRma,
    StockQuery,
    StockReceiptIn,
    TransferIn,
)
from shared.errors import Conflict


@deserialize_to_instance  # arrives at the gateway as itself (a 409), not as a RemoteError
class InsufficientStock(Conflict):
    """Not enough (available) stock for a decrement or a reservation: nothing was changed."""


__all__ = [
    "AdjustmentIn",
    "CatalogueQuery",
    "HandReceipt",
    "InsufficientStock",
    "IssueParts",
    "MovementQuery",
    "ReconcileIn",
    "ReconciliationQuery",
    "RejectedQuery",
    "RequestParts",
    "ReservationQuery",
    "ResolveRejected",
    "RmaQuery",
    "ScanQuery",
    "ScrapIn",
    "ShipRma",
    "StockQuery",
    "StockReceiptIn",
    "TransferIn",
]
