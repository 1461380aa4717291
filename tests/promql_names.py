"""The metric names (and the label names their selectors match on) that PromQL queries use: the
Grafana dashboards' queries and variables, the alert rules' expressions.

Not a full PromQL parser, but enough for ours, and strict where it cannot tell: a selector
without a metric name (``{__name__=~"..."}``) is refused rather than guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# words of the language that look like names: operators, modifiers, grouping
KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "atan2"}
    | {"inf", "nan"}
)
# series Prometheus makes itself for every target (not exported by a service)
PROMETHEUS_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_RANGE = re.compile(r"\[[^\]]*\]")
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+")
_SELECTOR = re.compile(r"([A-Za-z_:][\w:]*)?\s*\{([^{}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NUMBER = re.compile(r"(?<![\w:.])[0-9.][\w.]*")
_NAME = re.compile(r"[A-Za-z_:][\w:]*")
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*)\)\s*$", re.S)


@dataclass
class Use:
    """A metric name used by a query, the label names its selectors match on, and where."""

    name: str
    labels: set[str] = field(default_factory=set)
    where: set[str] = field(default_factory=set)


def selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched) of every series selector in `expr`."""
    text = _STRING.sub('""', expr)
    text = _RANGE.sub(" ", text)
    text = _GRAFANA_VARIABLE.sub(" 1 ", text)
    found: list[tuple[str, set[str]]] = []

    def braces(match: re.Match[str]) -> str:
        name, inside = match.group(1), match.group(2)
        labels = set(_MATCHER_LABEL.findall(inside))
        if not name or name in KEYWORDS:
            if "__name__" in labels:
                raise ValueError(f"a selector without a metric name: {match.group(0)!r} in {expr!r}")
            raise ValueError(f"a label matcher without a metric: {match.group(0)!r} in {expr!r}")
        found.append((name, labels - {"__name__"}))
        return " "

    text = _SELECTOR.sub(braces, text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    for match in _NAME.finditer(text):
        name = match.group(0)
        if name in KEYWORDS or re.match(r"\s*\(", text[match.end() :]):
            continue  # an operator word, or a function / aggregation called here
        found.append((name, set()))
    return found


def variable_query(query: str) -> str:
    """The PromQL inside a Grafana variable query: ``label_values(expr, label)`` -> ``expr``
    (``label_values(label)`` names no metric); anything else is PromQL already."""
    match = _LABEL_VALUES.match(query)
    if not match:
        return query
    args = match.group(1)
    if "," not in _STRING.sub('""', args):
        return ""
    return args.rsplit(",", 1)[0]


def dashboard_queries(path: Path) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every panel target and query variable of a Grafana dashboard."""
    board = json.loads(path.read_text(encoding="utf-8"))
    for var in board.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var.get("query")
            text = query.get("query", "") if isinstance(query, dict) else (query or "")
            yield f"{path.name} variable ${var['name']}", variable_query(text)

    def panels(items: list[dict]) -> Iterator[dict]:
        for panel in items:
            yield panel
            yield from panels(panel.get("panels", []))

    for panel in panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield f"{path.name} panel {panel.get('title')!r} ({target.get('refId')})", target["expr"]


def rule_queries(path: Path) -> Iterator[tuple[str, str]]:
    """(where, PromQL) of every alerting and recording rule of a Prometheus rule file."""
    for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            yield f"{path.name} {rule.get('alert') or rule.get('record')}", rule["expr"]


def uses(queries: Iterator[tuple[str, str]]) -> dict[str, Use]:
    """Every metric name the queries use, with the label names matched on it and where."""
    out: dict[str, Use] = {}
    for where, expr in queries:
        for name, labels in selectors(expr):
            use = out.setdefault(name, Use(name))
            use.labels |= labels
            use.where.add(where)
    return out
