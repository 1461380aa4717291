"""Client of the warehouse scanners and the factory returns desk: puts receipts on the broker for
parts (plain AMQP, pika). Not a nameko service.

It is the hotline bridge's client (`shared.bridge.BridgeClient`: publisher confirms,
``mandatory=True``, persistent messages) pointed at the exchange ``fsm.parts`` with routing key
``parts.receipt``; parts consumes the queue ``parts.receipts`` (`PartsService.receipt`, schema
`ReceiptMessage`). The scan id is the message id and the idempotency key: a scan sent twice
counts once.

    with ReceiptClient("amqp://guest:guest@127.0.0.1:5672/") as scanner:
        scanner.post({"scan_id": "WH-C01-000123", "location_id": "WH-C01", "rma_no": "RMA-…",
                      "serial": "SP2207-0091"})
"""

from __future__ import annotations

import uuid

from shared.bridge import BridgeClient, BridgeError

RECEIPT_EXCHANGE = "fsm.parts"
RECEIPT_ROUTING_KEY = "parts.receipt"

__all__ = ["ReceiptClient", "ReceiptError"]


class ReceiptError(BridgeError):
    """A receipt could not be handed to parts (not routable, nacked, broker unreachable)."""


class ReceiptClient(BridgeClient):
    def __init__(self, amqp_uri: str, connect_timeout: float = 10.0, app_id: str = "fsm-parts-scanner"):
        super().__init__(
            amqp_uri,
            exchange=RECEIPT_EXCHANGE,
            routing_key=RECEIPT_ROUTING_KEY,
            connect_timeout=connect_timeout,
            app_id=app_id,
        )

    def post(self, receipt: dict) -> str:
        """Hand one scan to parts; returns its scan id once the broker confirmed it was queued."""
        if not isinstance(receipt, dict):
            raise TypeError("receipt must be a dict")
        receipt = dict(receipt)
        receipt.setdefault("scan_id", uuid.uuid4().hex)
        try:
            self.submit(receipt, message_id=receipt["scan_id"])
        except BridgeError as exc:
            message = exc.message.replace("request", "receipt").replace("intake service", "parts service")
            raise ReceiptError(message, exc.message_id, receipt["scan_id"]) from exc
        return receipt["scan_id"]
