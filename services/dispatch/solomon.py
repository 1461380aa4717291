"""Solomon VRPTW text format -> RoutingProblem; best-known-solution CSV loader.

Conventions (the usual distance-only benchmark): Euclidean distances as doubles, travel
time = distance, the service time is spent at the node (time from i to j = service_i +
d_ij), READY/DUE bound the arrival (start of service; DUE is a hard latest arrival), the
depot's window is the horizon, the fleet is the file's VEHICLE NUMBER with the file's
CAPACITY. Every customer must be served (the big drop penalty is only a safety net).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TypedDict

from services.dispatch.routing_problem import RoutingProblem, Vehicle, Visit


class BestKnown(TypedDict):
    """One instance's best-known solution: its fleet (None: the CSV gives none) and distance."""

    vehicles: int | None
    distance: float


def parse_solomon(path: str | Path) -> RoutingProblem:
    text = Path(path).read_text()
    lines = [ln.strip() for ln in text.splitlines()]
    name = next(ln for ln in lines if ln)
    n_veh = cap = None
    rows: list[list[float]] = []
    mode = None
    for ln in lines[1:]:
        up = ln.upper()
        if not ln:
            continue
        if up.startswith("VEHICLE"):
            mode = "veh"
            continue
        if up.startswith("CUSTOMER"):
            mode = "cust"
            continue
        if up.startswith("NUMBER") or up.startswith("CUST"):
            continue
        parts = ln.split()
        if mode == "veh" and n_veh is None and len(parts) >= 2:
            n_veh, cap = int(parts[0]), int(parts[1])
        elif mode == "cust" and len(parts) >= 7:
            rows.append([float(x) for x in parts[:7]])
    if n_veh is None or cap is None or not rows:
        raise ValueError(f"{path}: not a Solomon instance")
    rows.sort(key=lambda r: r[0])
    xy = [(r[1], r[2]) for r in rows]
    n = len(xy)
    dist = [[math.hypot(xy[i][0] - xy[j][0], xy[i][1] - xy[j][1]) for j in range(n)] for i in range(n)]
    depot = rows[0]
    horizon = (depot[4], depot[5])
    visits = [
        Visit(id=int(r[0]), location=i, demand=int(r[3]), windows=((r[4], r[5]),), service=r[6])
        for i, r in enumerate(rows)
        if i > 0
    ]
    vehicles = [Vehicle(id=k, start=0, end=0, capacity=cap, shift=horizon) for k in range(n_veh)]
    return RoutingProblem(visits=visits, vehicles=vehicles, distance=dist, travel_time=dist, name=name)


def load_bks(path: str | Path) -> dict[str, BestKnown]:
    """{instance: {"vehicles": int, "distance": float}} from a CSV with instance,vehicles,distance."""
    out: dict[str, BestKnown] = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out[row["instance"].strip().upper()] = {
                "vehicles": int(row["vehicles"]) if row.get("vehicles") else None,
                "distance": float(row["distance"]),
            }
    return out
