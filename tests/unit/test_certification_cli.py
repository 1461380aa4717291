"""`fsm certification token` and `fsm certification network-plan`."""

from fsm.main import main
from shared.auth import verify_token


def test_duty_token_carries_the_duty(capsys, monkeypatch):
    monkeypatch.setenv("FSM_AUTH_SECRET", "test-secret-of-at-least-thirty-two-bytes")
    assert main(["certification", "token", "--user", "li", "--role", "hq", "--duty", "service_head"]) == 0
    token = capsys.readouterr().out.strip()
    principal = verify_token("test-secret-of-at-least-thirty-two-bytes", token)
    assert principal.role == "hq" and principal.duty == "service_head"
    # a center user needs its tenant
    assert main(["certification", "token", "--user", "wang", "--role", "center", "--duty", "technical_lead"]) == 1


def test_network_plan_table_and_bad_file(capsys, tmp_path):
    assert main(["certification", "network-plan", "--tenant", "C01", "--gaps-only"]) == 0
    out = capsys.readouterr().out
    assert "武汉市" in out and "outlets short" in out and "C02" not in out
    bad = tmp_path / "rates.csv"
    bad.write_text("model,product_line,repair_rate\nVMC850,立式加工中心,0.2\n", encoding="utf-8")
    assert main(["certification", "network-plan", "--repair-rates", str(bad)]) == 1
    assert "no repair rate" in capsys.readouterr().err
