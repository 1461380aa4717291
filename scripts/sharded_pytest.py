"""`make test`: the suite as concurrent pytest processes ("shards") over disjoint sets of test files.

Many tests wait on I/O (RabbitMQ, a browser, `make run` and other subprocesses), so two pytest
processes finish sooner than one even on two cores. Files are dealt out longest first, each to
the shard with the least work so far, by the seconds recorded per file in scripts/test_durations.json
(a file not recorded there counts as the mean). Each shard has its own log, junit XML and --basetemp
(logs and XML in OUT, var/test-shards/ unless --out; --basetemp under the system's temporary
folder, cleared by the next run), its own vhosts, databases and free ports as every test
already has (nothing in tests/ uses a fixed port, vhost, database name or temporary path), and
FSM_TEST_SHARD=<k> in its environment. A shard's log is printed once it ends, its progress every
minute before; the run fails if any shard fails.

    python scripts/sharded_pytest.py [--shards 2] [--out DIR] [--record] [pytest options ...]

Plain pytest (one process, output as it comes) when --shards is 1 or a pytest argument names a
test path (`tests/unit/test_x.py`, `...::test_y`): nothing to deal out then. --record writes the
run's seconds per file (from the junit XML) back to scripts/test_durations.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DURATIONS = REPO / "scripts" / "test_durations.json"
NO_TESTS = 5  # pytest's exit status when a shard's files hold no selected test (a -k or -m filter)
PROGRESS = re.compile(r"\[\s*(\d+)%\]")


def test_files(root: Path = REPO) -> list[str]:
    """Every test module under tests/, relative to the repository (pytest's default discovery)."""
    return sorted(str(p.relative_to(root)) for p in (root / "tests").rglob("test_*.py"))


def deal(files: list[str], seconds: dict[str, float], shards: int) -> list[list[str]]:
    """`files` in `shards` sets of near-equal recorded seconds: longest first, each to the lightest
    shard so far (an unrecorded file weighs the mean of the recorded ones). Each set sorted."""
    known = [seconds[f] for f in files if f in seconds]
    default = sum(known) / len(known) if known else 1.0
    weight = {f: seconds.get(f, default) for f in files}
    loads = [0.0] * shards
    sets: list[list[str]] = [[] for _ in range(shards)]
    for f in sorted(files, key=lambda f: (-weight[f], f)):
        k = loads.index(min(loads))
        sets[k].append(f)
        loads[k] += weight[f]
    return [sorted(s) for s in sets]


def names_paths(pytest_args: list[str]) -> bool:
    """Whether a pytest argument names a test file, folder or node (then one process runs them)."""
    for arg in pytest_args:
        if arg.startswith("-"):
            continue
        if "::" in arg or (REPO / arg).exists() or Path(arg).exists():
            return True
    return False


def file_seconds(junit_xml: Path) -> dict[str, float]:
    """Seconds per test file in a junit XML report (the sum of its test cases' times)."""
    seconds: dict[str, float] = {}
    for case in ET.parse(junit_xml).iter("testcase"):
        module = case.get("classname", "").split(".")
        # classname is tests.unit.test_x (or tests.unit.test_x.TestClass): the module's path
        for end in range(len(module), 0, -1):
            path = "/".join(module[:end]) + ".py"
            if (REPO / path).is_file():
                seconds[path] = seconds.get(path, 0.0) + float(case.get("time", 0.0))
                break
    return seconds


def record(seconds: dict[str, float], path: Path = DURATIONS) -> None:
    """Merge this run's seconds per file into `path` (files gone from tests/ dropped)."""
    old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    merged = {f: round(seconds.get(f, old.get(f, 0.0)), 1) for f in test_files() if f in seconds or f in old}
    path.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def shown(path: Path) -> Path:
    """`path` relative to the repository when it is in it."""
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def last_progress(log: Path) -> str:
    try:
        found = PROGRESS.findall(log.read_text(encoding="utf-8", errors="replace")[-2000:])
    except OSError:
        return "?"
    return f"{found[-1]}%" if found else "started"  # -q writes the percentage at a line's end


class Shard:
    def __init__(self, number: int, count: int, files: list[str], out: Path, tmp: Path):
        self.number, self.count, self.files = number, count, files
        self.log = out / f"shard-{number}.log"
        self.junit = out / f"shard-{number}.xml"
        self.basetemp = tmp / f"shard-{number}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = self.ended = 0.0

    def start(self, pytest_args: list[str]) -> None:
        command = [sys.executable, "-m", "pytest", *pytest_args]
        command += [f"--junitxml={self.junit}", f"--basetemp={self.basetemp}", *self.files]
        env = dict(os.environ, FSM_TEST_SHARD=str(self.number))
        with open(self.log, "wb") as log:
            # a process group of its own: a Ctrl-C reaches the shard once, forwarded by run_shards
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0
            )
        self.started = time.monotonic()

    @property
    def name(self) -> str:
        return f"shard {self.number}/{self.count}"

    def poll(self) -> int | None:
        assert self.proc is not None
        rc = self.proc.poll()
        if rc is not None and not self.ended:
            self.ended = time.monotonic()
        return rc


def run_shards(shards: list[Shard], pytest_args: list[str], heartbeat: float = 60.0) -> int:
    """Start every shard, report progress each `heartbeat` seconds, print each log as its shard
    ends; the run's exit status: 0 if every shard passed, else the first failing shard's."""

    def forward(signum: int, _frame: object) -> None:
        for shard in shards:
            if shard.proc is not None and shard.proc.poll() is None:
                shard.proc.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)  # each shard stops as pytest does on Ctrl-C, then its log
    try:
        for shard in shards:
            shard.start(pytest_args)
            print(f"{shard.name}: {len(shard.files)} files, log {shown(shard.log)}", flush=True)
        printed: set[int] = set()
        begun = time.monotonic()
        next_beat = begun + heartbeat
        while len(printed) < len(shards):
            time.sleep(1)
            for shard in shards:
                if shard.number not in printed and shard.poll() is not None:
                    printed.add(shard.number)
                    print_log(shard)
            if time.monotonic() >= next_beat and len(printed) < len(shards):
                next_beat += heartbeat
                running = [f"{s.name} {last_progress(s.log)}" for s in shards if s.number not in printed]
                print(f"... {time.monotonic() - begun:.0f} s: " + ", ".join(running), flush=True)
    finally:  # this script failing must not leave a shard running
        for shard in shards:
            if shard.proc is not None and shard.proc.poll() is None:
                shard.proc.terminate()
    return summary(shards)


def print_log(shard: Shard) -> None:
    took = shard.ended - shard.started
    print(f"\n== {shard.name} ({len(shard.files)} files, {took:.0f} s, exit {shard.poll()})", flush=True)
    sys.stdout.write(shard.log.read_text(encoding="utf-8", errors="replace"))
    sys.stdout.flush()


def summary(shards: list[Shard]) -> int:
    codes = [s.poll() for s in shards]
    assert all(rc is not None for rc in codes)
    print("\n== shards")
    for shard, rc in zip(shards, codes, strict=True):
        tail = shard.log.read_text(encoding="utf-8", errors="replace").rstrip().splitlines()
        print(f"{shard.name}: exit {rc}, {shard.ended - shard.started:.0f} s: {tail[-1] if tail else ''}")
    if all(rc == NO_TESTS for rc in codes):
        return NO_TESTS
    failed = [rc for rc in codes if rc is not None and rc not in (0, NO_TESTS)]
    if not failed:
        return 0
    return failed[0] if failed[0] > 0 else 128 - failed[0]  # ended by a signal: as a shell reports it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None, allow_abbrev=False)
    parser.add_argument("--shards", type=int, default=int(os.environ.get("TEST_SHARDS", "2")))
    parser.add_argument("--out", type=Path, default=REPO / "var" / "test-shards")
    parser.add_argument("--record", action="store_true", help="write the seconds per file to " + DURATIONS.name)
    args, pytest_args = parser.parse_known_args(argv)
    if args.shards <= 1 or names_paths(pytest_args):
        return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=REPO)
    seconds = json.loads(DURATIONS.read_text(encoding="utf-8")) if DURATIONS.exists() else {}
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # one folder per checkout, so runs do not pile up (pytest clears a --basetemp before it starts)
    tmp = Path(tempfile.gettempdir()) / f"fsm-test-shards-{zlib.crc32(str(REPO).encode()):08x}"
    tmp.mkdir(exist_ok=True)  # pytest makes a --basetemp, not the folders above it
    sets = [files for files in deal(test_files(), seconds, args.shards) if files]
    shards = [Shard(k, len(sets), files, out, tmp) for k, files in enumerate(sets, 1)]
    rc = run_shards(shards, pytest_args)
    if args.record:
        measured: dict[str, float] = {}
        for shard in shards:
            if shard.junit.exists():
                measured.update(file_seconds(shard.junit))
        record(measured)
        print(f"seconds per file written to {shown(DURATIONS)} ({len(measured)} files)")
    return rc


if __name__ == "__main__":
    sys.exit(main())
