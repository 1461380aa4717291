"""The layers import downwards only: ``shared/`` (the common package) imports no service and
not the ``fsm`` command; a service's cli.py and demo.py may use ``fsm.common``, the services
themselves (service, domain, ...) never import ``fsm``.

Read from the source (ast), every import counted, also one inside a function.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMAND_MODULES = {"cli.py", "demo.py"}  # a service's part of the fsm command


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module or "")
    return names


def offenders(paths, forbidden):
    return sorted(
        f"{p.relative_to(ROOT)}: {name}" for p in paths for name in imported(p) if name.split(".")[0] in forbidden
    )


def test_shared_imports_neither_services_nor_fsm():
    assert offenders(sorted((ROOT / "shared").rglob("*.py")), {"services", "fsm"}) == []


def test_only_a_services_command_modules_import_fsm():
    paths = [p for p in sorted((ROOT / "services").rglob("*.py")) if p.name not in COMMAND_MODULES]
    assert offenders(paths, {"fsm"}) == []


MAX_LINES = 600  # a module past this has more than one concern: split it (migrations excepted)


def test_no_module_in_services_shared_or_fsm_is_over_600_lines():
    long = []
    for top in ("services", "shared", "fsm"):
        for p in sorted((ROOT / top).rglob("*.py")):
            if "migrations" in p.parts:
                continue
            n = len(p.read_text(encoding="utf-8").splitlines())
            if n > MAX_LINES:
                long.append(f"{p.relative_to(ROOT)}: {n} lines")
    assert long == []
