"""bench/parts_reconcile.py at a small scale: it runs end to end (generate in a child process,
reconcile with the service's code), reports seconds and peak RSS, meets its floor, and the
discrepancies it seeds are found."""

import json
import subprocess
import sys
from pathlib import Path

from shared.config import REPO_ROOT


def test_bench_small_month():
    out = subprocess.run(
        [
            sys.executable,
            str(Path(REPO_ROOT) / "bench" / "parts_reconcile.py"),
            "--movements",
            "5000",
            "--outlets",
            "10",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    res = result["reconcile"]
    assert result["floor"] == {"seconds": True, "memory": True}
    assert res["movements_in_month"] >= 5000 and res["bench_outlets"] == 10
    assert 0 < res["peak_rss_mb"] < 1024 and res["seconds"] >= 0
    assert {"consumed_not_returned", "serial_mismatch", "quantity_mismatch"} <= set(res["discrepancies"])
    assert res["issued"] > 0 and res["consumed"] > 0 and res["returned"] > 0
