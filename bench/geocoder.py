"""Geocoder speed: the sample requests' addresses parsed in one batch, per address.

    .venv/bin/python bench/geocoder.py [--repeat 5]

Floor: under 2 ms per address on this machine (it was a timed unit test; timing belongs
here, not in the suite).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    from shared.geo import ChinaGeocoder

    with open(REPO / "data" / "service_requests_sample.csv", encoding="utf-8") as fh:
        addresses = [row["address"] for row in csv.DictReader(fh)]
    geocoder = ChinaGeocoder()
    geocoder.parse_many(addresses[:5])  # load the gazetteer before timing
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        geocoder.parse_many(addresses)
        best = min(best, (time.perf_counter() - started) / len(addresses))
    print(
        f"geocoder: {len(addresses)} addresses, best of {args.repeat}: {best * 1000:.2f} ms per address "
        f"(floor 2 ms: {'met' if best < 0.002 else 'NOT met'})"
    )
    return 0 if best < 0.002 else 1


if __name__ == "__main__":
    sys.exit(main())
