"""What every ``fsm`` command uses: the configuration, errors and exit codes, tables and
progress bars, the broker's view of the running services, tokens and the bench scripts.

A service's ``cli.py`` and ``demo.py`` take these public names from here; nothing here
imports a service.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import unicodedata
from datetime import datetime
from pathlib import Path

from shared.clock import LOCAL_TZ
from shared.config import REPO_ROOT, load_config

EXIT_OK, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2  # ran; could not run; ran, but some rows failed
SERVICES_DIR = REPO_ROOT / "services"
SAMPLE_REQUESTS = REPO_ROOT / "data" / "service_requests_sample.csv"  # what the demo and the benches import


class CliError(Exception):
    """A failure the operator can act on: printed as ``fsm: error: ...``, exit code 1."""


def print_error(message: str):
    print(f"fsm: error: {message}", file=sys.stderr)


def cli_config(args, **overrides) -> dict:
    """The configuration (``--config``, else $FSM_CONFIG or config.yml) with ``--amqp-uri`` applied."""
    try:
        config = load_config(getattr(args, "config", None))
    except OSError as exc:
        raise CliError(f"cannot read the configuration: {exc}") from None
    if getattr(args, "amqp_uri", None):
        config["AMQP_URI"] = args.amqp_uri
    config.update(overrides)
    return config


def safe_uri(uri: str) -> str:
    """The URI with its password masked, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))
    return uri


# ====================================================================== services
def service_modules(filename: str) -> list[tuple[str, Path]]:
    """(service name, path) of each ``services/<name>/<filename>``, sorted by name."""
    return [(path.parent.name, path) for path in sorted(SERVICES_DIR.glob(f"*/{filename}"))]


def service_classes(root: Path | None = None, strict: bool = False) -> list:
    """The nameko service classes of ``services/*/service.py`` that import, sorted by name.

    A module that fails to import is reported on stderr and skipped (``strict``: raised).
    """
    from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

    root = Path(root or SERVICES_DIR)
    found = {}
    for path in sorted(root.glob("*/service.py")):
        module_name = f"services.{path.parent.name}.service"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a service under construction must not stop the others
            if strict:
                raise
            print(f"fsm: warning: skipping {module_name}: {exc!r}", file=sys.stderr)
            continue
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not isinstance(getattr(cls, "name", None), str):
                continue
            if not inspect.getmembers(cls, lambda m: hasattr(m, ENTRYPOINT_EXTENSIONS_ATTR)):
                continue
            if cls.name in found and found[cls.name] is not cls:
                raise CliError(f"two services are named {cls.name!r}: {found[cls.name].__module__} and {module_name}")
            found[cls.name] = cls
    return [found[name] for name in sorted(found)]


def rpc_consumers(amqp_uri, names) -> dict:
    """How many workers consume each service's RPC queue on this vhost (None: no such queue)."""
    import pika
    from pika.exceptions import ChannelClosedByBroker

    from shared.bridge import pika_parameters

    counts = {}
    conn = pika.BlockingConnection(pika_parameters(amqp_uri, connection_attempts=1, socket_timeout=10))
    try:
        for name in names:
            channel = conn.channel()
            try:
                counts[name] = channel.queue_declare(f"rpc-{name}", passive=True).method.consumer_count
                channel.close()
            except ChannelClosedByBroker:
                counts[name] = None  # no such queue: nobody served it here yet
    finally:
        conn.close()
    return counts


def command_group(subparsers, name: str, help: str):
    """The subcommands of ``fsm <name>`` (e.g. ``bench``), the group made on first use, so that
    several services can add their commands to it."""
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help)
        parser.fsm_group = parser.add_subparsers(dest=name.replace("-", "_"), metavar=name.upper())
        parser.fsm_group.required = True
    return parser.fsm_group


# ====================================================================== tokens
def mint_token(config: dict, ttl_days: float, **principal) -> str:
    """A bearer token for ``Principal(**principal)`` living ``ttl_days`` (at most the configured maximum)."""
    from shared.auth import issue_token, max_ttl
    from shared.errors import DomainError
    from shared.tenancy import Principal

    secret = config.get("AUTH_SECRET")
    if not secret:
        raise CliError("AUTH_SECRET is not configured")
    if ttl_days <= 0:
        raise CliError("--ttl-days must be positive")
    try:
        return issue_token(
            secret, Principal(**principal), ttl_seconds=int(ttl_days * 24 * 3600), max_ttl_seconds=max_ttl(config)
        )
    except (DomainError, ValueError) as exc:
        raise CliError(str(exc)) from None


# ====================================================================== output
def progress(total, desc, disable=False, unit="row"):
    """A progress bar on stderr (stdout keeps the command's result)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=disable, dynamic_ncols=True, leave=True)


def chunks(items, size):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def display_width(text: str) -> int:
    """Columns the text takes on a terminal (CJK characters count double)."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def pad(text: str, width: int, align: str = "l") -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if align == "r" else text + gap


def short(text, width=60) -> str:
    text = text or ""
    return text if display_width(text) <= width else text[: width - 1] + "…"


def format_table(rows, align=None, indent="  ") -> str:
    """Rows of strings as an aligned table (CJK counted double width); first row is the header."""
    rows = [[("" if c is None else str(c)) for c in row] for row in rows]
    ncols = max(len(r) for r in rows)
    rows = [r + [""] * (ncols - len(r)) for r in rows]
    align = (align or "l" * ncols).ljust(ncols, "l")
    widths = [max(display_width(r[i]) for r in rows) for i in range(ncols)]
    out = []
    for n, row in enumerate(rows):
        out.append(indent + "  ".join(pad(c, widths[i], align[i]) for i, c in enumerate(row)).rstrip())
        if n == 0:
            out.append(indent + "  ".join("-" * w for w in widths))
    return "\n".join(out)


def fields_text(fields) -> str:
    """A marshmallow error dict as one line: ``name: message; message | other: ...``."""
    import json

    if not fields:
        return ""
    parts = []
    for name, messages in fields.items():
        if isinstance(messages, (list, tuple)):
            messages = "; ".join(str(m) for m in messages)
        elif isinstance(messages, dict):
            messages = json.dumps(messages, ensure_ascii=False)
        parts.append(f"{name}: {messages}")
    return " | ".join(parts)


def local_time(iso: str) -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM`` in Asia/Shanghai."""
    return datetime.fromisoformat(iso).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def step_line(label, status, body, show) -> str:
    """One HTTP call of a demo: ``label -> HTTP 200  <show(body)>``, or the error it got."""
    if status >= 400:
        err = body.get("error", {}) if isinstance(body, dict) else {}
        return f"  {pad(label, 32)} -> HTTP {status} {err.get('code', '')}: {err.get('message', body)}"
    return f"  {pad(label, 32)} -> HTTP {status}  {show(body)}"


# ====================================================================== bench
def bench_module(name: str):
    """Load bench/<name>.py by path (bench/ is no package and is not installed)."""
    import importlib.util

    path = REPO_ROOT / "bench" / f"{name}.py"
    if not path.exists():
        raise CliError(f"{path} not found")
    if str(REPO_ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"fsm_bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
