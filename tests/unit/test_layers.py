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
