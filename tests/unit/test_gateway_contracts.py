"""The gateway knows the services by their contracts only (``services/<name>/contracts.py``:
schemas, CSV converters, errors), never by their models, ledgers or entrypoints."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("certification", "dispatch", "intake", "notify", "parts", "qa", "settlement")


def _imported(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_the_gateway_imports_only_the_services_contracts():
    wrong = []
    for path in sorted((ROOT / "services" / "gateway").glob("*.py")):
        for name in _imported(path):
            parts = name.split(".")
            if parts[0] == "services" and len(parts) > 2 and parts[1] != "gateway" and parts[2] != "contracts":
                wrong.append(f"{path.name}: {name}")
    assert not wrong, wrong


def test_every_service_has_a_contract_the_gateway_uses():
    used = {name for path in (ROOT / "services" / "gateway").glob("*.py") for name in _imported(path)}
    for service in SERVICES:
        assert (ROOT / "services" / service / "contracts.py").is_file(), service
        assert f"services.{service}.contracts" in used or f"services.{service}" in used, service


def test_loading_the_gateway_loads_no_service_model():
    code = (
        "import sys, services.gateway.service; "
        "print(sorted(m for m in sys.modules if m.startswith('services.') and not m.startswith('services.gateway') "
        "and m.rsplit('.', 1)[-1] in ('models', 'service', 'ledger', 'operations', 'queries')))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]", out
