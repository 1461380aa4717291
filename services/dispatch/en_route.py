"""A technician's day under way: where it goes on from, and the drive it is already on.

Plain Python over plain records (attribute bags such as rows): a re-plan made during the day
starts each technician from the last site, after that job, with the capacity left
(`today_states`), and keeps a drive already begun unless its visit will be late anyway
(`on_the_road`), in which case the car may be sent elsewhere from the point reached.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from services.dispatch.domain import TodayState, minutes_since
from services.dispatch.travel import drive_minutes
from shared.clock import as_utc


def today_states(visits, now: datetime) -> dict:
    """{technician id: TodayState} from the visits started or done today, in the order they
    started: the place and end of the last one, and how many were used."""
    states = {}
    for v in visits:
        started = as_utc(v.started_at)
        done = as_utc(v.completed_at) or started + timedelta(minutes=v.service_minutes)
        prev = states.get(v.technician_id)
        used = (prev.used if prev else 0) + 1
        if prev is None or done >= prev.busy_until:
            states[v.technician_id] = TodayState(v.checkin_lat or v.lat, v.checkin_lon or v.lon, max(done, now), used)
        else:
            states[v.technician_id] = TodayState(prev.lat, prev.lon, prev.busy_until, used)
    return states


def en_route_point(origin: tuple, dest: tuple, arrival: datetime, now: datetime, travel) -> tuple:
    """Where a technician driving from `origin` to `dest`, due there at `arrival`, is at `now`:
    the point on the way from which the rest of the drive takes exactly `arrival - now` by the
    travel model. Defined this way (not as a share of the distance), a re-plan that keeps the
    technician on the same drive plans the same arrival, however often it runs."""
    remaining = minutes_since(now, arrival)
    if remaining <= 0:
        return tuple(dest)
    (la0, lo0), (la1, lo1) = origin, dest

    def at(f):
        return (la0 + (la1 - la0) * f, lo0 + (lo1 - lo0) * f)

    if drive_minutes(origin, dest, travel) <= remaining:
        return tuple(origin)
    lo, hi = 0.0, 1.0  # the drive left from at(f) shrinks as f grows
    for _ in range(40):
        mid = (lo + hi) / 2
        if drive_minutes(at(mid), dest, travel) > remaining:
            lo = mid
        else:
            hi = mid
    return at(hi)


def on_the_road(
    state: TodayState | None,
    home: tuple | None,
    site: tuple,
    arrival: datetime,
    due: datetime | None,
    service_minutes: int,
    now: datetime,
    travel,
):
    """Whether a technician is already driving to its next visit, and where its day goes on.

    `state`: its day so far (None: it starts from `home`); the visit at `site`, planned for
    `arrival`. None when the technician is still on site or its planned departure (arrival less
    the drive) has not come. Otherwise (redirectable, TodayState):
    - committed (False): the visit leaves the re-plan (a re-plan would otherwise restart the drive
      from where it began at every run and push the arrival back each time); the day goes on from
      that site after that job;
    - redirectable (True): the visit will be late anyway, so the car may be sent to a visit that
      can still be on time. The visit stays in the re-plan and the day goes on from the point
      reached on the road, now (`en_route_point`: a re-plan that keeps the drive plans the same
      arrival)."""
    if state is not None and state.busy_until > now:
        return None  # still on site: not on the road yet
    here = (state.lat, state.lon) if state is not None else home
    if here is None or here[0] is None:
        return None
    drive = drive_minutes(here, site, travel)
    if arrival - timedelta(minutes=drive) > now:
        return None
    used = state.used if state is not None else 0
    if due is not None and arrival > due:
        lat, lon = en_route_point(here, site, arrival, now, travel)
        return True, TodayState(lat, lon, now, used)
    return False, TodayState(site[0], site[1], max(arrival, now) + timedelta(minutes=service_minutes), used + 1)


def drives_under_way(first_visits: dict, homes: dict, states: dict, now: datetime, travel) -> tuple[set, set]:
    """The visits technicians are already on their way to: `first_visits` is each technician's
    first scheduled, not started visit of today ({technician id: visit}), `homes` their homes.
    Committed ones leave the re-plan; redirectable ones (late anyway) stay in it, not frozen to
    the day. Returns (committed visit ids, redirectable visit ids); `states` is updated in place."""
    committed, loose = set(), set()
    for tid, v in first_visits.items():
        if v.lat is None:
            continue
        road = on_the_road(
            states.get(tid),
            homes.get(tid),
            (v.lat, v.lon),
            as_utc(v.planned_arrival),
            as_utc(v.onsite_due),
            v.service_minutes,
            now,
            travel,
        )
        if road is None:
            continue
        redirectable, states[tid] = road
        (loose if redirectable else committed).add(v.id)
    return committed, loose
