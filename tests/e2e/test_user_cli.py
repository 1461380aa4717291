"""``fsm user add/list/disable/reset-password`` as an operator runs them: the installed command,
the password piped on standard input, the gateway's database migrated on first use."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[2]
FSM = REPO / ".venv" / "bin" / "fsm"


@pytest.fixture
def fsm(tmp_path):
    db = tmp_path / "gateway.db"
    env = dict(os.environ, DATABASE_URL_GATEWAY=f"sqlite:///{db}", FSM_ARGON2_TIME_COST="1")
    env.update(FSM_ARGON2_MEMORY_KIB="8192", FSM_ARGON2_PARALLELISM="1")

    def run(*args, password=None):
        return subprocess.run(
            [str(FSM), "user", *args],
            input=password,
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=120,
        )

    run.db = db
    return run


def test_add_list_disable_and_reset_accounts(fsm):
    r = fsm(
        "add",
        "o5-zhang",
        "--role",
        "outlet",
        "--tenant",
        "C01",
        "--outlet",
        "C01-O05",
        "--name",
        "张三",
        password="s3cret-pass\n",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "added o5-zhang (张三, outlet)"
    r = fsm("add", "tl", "--role", "center", "--tenant", "C01", "--duty", "technical_lead", password="another-pw-1\n")
    assert r.returncode == 0, r.stderr

    r = fsm("list", "--json")
    assert r.returncode == 0, r.stderr
    users = {u["username"]: u for u in json.loads(r.stdout)}
    assert users["o5-zhang"]["outlet"] == "C01-O05" and users["o5-zhang"]["name"] == "张三"
    assert users["tl"]["duty"] == "technical_lead" and not users["tl"]["disabled"]
    table = fsm("list").stdout
    assert "o5-zhang" in table and "张三" in table and "active" in table

    engine = create_engine(f"sqlite:///{fsm.db}")
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users WHERE username='o5-zhang'")).scalar()
    assert stored.startswith("$argon2id$") and "s3cret" not in stored

    r = fsm("reset-password", "o5-zhang", password="a-new-one-22\n")
    assert r.returncode == 0 and "new password set for o5-zhang" in r.stdout, r.stderr
    with engine.connect() as conn:
        assert conn.execute(text("SELECT password_hash FROM users WHERE username='o5-zhang'")).scalar() != stored

    r = fsm("disable", "tl")
    assert r.returncode == 0 and r.stdout.strip() == "disabled tl", r.stderr
    assert "disabled" in [line for line in fsm("list").stdout.splitlines() if line.strip().startswith("tl")][0]
    engine.dispose()


@pytest.mark.parametrize(
    "args, password, message",
    [
        (["x5", "--role", "outlet", "--tenant", "C01"], "long-enough-1\n", "outlet: required for role outlet"),
        (["x5", "--role", "hq", "--outlet", "C01-O05"], "long-enough-1\n", "outlet: not used by role hq"),
        (["x5", "--role", "center", "--tenant", "C99"], "long-enough-1\n", "tenant: unknown tenant 'C99'"),
        (
            ["x5", "--role", "outlet", "--tenant", "C01", "--outlet", "C01-O05", "--duty", "service_head"],
            "long-enough-1\n",
            "duty",
        ),
        (["Bad Name", "--role", "hq"], "long-enough-1\n", "username"),
        (["x5", "--role", "hq"], "short\n", "password: at least 8 characters"),
        (["x5", "--role", "hq"], "", "no password on standard input"),
    ],
)
def test_a_wrong_account_is_refused_naming_the_field(fsm, args, password, message):
    r = fsm("add", *args, password=password)
    assert r.returncode == 1 and r.stderr.startswith("fsm: error:") and message in r.stderr, r.stderr
    assert json.loads(fsm("list", "--json").stdout) == []  # nothing half-made


def test_an_existing_username_and_an_unknown_one(fsm):
    assert fsm("add", "hq1", "--role", "hq", password="long-enough-1\n").returncode == 0
    r = fsm("add", "hq1", "--role", "hq", password="long-enough-2\n")
    assert r.returncode == 1 and "username: already taken" in r.stderr
    for command in ("disable", "reset-password"):
        r = fsm(command, "nobody", password="long-enough-1\n")
        assert r.returncode == 1 and "username: no such user" in r.stderr, r.stderr
