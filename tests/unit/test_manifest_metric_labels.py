"""The comments of the deployment files (k8s/, deploy/) that cite a metric with its labels,
``fsm_name{label,label}``, cite one the services export, with exactly those label names: an
operator reads them to write queries and relabelling rules."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(p for d in ("k8s", "deploy") for p in (ROOT / d).rglob("*") if p.suffix in (".yaml", ".yml"))
# the modules that define the metrics (each registers its own in shared.metrics.REGISTRY)
METRIC_MODULES = (
    "shared.metrics",
    "shared.rpc",
    "shared.messaging",
    "shared.leases",
    "shared.broker",
    "services.dispatch.planner",
    "services.dispatch.operations",
    "services.settlement.operations",
    "services.settlement.statements",
)
# a name and its label list, possibly broken over comment lines: fsm_x_total {a,b}
_CITED = re.compile(r"\b(fsm_\w+)\s*\{\s*([a-z_]+(?:\s*,\s*[a-z_]+)*)\s*\}")


def comment_text(path: Path) -> str:
    """The file's comments (whole-line and trailing), joined by spaces."""
    parts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        _, hash_, comment = line.partition("#")
        if hash_:
            parts.append(comment.strip())
    return " ".join(parts)


def cited() -> list[tuple[str, str, tuple[str, ...]]]:
    found = []
    for path in FILES:
        for name, labels in _CITED.findall(comment_text(path)):
            found.append((str(path.relative_to(ROOT)), name, tuple(x.strip() for x in labels.split(","))))
    return found


def exported_labels() -> dict[str, tuple[str, ...]]:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    from shared.metrics import REGISTRY

    names: dict[str, tuple[str, ...]] = {}
    for name, collector in REGISTRY._names_to_collectors.items():  # prometheus_client has no public view
        names[name] = tuple(getattr(collector, "_labelnames", ()))
    return names


def test_the_servicemonitor_cites_its_metric_labels():
    assert any(path == "k8s/servicemonitor.yaml" for path, _, _ in cited())


@pytest.mark.parametrize(("path", "name", "labels"), cited())
def test_a_cited_metric_is_exported_with_those_labels(path, name, labels):
    exported = exported_labels()
    assert name in exported, f"{path} cites {name}, which no service exports"
    assert set(labels) == set(exported[name]), f"{path} cites {name}{{{','.join(labels)}}}: {exported[name]}"
