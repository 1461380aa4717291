"""Write k8s/prometheusrule.yaml, the cluster's copy of the alert rules, from
deploy/prometheus/alerts.yml (the one file to edit). `--check`: exit 1 if the copy differs.

    .venv/bin/python scripts/prometheusrule.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
TARGET = REPO / "k8s" / "prometheusrule.yaml"

HEADER = """\
# The platform's alert rules for prometheus-operator (kube-prometheus-stack picks up rules
# whose labels match its ruleSelector, usually release=<helm release name>: adjust below).
# Generated from deploy/prometheus/alerts.yml by scripts/prometheusrule.py: edit that file,
# then run the script (a test fails while the two differ). What each alert means and what to
# do: deploy/README.md, "Dashboards and alerts".
"""


def render() -> str:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "fieldservice",
            "namespace": "fieldservice",
            "labels": {"app.kubernetes.io/part-of": "fieldservice", "release": "kube-prometheus-stack"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET.relative_to(REPO)} differs from {RULES.relative_to(REPO)}: run {Path(__file__).name}")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
