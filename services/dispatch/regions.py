"""A big tenant cut into regions that can be planned apart (plain Python + numpy, no solver).

Issue 19, point 4: a country-wide week (5,000 visits, 300 technicians) does not fit one OR-Tools
model, nor even one travel matrix in memory (6,500 places: two 42-million-entry matrices). So the
planner (`region_plan`) never builds the whole problem: it cuts the tenant here, from coordinates,
into regions of whole technicians and the visits they should take, and builds and solves each
region's own problem.

How a region is cut (`partition`):
- technicians are grouped by home base (same place to ~100 m);
- each visit gets its CANDIDATE bases: those with a technician eligible for it (skills,
  certificate, outlet status, pin, the center's outlet) that can drive there, do it and drive home
  within one shift, nearest first (no base reaches it: the nearest eligible one; none is eligible:
  the nearest base, where the build says why);
- visits are dealt to bases most-constrained first (one candidate, then by regret: how much farther
  the second-nearest candidate is), each to its nearest candidate with room left, room being the
  base's technician-days x daily job capacity; when every candidate is full, to the nearest (the
  solver then chooses what that area leaves, and the planner offers that to the neighbours);
- a base with more than `max_visits` visits is cut into angular sectors around it, its technicians
  dealt to the sectors in proportion to the visits (whole technicians, so a region owns its
  technicians' whole week).

Each region also lists, per visit, the other regions that could take it (`Partition.candidates`):
the planner offers a visit its area drops to those, nearest first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from services.dispatch.domain import TechView, VisitView, eligible

if TYPE_CHECKING:
    from shared.geo.travel import TravelModel

REGION_MAX_VISITS = 170  # visits per region above which a base is cut into sectors
EARTH_KM = 6371.0088


@dataclass
class Region:
    base: tuple[float, float]  # (lat, lon) of its technicians' home base
    techs: list[TechView]
    visits: list[VisitView] = field(default_factory=list)
    sector: float = 0.0  # bearing (radians) of the sector's middle, for sector-split bases


@dataclass
class Partition:
    regions: list[Region]
    # visit id -> region indices that could take it, in the order they are offered it (its own first)
    candidates: dict[str, list[int]]


def travel_between(
    origins: Sequence[tuple[float, float]], dests: Sequence[tuple[float, float]], travel: TravelModel
) -> tuple[np.ndarray, np.ndarray]:
    """Road km and driving minutes from each origin to each destination (len(origins) x
    len(dests)): the arithmetic of `travel.travel_matrices` (haversine x detour, the travel
    model's speed profile) without the all-pairs matrix."""
    a = np.radians(np.asarray(origins, dtype=float).reshape(-1, 2))
    b = np.radians(np.asarray(dests, dtype=float).reshape(-1, 2))
    lat1, lon1 = a[:, 0][:, None], a[:, 1][:, None]
    lat2, lon2 = b[:, 0][None, :], b[:, 1][None, :]
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    km = 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1))) * travel.detour_factor
    urban = np.minimum(km, travel.urban_km) / travel.urban_speed_kmh
    rural = np.maximum(km - travel.urban_km, 0) / travel.speed_kmh
    minutes = 60.0 * (travel.base_minutes / 60.0 + urban + rural)
    same = km < 1e-6
    minutes[same] = 0.0
    km[same] = 0.0
    return km, minutes


def bearing(origin: tuple[float, float], point: tuple[float, float]) -> float:
    """Initial bearing from origin to point, radians in [0, 2 pi)."""
    la1, lo1, la2, lo2 = map(math.radians, (*origin, *point))
    y = math.sin(lo2 - lo1) * math.cos(la2)
    x = math.cos(la1) * math.sin(la2) - math.sin(la1) * math.cos(la2) * math.cos(lo2 - lo1)
    return math.atan2(y, x) % (2 * math.pi)


def _angle_gap(a: float, b: float) -> float:
    d = abs(a - b) % (2 * math.pi)
    return min(d, 2 * math.pi - d)


def _eligible_any(
    techs: Sequence[TechView],
    visit: VisitView,
    days: Sequence[date],
    outlet_status: Mapping[str, str | None],
    probation_full: set[str],
) -> bool:
    """Whether some technician of `techs` may do `visit` on some day of the horizon. Certificates
    run until a date, so the first day is the most permissive; a visit frozen on a day is checked
    on that day."""
    if not days:
        return False
    day = visit.frozen_vehicle[1] if visit.frozen_vehicle else days[0]
    return any(eligible(t, visit, day, outlet_status, probation_full) is None for t in techs)


def _bases(techs: Sequence[TechView]) -> list[tuple[tuple[float, float], list[TechView]]]:
    groups: dict[tuple[float, float], list[TechView]] = {}
    for t in sorted(techs, key=lambda t: t.id):
        groups.setdefault((round(t.lat, 3), round(t.lon, 3)), []).append(t)
    return [((ts[0].lat, ts[0].lon), ts) for _, ts in sorted(groups.items())]


def _shift_minutes(t: TechView) -> float:
    return (t.shift_end.hour * 60 + t.shift_end.minute) - (t.shift_start.hour * 60 + t.shift_start.minute)


def partition(
    visits: Sequence[VisitView],
    techs: Sequence[TechView],
    days: Sequence[date],
    outlet_status: Mapping[str, str | None],
    probation_full: set[str],
    travel: TravelModel,
    max_visits: int = REGION_MAX_VISITS,
) -> Partition:
    """Cut a tenant into regions (see the module docstring). Every visit is in exactly one
    region, every technician in exactly one; a region may hold visits none of its technicians
    can do (no base can), which its build then excludes with the reason."""
    bases = _bases(techs)
    if not bases:
        return Partition([], {})
    km, minutes = travel_between([(v.lat, v.lon) for v in visits], [b for b, _ in bases], travel)
    longest = [max(_shift_minutes(t) for t in ts) for _, ts in bases]
    room = [len(ts) * len(days) * max(1, int(np.median([t.capacity for t in ts]))) for _, ts in bases]
    cands: list[list[int]] = []
    regret: list[float] = []
    for i, v in enumerate(visits):
        order = sorted(range(len(bases)), key=lambda b: km[i, b])
        ok = [b for b in order if _eligible_any(bases[b][1], v, days, outlet_status, probation_full)]
        reach = [b for b in ok if 2 * minutes[i, b] + v.service_minutes <= longest[b] + 1e-6]
        c = reach or ok[:1] or order[:1]
        cands.append(c)
        regret.append(math.inf if len(c) == 1 else float(km[i, c[1]] - km[i, c[0]]))
    home: list[int] = [0] * len(visits)
    for i in sorted(range(len(visits)), key=lambda i: (-regret[i], km[i, cands[i][0]], visits[i].id)):
        b = next((b for b in cands[i] if room[b] > 0), cands[i][0])
        room[b] -= 1
        home[i] = b
    regions: list[Region] = []
    base_regions: dict[int, list[int]] = {}
    for b, (where, ts) in enumerate(bases):
        mine = [i for i in range(len(visits)) if home[i] == b]
        m = max(1, min(len(ts), math.ceil(len(mine) / max(1, max_visits))))
        if m == 1:
            base_regions[b] = [len(regions)]
            regions.append(Region(where, list(ts), [visits[i] for i in mine]))
            continue
        angles = sorted((bearing(where, (visits[i].lat, visits[i].lon)) if km[i, b] > 1e-6 else 0.0, i) for i in mine)
        # rotate so the widest empty arc falls between the first and last sector
        gaps = [(angles[(j + 1) % len(angles)][0] - angles[j][0]) % (2 * math.pi) for j in range(len(angles))]
        cut = (gaps.index(max(gaps)) + 1) % len(angles)
        angles = angles[cut:] + angles[:cut]
        share = [len(ts) // m + (1 if j < len(ts) % m else 0) for j in range(m)]
        base_regions[b] = []
        t0 = v0 = 0
        for j, n_t in enumerate(share):
            v1 = len(angles) if j == m - 1 else v0 + round(len(angles) * n_t / len(ts))
            chunk = [i for _, i in angles[v0:v1]]
            mid = angles[(v0 + v1 - 1) // 2][0] if v1 > v0 else 0.0
            base_regions[b].append(len(regions))
            regions.append(Region(where, list(ts[t0 : t0 + n_t]), [visits[i] for i in chunk], mid))
            t0, v0 = t0 + n_t, v1
        # a visit only some of the base's technicians may do (a pin, a skill) goes to the nearest
        # sector holding one of them
        for r in base_regions[b]:
            for v in list(regions[r].visits):
                if _eligible_any(regions[r].techs, v, days, outlet_status, probation_full):
                    continue
                ang = bearing(where, (v.lat, v.lon))
                fit = [
                    s
                    for s in base_regions[b]
                    if _eligible_any(regions[s].techs, v, days, outlet_status, probation_full)
                ]
                if fit:
                    regions[r].visits.remove(v)
                    best = min(fit, key=_gap_from(regions, ang))
                    regions[best].visits.append(v)
    own = {v.id: r for r, reg in enumerate(regions) for v in reg.visits}
    candidates: dict[str, list[int]] = {}
    for i, v in enumerate(visits):
        out = [own[v.id]]
        for b in cands[i]:
            ang = bearing(bases[b][0], (v.lat, v.lon))
            for r in sorted(base_regions[b], key=_gap_from(regions, ang)):
                if r not in out and _eligible_any(regions[r].techs, v, days, outlet_status, probation_full):
                    out.append(r)
        candidates[v.id] = out
    return Partition(regions, candidates)


def _gap_from(regions: Sequence[Region], ang: float) -> Callable[[int], float]:
    """Key of a region index: how far its sector's middle is from bearing `ang`."""
    return lambda r: _angle_gap(regions[r].sector, ang)


def split_limits(outlet_limits: Mapping[str, int] | None, regions: Sequence[Region]) -> list[dict[str, int]]:
    """Each region's share of the outlets' job limits (outlets on probation): an outlet whose
    technicians span several regions gives each a share in proportion to its technicians there,
    rounded down, the remainder to the region with most of them, so the shares never add up to
    more than the limit."""
    out: list[dict[str, int]] = [{} for _ in regions]
    for outlet, limit in (outlet_limits or {}).items():
        counts = [sum(1 for t in reg.techs if t.outlet_id == outlet) for reg in regions]
        total = sum(counts)
        if not total:
            continue
        shares = [int(limit) * c // total for c in counts]
        shares[counts.index(max(counts))] += int(limit) - sum(shares)
        for r, c in enumerate(counts):
            if c:
                out[r][outlet] = shares[r]
    return out


def candidate_regions(
    visit: VisitView,
    regions: Sequence[Region],
    days: Sequence[date],
    outlet_status: Mapping[str, str | None],
    probation_full: set[str],
    travel: TravelModel,
) -> list[int]:
    """The regions that could take one new visit, in the order to try them: those with an
    eligible technician who can get there and back within a shift, nearest base first (sectors of
    one base by bearing); none: the nearest with an eligible technician; none either: []."""
    if not regions:
        return []
    km, minutes = travel_between([(visit.lat, visit.lon)], [r.base for r in regions], travel)

    def key(r: int) -> tuple[float, float]:
        gap = _angle_gap(regions[r].sector, bearing(regions[r].base, (visit.lat, visit.lon)))
        return (round(float(km[0, r]), 3), gap)

    ok = [
        r
        for r in sorted(range(len(regions)), key=key)
        if regions[r].techs and _eligible_any(regions[r].techs, visit, days, outlet_status, probation_full)
    ]
    reach = [
        r
        for r in ok
        if 2 * minutes[0, r] + visit.service_minutes <= max(_shift_minutes(t) for t in regions[r].techs) + 1e-6
    ]
    return reach or ok[:1]
