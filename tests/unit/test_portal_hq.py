"""HQ console's pure pieces: the tariff's labour fees per product line (the default line last,
repair by fault class) and its transport bands as ranges, read from settlement's own tariff file."""

from __future__ import annotations

from datetime import date

from services.gateway.portal.pages_hq_network import labour_rows, transport_rows
from services.settlement.tariff import DEFAULT_FILE, TariffBook


def tariff_values(tenant=None, day=date(2026, 3, 1)):
    import yaml

    book = TariffBook.from_document(yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8")))
    return book.in_force(tenant, day).values


def test_labour_rows_per_product_line_with_repair_by_fault_class_and_the_default_line_last():
    rows = labour_rows(tariff_values())
    assert rows[-1]["line"] == "_default" and len(rows) == 6
    lathe = next(r for r in rows if r["line"] == "数控车床")["fees"]
    assert lathe["install"] == 630 and lathe["maintenance"] == 250
    assert lathe["repair.mechanical"] == 380 and lathe["repair.general"] == 270
    assert "repair" not in lathe  # a fee by fault class has no single repair figure


def test_a_flat_repair_fee_and_missing_entries():
    rows = labour_rows({"labour": {"B": {"install": 1, "repair": 5}, "A": {"install": 2}}})
    assert [r["line"] for r in rows] == ["A", "B"]
    assert rows[0]["fees"] == {"install": 2, "maintenance": None, "repair": None}
    assert rows[1]["fees"]["repair"] == 5
    assert labour_rows({}) == []


def test_transport_bands_as_ranges_the_last_open_ended():
    assert transport_rows(tariff_values()) == [
        ("0–10 公里", 0),
        ("10–30 公里", 35),
        ("30–60 公里", 70),
        ("60–100 公里", 110),
        ("100–200 公里", 200),
        ("200 公里以上", 320),
    ]
    assert transport_rows({}) == []
