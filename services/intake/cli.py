"""``fsm import-requests FILE [--via rpc|http|bridge]`` and ``fsm bridge-submit FILE``: a request
export (CSV) into intake, by RPC, through the gateway or as the hotline/fax bridge sends it, with
a progress bar and a per-row error report (exit 2 when some rows failed)."""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections import Counter
from pathlib import Path

from fsm.common import (
    EXIT_OK,
    EXIT_PARTIAL,
    CliError,
    chunks,
    cli_config,
    fields_text,
    format_table,
    progress,
    rpc_consumers,
    safe_uri,
)

IMPORT_USER = "fsm-import"


def register(subparsers):
    p = subparsers.add_parser("import-requests", help="import a request export (CSV) with a per-row report")
    import_options(p)
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("bridge-submit", help="submit a CSV of requests through the hotline/fax bridge")
    import_options(p, via=False)
    p.set_defaults(func=cmd_import, via="bridge")


def import_options(p, via=True):
    p.add_argument("file", metavar="FILE", help="CSV, UTF-8 with a header row")
    if via:
        p.add_argument("--via", choices=("rpc", "http", "bridge"), default="rpc")
    p.add_argument("--batch", type=int, default=50, help="rows per call (default 50)")
    p.add_argument("--as-tenant", metavar="T", help="import as a center agent of tenant T (default: HQ)")
    p.add_argument("--url", help="gateway base URL for --via http (default: http://127.0.0.1:<gateway port>)")
    p.add_argument("--token", help="bearer token for --via http (default: $FSM_TOKEN or one from AUTH_SECRET)")
    p.add_argument("--report", metavar="FILE.csv", help="write the per-row result as CSV")


class Row:
    """One data row of the CSV: its number (1 = first data row), raw cells and payload."""

    __slots__ = ("number", "line", "raw", "payload", "result")

    def __init__(self, number, line, raw, payload):
        self.number, self.line, self.raw, self.payload = number, line, raw, payload
        self.result = None

    @property
    def request_id(self):
        return self.payload.get("external_ref") or ""


def read_requests(path) -> tuple[list[str], list[Row]]:
    from services.intake.schemas import csv_row_to_payload

    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames:
                raise CliError(f"{path}: empty file (expected a header row)")
            rows = []
            for number, raw in enumerate(reader, start=1):
                rows.append(Row(number, reader.line_num, raw, csv_row_to_payload(raw)))
            return list(reader.fieldnames), rows
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{path}: not UTF-8 ({exc})") from None
    except csv.Error as exc:
        raise CliError(f"{path}: malformed CSV ({exc})") from None
    except OSError as exc:
        raise CliError(f"{path}: {exc}") from None


def import_principal(as_tenant: str | None):
    from shared.tenancy import Principal

    if as_tenant:
        return Principal(IMPORT_USER, "center", tenant=as_tenant)
    return Principal(IMPORT_USER, "hq")


def _rpc_result(row: Row, result: dict):
    row.result = dict(result, row=row.number, request_id=row.request_id)


def fail(row: Row, error: str, fields=None):
    row.result = {"row": row.number, "request_id": row.request_id, "ok": False, "error": error, "fields": fields or {}}


def require_intake(config):
    """Fail fast (instead of waiting for an RPC timeout) when nothing consumes intake's RPC queue."""
    try:
        running = rpc_consumers(config["AMQP_URI"], ["intake"])["intake"]
    except Exception as exc:
        raise CliError(f"cannot reach the broker at {safe_uri(config['AMQP_URI'])}: {exc!r}") from None
    if not running:
        raise CliError(
            f"the intake service is not running on {safe_uri(config['AMQP_URI'])} (start it with `make run`)"
        )


def send_rpc(rows, config, principal, batch, progress, timeout=120.0):
    from nameko.exceptions import RemoteError, UnknownService
    from nameko.standalone.rpc import ServiceRpcProxy

    context = {"principal": principal.encode()}
    try:
        with ServiceRpcProxy("intake", config, context_data=context, timeout=timeout) as intake:
            for chunk in chunks(rows, batch):
                try:
                    results = intake.import_requests([r.payload for r in chunk])
                except UnknownService:
                    raise CliError(
                        f"the intake service is not running on this broker ({safe_uri(config['AMQP_URI'])})"
                    ) from None
                except (RemoteError, Exception) as exc:
                    if isinstance(exc, CliError):
                        raise
                    message = getattr(exc, "message", None) or str(exc)
                    for row in chunk:
                        fail(row, f"batch failed: {message}", getattr(exc, "fields", None))
                    progress.update(len(chunk))
                    continue
                for row, result in zip(chunk, results):
                    _rpc_result(row, result)
                progress.update(len(chunk))
    except (OSError, ConnectionError) as exc:
        raise CliError(f"cannot reach the broker at {safe_uri(config['AMQP_URI'])}: {exc}") from None


def send_http(rows, fieldnames, config, principal, batch, progress, url=None, token=None, timeout=120.0):
    import requests

    from shared.auth import issue_token

    if not url:
        port = (config.get("HTTP_PORTS") or {}).get("gateway") or 8000
        url = f"http://127.0.0.1:{port}"
    endpoint = url.rstrip("/") + "/api/v1/tickets/import"
    token = token or os.environ.get("FSM_TOKEN") or issue_token(config["AUTH_SECRET"], principal, 3600)
    headers = {"Content-Type": "text/csv; charset=utf-8", "Authorization": f"Bearer {token}"}
    session = requests.Session()
    for chunk in chunks(rows, batch):
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fieldnames, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(r.raw for r in chunk)
        try:
            resp = session.post(endpoint, data=buf.getvalue().encode("utf-8"), headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise CliError(f"cannot reach the gateway at {url}: {exc}") from None
        if resp.status_code in (401, 403):
            raise CliError(f"the gateway refused the token ({resp.status_code}): {_error_text(resp)}")
        if resp.status_code != 200:
            for row in chunk:
                fail(row, f"batch failed: HTTP {resp.status_code}: {_error_text(resp)}")
            progress.update(len(chunk))
            continue
        for row, result in zip(chunk, resp.json()["rows"]):
            _rpc_result(row, result)
        progress.update(len(chunk))


def _error_text(resp):
    try:
        err = resp.json()["error"]
        return err.get("message") + (f" {err['fields']}" if err.get("fields") else "")
    except Exception:
        return resp.text[:200]


def send_bridge(rows, config, progress):
    from services.intake.schemas import BridgeRequest
    from shared.bridge import BridgeClient, BridgeError

    schema = BridgeRequest()
    with BridgeClient(config["AMQP_URI"]) as bridge:
        aborted = None
        for row in rows:
            if aborted:
                fail(row, f"not sent: {aborted}")
            else:
                problems = schema.validate(row.payload)
                if problems:
                    fail(row, "not a valid bridge request", problems)
                else:
                    try:
                        bridge.submit(row.payload)
                        row.result = {"row": row.number, "request_id": row.request_id, "ok": True, "queued": True}
                    except BridgeError as exc:
                        fail(row, exc.message)
                        aborted = "an earlier row could not be delivered"
            progress.update(1)


def cmd_import(args) -> int:
    from shared.errors import DomainError

    via = args.via
    if args.batch < 1:
        raise CliError("--batch must be at least 1")
    config = cli_config(args)
    fieldnames, rows = read_requests(args.file)
    if not rows:
        raise CliError(f"{args.file}: no data rows")
    try:
        principal = import_principal(args.as_tenant)
    except DomainError as exc:
        raise CliError(str(exc)) from None
    if via == "rpc":
        require_intake(config)
    started = time.monotonic()
    with progress(len(rows), f"import via {via}") as bar:
        if via == "rpc":
            send_rpc(rows, config, principal, args.batch, bar)
        elif via == "http":
            send_http(rows, fieldnames, config, principal, args.batch, bar, url=args.url, token=args.token)
        else:
            from shared.bridge import BridgeError

            try:
                send_bridge(rows, config, bar)
            except BridgeError as exc:
                raise CliError(exc.message) from None
    elapsed = time.monotonic() - started
    for row in rows:
        if row.result is None:
            fail(row, "no result")
    failed = [r for r in rows if not r.result["ok"]]
    ok = len(rows) - len(failed)
    dups = sum(1 for r in rows if r.result.get("duplicate"))
    verb = "queued for intake" if via == "bridge" else "registered"
    print(
        f"{ok} of {len(rows)} rows {verb}"
        + (f" ({dups} already known)" if dups else "")
        + f", {len(failed)} failed, in {elapsed:.1f} s via {via}"
    )
    if via != "bridge" and ok:
        by_tenant = Counter(r.result.get("tenant_id") for r in rows if r.result["ok"])
        print("by tenant: " + ", ".join(f"{t} {n}" for t, n in sorted(by_tenant.items())))
    if failed:
        print()
        print(error_table(failed))
    if args.report:
        write_report(args.report, rows)
        print(f"report written to {args.report}")
    return EXIT_PARTIAL if failed else EXIT_OK


def error_table(failed_rows) -> str:
    table = [("row", "request id", "error", "fields")]
    for r in failed_rows:
        res = r.result
        table.append((str(r.number), r.request_id, res.get("error") or "", fields_text(res.get("fields"))))
    return "rows that failed:\n" + format_table(table, align="rlll")


def write_report(path, rows):
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(
                ["row", "line", "request_id", "ok", "ticket_number", "tenant_id", "duplicate", "error", "fields"]
            )
            for r in rows:
                res = r.result
                writer.writerow(
                    [
                        r.number,
                        r.line,
                        r.request_id,
                        "yes" if res["ok"] else "no",
                        res.get("number") or "",
                        res.get("tenant_id") or "",
                        "yes" if res.get("duplicate") else "",
                        res.get("error") or "",
                        json.dumps(res.get("fields") or {}, ensure_ascii=False) if not res["ok"] else "",
                    ]
                )
    except OSError as exc:
        raise CliError(f"cannot write the report {path}: {exc}") from None
