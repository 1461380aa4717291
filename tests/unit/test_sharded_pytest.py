"""scripts/sharded_pytest.py, which `make test` runs: the files dealt out in balanced disjoint sets,
one process when the arguments name tests, seconds per file read from junit XML, the exit status."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import sharded_pytest as sp

REPO = Path(__file__).resolve().parents[2]


def test_every_file_goes_to_exactly_one_shard_and_the_loads_are_balanced():
    seconds = {"a": 100.0, "b": 60.0, "c": 50.0, "d": 30.0, "e": 20.0}
    sets = sp.deal(["a", "b", "c", "d", "e"], seconds, 2)
    assert sorted(f for s in sets for f in s) == ["a", "b", "c", "d", "e"]
    assert sorted(sum(seconds[f] for f in s) for s in sets) == [130.0, 130.0]  # {a, d} and {b, c, e}


def test_an_unrecorded_file_weighs_the_mean_of_the_recorded_ones():
    sets = sp.deal(["new", "x", "y"], {"x": 10.0, "y": 30.0}, 2)
    assert sets == [["y"], ["new", "x"]]  # y 30; then new (20, the mean) and x (10) on the other


def test_more_shards_than_files_leaves_shards_empty_not_files_out():
    assert sp.deal(["a"], {}, 3) == [["a"], [], []]


def test_the_suites_files_are_found_and_this_one_among_them():
    files = sp.test_files()
    assert "tests/unit/test_sharded_pytest.py" in files
    assert all(f.startswith("tests/") and Path(f).name.startswith("test_") for f in files)
    assert not any("conftest" in f for f in files)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["-k", "intake", "-m", "not slow"], False),
        (["-x", "--durations=20"], False),
        (["tests/unit/test_sharded_pytest.py"], True),
        (["tests/unit"], True),
        (["tests/unit/test_x.py::test_y"], True),
    ],
)
def test_arguments_naming_tests_mean_one_process(args, named):
    assert sp.names_paths(args) is named


def test_seconds_per_file_add_up_from_junit_xml(tmp_path):
    xml = tmp_path / "shard.xml"
    xml.write_text(
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.unit.test_sharded_pytest" name="a" time="1.5"/>'
        '<testcase classname="tests.unit.test_sharded_pytest" name="b" time="2.0"/>'
        '<testcase classname="tests.conftest.NoSuchClass" name="c" time="4"/>'
        '<testcase classname="tests.unit.test_ci_entry.SomeClass" name="d" time="0.25"/>'
        "</testsuite></testsuites>",
        encoding="utf-8",
    )
    assert sp.file_seconds(xml) == {
        "tests/unit/test_sharded_pytest.py": 3.5,
        "tests/conftest.py": 4.0,
        "tests/unit/test_ci_entry.py": 0.25,
    }


class Ended:
    def __init__(self, rc, log):
        self.rc, self.log, self.name = rc, log, f"shard {rc}"
        self.started = self.ended = 0.0

    def poll(self):
        return self.rc


@pytest.mark.parametrize(
    ("codes", "status"),
    [([0, 0], 0), ([0, 5], 0), ([5, 5], 5), ([0, 1], 1), ([2, 1], 2), ([0, -15], 143)],
    ids=["passed", "one-shard-filtered-out", "nothing-selected", "failed", "first-failure", "killed"],
)
def test_the_run_fails_when_any_shard_fails(codes, status, tmp_path):
    log = tmp_path / "shard.log"
    log.write_text("== 3 passed in 1.0s ==\n", encoding="utf-8")
    assert sp.summary([Ended(rc, log) for rc in codes]) == status


@pytest.mark.slow  # two pytest processes start: some seconds
def test_two_real_shards_run_disjoint_files_and_a_failure_fails_the_run(tmp_path):
    """The script end to end on a little suite of its own: two pytest processes, each its log and
    junit XML, every test run once, and the exit status of the shard that failed."""
    suite = tmp_path / "repo"
    (suite / "tests").mkdir(parents=True)
    for k in range(4):
        (suite / "tests" / f"test_m{k}.py").write_text(
            f"import os\n\ndef test_{k}(tmp_path):\n    print('shard', os.environ['FSM_TEST_SHARD'], tmp_path)\n"
            f"    assert {k} != 3\n",
            encoding="utf-8",
        )
    script = (REPO / "scripts" / "sharded_pytest.py").read_text(encoding="utf-8")
    (suite / "scripts").mkdir()
    (suite / "scripts" / "sharded_pytest.py").write_text(script, encoding="utf-8")
    (suite / "scripts" / "test_durations.json").write_text(
        json.dumps({"tests/test_m0.py": 9, "tests/test_m1.py": 3, "tests/test_m2.py": 3}), encoding="utf-8"
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "scripts/sharded_pytest.py", "--out", str(out), "-p", "no:cacheprovider", "-rA"],
        cwd=suite,
        env=dict(os.environ, TMPDIR=str(tmp_path)),  # the shards' --basetemp folder goes there too
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    logs = [(out / f"shard-{k}.log").read_text(encoding="utf-8") for k in (1, 2)]
    # test_m0 (9 s) alone; test_m1, test_m2 (3 s) and test_m3 (unrecorded: the mean, 5 s) together
    assert "test_m0.py" in logs[0] and "test_m0.py" not in logs[1]
    assert all(f"test_m{k}.py" in logs[1] for k in (1, 2, 3))
    assert "1 failed, 2 passed" in logs[1] and "1 passed" in logs[0]
    assert "shard 1" in logs[0] and "shard 2" in logs[1]  # each its FSM_TEST_SHARD
    basetemps = [re.search(r"shard \d (\S+)", log).group(1) for log in logs]  # each its own --basetemp
    assert Path(basetemps[0]).parent.name == "shard-1" and Path(basetemps[1]).parent.name == "shard-2"
    assert Path(basetemps[0]).parent.parent.parent == tmp_path
    assert (out / "shard-1.xml").exists() and (out / "shard-2.xml").exists()
    assert "== shard 1/2" in proc.stdout and "== shard 2/2" in proc.stdout and "1 failed, 2 passed" in proc.stdout
