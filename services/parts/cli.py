"""``fsm parts ...``: send a scanner / returns-desk receipt over plain AMQP and (optionally) wait
for parts' verdict on it."""

from __future__ import annotations

import json
import sys
import time

from fsm.common import CliError, cli_config


def register(subparsers):
    p = subparsers.add_parser("parts", help="parts: post receipts from a scanner or the factory returns desk")
    sub = p.add_subparsers(dest="parts_command", metavar="PARTS_COMMAND")
    sub.required = True
    r = sub.add_parser("post-receipt", help="send one receipt (RMA old part, inspection, or new stock) over AMQP")
    r.add_argument("--location", required=True, help="where it arrived: WH-C01 … WH-HQ, FACTORY")
    r.add_argument("--rma", dest="rma_no", help="the RMA number on the old part's tag")
    r.add_argument("--kind", choices=("rma", "inspection", "stock"), default="rma")
    r.add_argument("--serial", help="the serial scanned on the old part")
    r.add_argument("--part", dest="part_no", help="part number (required for --kind stock)")
    r.add_argument("--quantity", type=int, default=1)
    r.add_argument("--serials", nargs="*", default=[], help="serials of new stock (one per unit)")
    r.add_argument("--inspection", choices=("defect_confirmed", "no_fault_found", "wrong_part", "damaged_in_transit"))
    r.add_argument("--note")
    r.add_argument("--scan-id", help="the scan's id (default: a new one); sending it again changes nothing")
    r.add_argument("--by", dest="scanned_by", help="who scanned")
    r.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait up to SECONDS for parts to accept or reject the scan (RPC scan_status)",
    )
    r.set_defaults(func=cmd_post_receipt)


def receipt_from_args(args) -> dict:
    body = {"location_id": args.location, "kind": args.kind, "quantity": args.quantity}
    for key in ("rma_no", "serial", "part_no", "inspection", "note", "scanned_by"):
        value = getattr(args, key, None)
        if value:
            body[key] = value
    if args.serials:
        body["serials"] = args.serials
    if args.scan_id:
        body["scan_id"] = args.scan_id
    return body


def cmd_post_receipt(args) -> int:
    from services.parts.client import ReceiptClient, ReceiptError

    config = cli_config(args)
    amqp_uri = args.amqp_uri or config["AMQP_URI"]
    body = receipt_from_args(args)
    try:
        with ReceiptClient(amqp_uri) as client:
            scan_id = client.post(body)
    except ReceiptError as exc:
        raise CliError(exc.message) from None
    print(json.dumps({"scan_id": scan_id, "queued": True}, ensure_ascii=False))
    if args.wait <= 0:
        return 0
    status = wait_scan(dict(config, AMQP_URI=amqp_uri), scan_id, args.wait)
    if status is None:
        raise CliError(f"scan {scan_id} queued but not processed within {args.wait:.0f} s")
    print(json.dumps(status, ensure_ascii=False))
    if status["outcome"] == "rejected":
        print(f"fsm: receipt rejected: {status['detail']} (kept for review)", file=sys.stderr)
        return 1
    return 0


def wait_scan(config, scan_id, timeout):
    from nameko.standalone.rpc import ServiceRpcProxy

    from shared.errors import NotFound
    from shared.tenancy import Principal

    principal = Principal("fsm-cli", "hq")
    deadline = time.monotonic() + timeout
    with ServiceRpcProxy("parts", config, context_data={"principal": principal.encode()}, timeout=timeout) as parts:
        while time.monotonic() < deadline:
            try:
                return parts.scan_status(scan_id)
            except NotFound:
                time.sleep(0.2)
    return None
