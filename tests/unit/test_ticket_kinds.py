"""The ticket kinds, the on-site kinds, the tiers and the channels are defined once, in the event
catalogue (shared/events.py), and every other module imports them from there.

The repeat check reads the source (ast): a tuple or list of exactly one of those sets of names,
written out anywhere but the catalogue, is a second definition that can drift from the first.
"""

import ast
from pathlib import Path

from services.dispatch.domain import SERVICE_MINUTES
from shared import events, sla

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "shared" / "events.py"
PACKAGES = ("shared", "services", "fsm", "bench")
DEFINED_ONCE = {
    "TICKET_KINDS": events.TICKET_KINDS,
    "ONSITE_KINDS": events.ONSITE_KINDS,
    "TIERS": events.TIERS,
    "CHANNELS": events.CHANNELS,
}


def repeats(source: str) -> list[str]:
    """The names in DEFINED_ONCE whose values `source` writes out as a literal tuple or list."""
    by_value = {tuple(value): name for name, value in DEFINED_ONCE.items()}
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
            values = tuple(e.value if isinstance(e, ast.Constant) else None for e in node.elts)
            name = by_value.get(values)
            if name is not None:
                found.append(f"{name} (line {node.lineno})")
    return found


def test_the_check_finds_a_written_out_copy():
    assert repeats('TIERS = ("local", "in_province", "out_of_province")\n') == ["TIERS (line 1)"]
    assert repeats('f(validate=OneOf(["repair", "install", "maintenance", "complaint"]))\n') == [
        "ONSITE_KINDS (line 1)"
    ]
    assert repeats('KINDS = ("repair", "install")\nTIERS = ["local"] * 6\n') == []


def test_no_module_but_the_catalogue_writes_them_out():
    paths = [p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py")) if p != CATALOGUE]
    assert paths, "no source found beside the tests"
    found = [f"{p.relative_to(ROOT)}: {r}" for p in paths for r in repeats(p.read_text(encoding="utf-8"))]
    assert found == []


def test_the_sla_rules_use_the_catalogues_kinds_and_tiers():
    assert sla.KINDS is events.TICKET_KINDS
    assert sla.ONSITE_KINDS is events.ONSITE_KINDS
    assert sla.TIERS is events.TIERS


def test_onsite_kinds_are_ticket_kinds_and_each_has_its_minutes_on_site():
    assert set(events.ONSITE_KINDS) < set(events.TICKET_KINDS)
    assert "consultation" not in events.ONSITE_KINDS
    assert set(SERVICE_MINUTES) == set(events.ONSITE_KINDS)
