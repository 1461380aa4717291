"""`fsm` subcommands that need no broker: geocode, token, and the demo's helpers."""

import csv
import json
from datetime import UTC

from fsm import common
from fsm.main import main
from services.intake.cli import Row
from services.intake.demo import shift_into_past
from shared.auth import verify_token
from shared.config import load_config
from shared.tenancy import Principal

GEO_KEYS = {"province", "city", "district", "adcode", "lat", "lon", "precision", "ambiguous"}


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_geocode_one_json_line_per_address_in_order(capsys):
    addresses = ["湖北省武汉市洪山区珞喻路1号", "青山区和平大道293号", "山东省济南市历下区泉城路1号"]
    code, out, err = run(capsys, "geocode", *addresses)
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3
    wuhan, ambiguous, jinan = lines
    assert set(wuhan) == GEO_KEYS
    assert (wuhan["province"], wuhan["city"], wuhan["district"]) == ("湖北省", "武汉市", "洪山区")
    assert wuhan["ambiguous"] is False and wuhan["lat"] is not None
    assert (jinan["province"], jinan["district"]) == ("山东省", "历下区")
    # 青山区 exists in 包头 and in 武汉: flagged with its candidates, not silently placed
    assert set(ambiguous) == GEO_KEYS | {"candidates"}
    assert ambiguous["ambiguous"] is True and ambiguous["province"] is None
    assert {c["city"] for c in ambiguous["candidates"]} >= {"包头市", "武汉市"}


def test_token_round_trip(capsys):
    code, out, err = run(
        capsys, "token", "--user", "wuhan-agent", "--role", "center", "--tenant", "C01", "--ttl-days", "2"
    )
    assert code == 0, err
    token = out.strip()
    principal = verify_token(load_config()["AUTH_SECRET"], token)
    assert principal == Principal("wuhan-agent", "center", tenant="C01")


def test_token_refuses_center_without_tenant(capsys):
    code, out, err = run(capsys, "token", "--user", "x", "--role", "center")
    assert code == 1
    assert out == ""
    assert "needs a tenant" in err


def test_import_missing_file_is_a_clear_error(capsys, tmp_path):
    code, _, err = run(capsys, "import-requests", str(tmp_path / "nope.csv"))
    assert code == 1
    assert "no such file" in err


def test_bridge_submit_validates_rows_before_sending(capsys, tmp_path, monkeypatch):
    """Rows the bridge would dead-letter are reported per row; valid rows go to the client."""
    sent = []

    class FakeClient:
        def __init__(self, uri):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def submit(self, payload):
            sent.append(payload)

    monkeypatch.setattr("shared.bridge.BridgeClient", FakeClient)
    path = tmp_path / "req.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["request_id", "channel", "request_type", "customer_name", "contact_phone_masked", "address", "product"]
        )
        w.writerow(["HL-1", "hotline", "repair", "甲公司", "138****0000", "湖北省武汉市洪山区", "数控车床"])
        w.writerow(["", "hotline", "repair", "乙公司", "138****0001", "湖北省武汉市洪山区", "数控车床"])
    report = tmp_path / "report.csv"
    code, out, err = run(capsys, "bridge-submit", str(path), "--report", str(report))
    assert code == 2
    assert [p["external_ref"] for p in sent] == ["HL-1"]
    assert "external_ref" in out and "rows that failed" in out
    rows = list(csv.DictReader(open(report, encoding="utf-8")))
    assert [r["ok"] for r in rows] == ["yes", "no"]
    assert rows[1]["row"] == "2"


def test_format_table_aligns_cjk():
    text = common.format_table([["a", "name", "n"], ["C01", "武汉区域服务中心", "3"], ["HQ", "x", "12"]], align="llr")
    lines = text.splitlines()
    widths = {common.display_width(line) for line in lines if line.strip()}
    assert len(widths) == 1  # every line as wide as the others in display columns
    assert lines[2].endswith(" 3") and lines[3].endswith("12")


def test_shift_into_past_keeps_weekday_and_relations():
    from datetime import datetime

    row = Row(
        1,
        2,
        {},
        {"received_at": "2026-12-20T10:00:00+08:00", "purchase_date": "2026-12-01", "wished_visit_at": "2026-12-22"},
    )
    weeks = shift_into_past([row], now=datetime(2026, 11, 26, tzinfo=UTC))
    assert weeks == 4
    received = datetime.fromisoformat(row.payload["received_at"])
    assert received.weekday() == datetime(2026, 12, 20).weekday()
    assert received < datetime(2026, 11, 26, tzinfo=UTC)
    assert row.payload["purchase_date"] == "2026-11-03"
    assert shift_into_past([row], now=datetime(2026, 11, 26, tzinfo=UTC)) == 0


def test_service_classes_finds_intake_and_gateway():
    names = [cls.name for cls in common.service_classes()]
    assert {"intake", "gateway"} <= set(names)
    assert names == sorted(names)
