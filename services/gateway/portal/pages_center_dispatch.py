"""The regional center's dispatch board (a mixin of GatewayService; role ``center``, its tenant).

``/center/dispatch`` shows a day of the plan: per technician a timeline (drive, then service, stop
by stop, drawn as SVG), where each goes and when, the day's route map, the visits dispatch could not
place with its reason and those waiting for the planner, and the last re-plans with what changed.
The board refreshes itself: htmx fetches ``/center/dispatch/live`` (the same board, without the
page around it) every ``PORTAL_REFRESH_SECONDS`` and swaps it in. It reads with the RPCs behind
``GET /api/v1/dispatch/board``, ``GET /api/v1/technicians`` and ``GET
/api/v1/dispatch/plan-runs``, and the tickets (customer, address) with the one behind ``GET
/api/v1/tickets``. "Re-plan now" is ``POST /api/v1/dispatch/reoptimise`` (``dispatch.reoptimise``),
with an optional reason that lets it move visits whose appointment was confirmed (those it moved are
listed on the board with the time the customer had been told and the reason); confirming a planned
arrival to the customer is ``POST /api/v1/visits/<id>/confirm-appointment`` (``dispatch.confirm_appointment``);
pinning a visit to a technician is ``POST /api/v1/visits/<id>/pin`` (``dispatch.pin``), removing it
``DELETE`` (``dispatch.unpin``). Dispatch scopes everything to the caller's tenant.

A leg's drive time is the leg's road kilometres (dispatch's ``planned_km``) through the travel
model dispatch plans with (``shared.geo.TravelModel``, config ``TRAVEL_MODEL``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from nameko.dependency_providers import Config

from services.gateway.portal import labels
from services.gateway.portal.routemap import route_map
from services.gateway.portal.web import aware_time, page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError
from shared.geo import TravelModel
from shared.rpc import RpcProxy

CENTER = ("center",)
PAGE = 1000
PLANNED = ("started", "scheduled")
WAITING = ("unassignable", "unplanned")
WIDTH = 600  # the timeline's SVG units across
DONE = {
    "replan": "已重新排程",
    "pin": "已锁定技师，已重新排程",
    "unpin": "已取消锁定，已重新排程",
    "confirm": "已确认预约，重新排程将保持这一时间",
}


class CenterDispatchPages:
    """The dispatch board, pinning and re-planning; `GatewayService` inherits it."""

    dispatch = RpcProxy("dispatch")
    intake = RpcProxy("intake")
    settings_of_board = Config()  # the travel model's figures (TRAVEL_MODEL), as dispatch reads them

    @page("GET", "/center/dispatch", roles=CENTER)
    def center_dispatch_page(self, request, page):
        return self._center_board(request, page)

    @page("GET", "/center/dispatch/live", roles=CENTER)
    def center_dispatch_live_page(self, request, page):
        """The board alone (no page around it): what the page's htmx poll swaps in every
        `PORTAL_REFRESH_SECONDS`, so a visit planned meanwhile shows without a reload."""
        return self._center_board(request, page, fragment=True)

    def _center_board(self, request, page, fragment: bool = False, form=None, status: int = 200):
        visits = {s: self.dispatch.board({"status": s, "limit": PAGE})["items"] for s in PLANNED + WAITING}
        technicians = {t["id"]: t for t in self.dispatch.list_technicians(None)}
        planned = visits["started"] + visits["scheduled"]
        today = page.now.astimezone(LOCAL_TZ).date()
        busy = {_day(v, today) for v in planned}
        days = sorted(busy | {today})
        day = _chosen_day(request.values.get("day"), days, min(busy) if busy else today)
        tickets = self._board_tickets()
        travel = TravelModel.from_config(self.settings_of_board.get("TRAVEL_MODEL") or {})
        rows = technician_days([v for v in planned if _day(v, today) == day], technicians, tickets, travel)
        runs = self.dispatch.plan_runs(2)
        done = request.args.get("done")
        return page.render(
            "center/dispatch.html",
            status=status,
            form=form or page.form("reason"),
            day=day,
            days=[{"date": d, "label": _day_label(d, today), "current": d == day} for d in days],
            rows=rows,
            span=timeline_span(rows),
            map=route_map(
                [{"name": r["name"], "home": r["home"], "stops": [_map_stop(s) for s in r["stops"]]} for r in rows]
            ),
            waiting=[dict(v, ticket=tickets.get(v["ticket_id"], {})) for s in WAITING for v in visits[s]],
            at_risk=sum(1 for v in planned if v.get("late_risk")),
            moved=[
                dict(v, ticket=tickets.get(v["ticket_id"], {})) for v in planned if v.get("appointment_moved_reason")
            ],
            runs=runs,
            changes=plan_changes(runs),
            notice=DONE.get(done or ""),
            fragment=fragment,
        )

    @page("POST", "/center/dispatch/replan", roles=CENTER)
    def center_replan_page(self, request, page):
        """Re-plan the caller's tenant now; a reason (optional) lets the plan move confirmed
        appointments. A reason refused: the board again, the error next to the field (422)."""
        form = page.form("reason")
        try:
            self.dispatch.reoptimise(None, form.text("reason"))  # the caller's tenant
        except DomainError as exc:
            return self._center_board(request, page, form=form.take(exc), status=exc.http_status)
        return page.redirect(_board_link(request.form.get("day"), "replan"))

    @page("POST", "/center/dispatch/visits/<string:visit_id>/confirm", roles=CENTER)
    def center_confirm_appointment_page(self, request, page, visit_id):
        """The planned arrival was told to the customer (确认预约): re-plans keep it. Another
        tenant's visit: 404; one not planned: dispatch's 422 on the error page."""
        self.dispatch.confirm_appointment(visit_id)
        return page.redirect(_board_link(request.form.get("day"), "confirm"))

    @page(("GET", "POST"), "/center/dispatch/visits/<string:visit_id>/pin", roles=CENTER)
    def center_pin_page(self, request, page, visit_id):
        visit = self.dispatch.get_visit(visit_id)  # another tenant's: NotFound, a 404 page
        form = page.form("technician_id")
        day = request.form.get("day") or request.args.get("day") or ""
        status = 200
        if request.method == "POST":
            try:
                self.dispatch.pin(visit_id, form.payload())
                self.dispatch.reoptimise(None)
                return page.redirect(_board_link(day, "pin"))
            except DomainError as exc:
                form.take(exc, aliases={"visit_id": "technician_id"})
                status = exc.http_status
        else:
            form.values["technician_id"] = visit.get("pinned_technician_id") or visit.get("technician_id") or ""
        technicians = self.dispatch.list_technicians(None)
        directory = page.portal.directory
        choices = [
            (t["id"], f"{t['name']}（{labels.site_name(directory, t.get('outlet_id')) or '中心'}）")
            for t in sorted(technicians, key=lambda t: (t.get("outlet_id") or "", t["name"]))
            if t.get("active", True)
        ]
        ticket = self._board_ticket_of(visit)
        return page.render(
            "center/pin.html", status=status, visit=visit, ticket=ticket, form=form, choices=choices, day=day
        )

    @page("POST", "/center/dispatch/visits/<string:visit_id>/unpin", roles=CENTER)
    def center_unpin_page(self, request, page, visit_id):
        self.dispatch.unpin(visit_id)
        self.dispatch.reoptimise(None)
        return page.redirect(_board_link(request.form.get("day"), "unpin"))

    def _board_tickets(self) -> dict[str, dict[str, Any]]:
        """The tenant's open tickets by id (customer and address for the board), as intake lists them."""
        found: dict[str, dict[str, Any]] = {}
        for status in ("registered", "accepted", "scheduled", "on_site"):
            for t in self.intake.list_tickets({"status": status, "limit": PAGE})["items"]:
                found[t["id"]] = t
        return found

    def _board_ticket_of(self, visit: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.intake.get_ticket(visit["ticket_id"])
        except DomainError:
            return None


def _day(visit: dict[str, Any], today: date) -> date:
    arrival = aware_time(visit.get("planned_arrival"))
    return max(arrival.astimezone(LOCAL_TZ).date(), today) if arrival else today


def _chosen_day(value: str | None, days: list[date], first: date) -> date:
    """The day asked for (``?day=``) if it is one of `days`, else `first` (the first day with visits)."""
    try:
        chosen = date.fromisoformat(value) if value else first
    except ValueError:
        return first
    return chosen if chosen in days else first


def _day_label(day: date, today: date) -> str:
    name = {0: "今天", 1: "明天", 2: "后天"}.get((day - today).days)
    short = f"{day.month}月{day.day}日 周{'一二三四五六日'[day.weekday()]}"
    return f"{name} {short}" if name else short


def _board_link(day: str | None, done: str) -> str:
    try:
        return f"/center/dispatch?day={date.fromisoformat(day or '').isoformat()}&done={done}"
    except ValueError:
        return f"/center/dispatch?done={done}"


def _map_stop(stop: dict[str, Any]) -> dict[str, Any]:
    return {"lat": stop["lat"], "lon": stop["lon"], "title": stop["title"], "late": stop["late_risk"]}


def technician_days(
    visits: list[dict[str, Any]],
    technicians: dict[str, dict[str, Any]],
    tickets: dict[str, dict[str, Any]],
    travel: TravelModel,
) -> list[dict[str, Any]]:
    """The day's visits by technician, in route order: each stop's drive (from the leg's road km,
    by the travel model), arrival, service and departure."""
    by_tech: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for v in visits:
        by_tech[v.get("technician_id") or ""].append(v)
    rows = []
    for tech_id, mine in by_tech.items():
        tech = technicians.get(tech_id) or {}
        stops = []
        for v in sorted(mine, key=lambda v: (v.get("planned_arrival") or "", v.get("route_order") or 0)):
            arrive = aware_time(v.get("planned_arrival"))
            km = v.get("planned_km")
            drive = round(travel.hours_for_road_km(km) * 60) if km else 0
            ticket = tickets.get(v["ticket_id"], {})
            stops.append(
                dict(
                    v,
                    arrive=arrive,
                    leave=arrive + timedelta(minutes=v["service_minutes"]) if arrive else None,
                    set_off=arrive - timedelta(minutes=drive) if arrive else None,
                    drive_minutes=drive,
                    customer=ticket.get("customer_name"),
                    address=ticket.get("address") or v.get("city"),
                    title=f"{v['ticket_number']} {ticket.get('customer_name') or v.get('city') or ''}",
                )
            )
        rows.append(
            {
                "id": tech_id,
                "name": tech.get("name") or tech_id or "未指派",
                "outlet_id": tech.get("outlet_id"),
                "shift": (tech.get("shift_start"), tech.get("shift_end")),
                "home": (tech["home_lat"], tech["home_lon"]) if tech.get("home_lat") is not None else None,
                "stops": stops,
                "km": round(sum(s.get("planned_km") or 0 for s in stops), 1),
                "drive_minutes": sum(s["drive_minutes"] for s in stops),
                "service_minutes": sum(s["service_minutes"] for s in stops),
            }
        )
    rows.sort(key=lambda r: (r["outlet_id"] or "", r["name"]))
    for i, row in enumerate(rows):
        row["colour"] = i % 8
    return rows


def timeline_span(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The hours every technician's timeline shares (whole hours around the day's first drive and
    last departure, 08:00–18:00 at least) and where each stop's drive and service fall on it."""
    moments = [m for r in rows for s in r["stops"] for m in (s["set_off"], s["leave"]) if m]
    if not moments:
        return None
    local = [m.astimezone(LOCAL_TZ) for m in moments]
    first = min(local).replace(minute=0, second=0, microsecond=0)
    start = min(first, first.replace(hour=8))
    last = max(local)
    end_hour = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1 if last.minute or last.second else 0)
    end = max(end_hour, start.replace(hour=18)) if start.date() == end_hour.date() else end_hour
    total = (end - start).total_seconds()

    def x(moment: datetime) -> float:
        return round((moment - start).total_seconds() / total * WIDTH, 1)

    for row in rows:
        for s in row["stops"]:
            if s["arrive"] is None:
                s["bar"] = None
                continue
            s["bar"] = {
                "drive_x": x(s["set_off"]),
                "drive_w": round(max(x(s["arrive"]) - x(s["set_off"]), 0), 1),
                "x": x(s["arrive"]),
                "w": round(max(x(s["leave"]) - x(s["arrive"]), 2), 1),
            }
    hours = []
    tick = start
    while tick <= end:
        hours.append({"x": x(tick), "label": tick.strftime("%H")})
        tick += timedelta(hours=1)
    return {"width": WIDTH, "hours": hours, "start": start, "end": end}


def plan_changes(runs: list[dict[str, Any]]) -> list[tuple[str, float]] | None:
    """What the last re-plan changed against the one before: visits scheduled, unassignable,
    late and kilometres, as (name, difference) where it changed."""
    if len(runs) < 2:
        return None
    new, old = runs[0], runs[1]
    out = []
    for key, name in (("scheduled", "已排入"), ("dropped", "无法派工"), ("late", "预计迟到"), ("planned_km", "总里程")):
        diff = (new.get(key) or 0) - (old.get(key) or 0)
        if abs(diff) > 1e-9:
            out.append((name, round(diff, 1)))
    return out
