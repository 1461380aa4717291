"""The shared package's import graph has no cycle: every import counts, also one inside a
function (such an import hides a cycle from Python, not from the reader). Only imports under
``if TYPE_CHECKING:`` do not: they are never run, they name types for the type checker.

The graph is read from the source (ast), so nothing is imported here.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules(package="shared"):
    mods = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _run_time_nodes(tree):
    """Every node of `tree` except the bodies of ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                stack.extend(child.orelse)
            else:
                stack.append(child)


def import_graph(package="shared"):
    """{module: {module it imports}} among the modules of `package`."""
    mods = _modules(package)

    def ours(name):
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for mod, path in mods.items():
        targets = set()
        for node in _run_time_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package upwards
                    anchor = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
                    base = ".".join(anchor[: len(anchor) - node.level + 1] + ([base] if base else []))
                targets.update([base] + [f"{base}.{a.name}" for a in node.names])
        graph[mod] = {t for t in map(ours, targets) if t and t != mod}
    return graph


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle_through_a_function_level_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_type_checking_imports_do_not_count():
    tree = ast.parse("import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\n")
    names = {a.name for n in _run_time_nodes(tree) if isinstance(n, ast.Import) for a in n.names}
    assert names == {"a", "c"}


def test_no_import_cycle_in_shared():
    found = [sorted(c) for c in cycles(import_graph())]
    assert not found, f"import cycles in shared/: {found}"


def test_the_database_module_does_not_import_the_rpc_module():
    # the RPC context keys it reads live with the principal (shared.tenancy), not in shared.rpc
    assert "shared.rpc" not in import_graph()["shared.db"]


def test_the_unit_of_work_and_the_outbox_do_not_import_the_database_module():
    graph = import_graph()
    assert "shared.db" not in graph["shared.outbox"]
    assert "shared.db" not in graph["shared.uow"]
    assert "shared.uow" not in graph["shared.outbox"]
