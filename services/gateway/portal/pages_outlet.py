"""The outlet's pages (a mixin of GatewayService; role ``outlet``, its own outlet only).

The jobs page asks dispatch for the outlet's open visits with the RPC behind ``GET
/api/v1/outlet/jobs`` (``dispatch.board``: dispatch's session scopes it to the caller's outlet),
the technicians with the one behind ``GET /api/v1/technicians`` and the tickets (customer,
address, fault, warranty) with the ones behind ``GET /api/v1/tickets``; intake scopes those to the
tickets assigned to the outlet. Another outlet's visit is simply not found (404). After the
check-out the job page offers the return-visit form (申请返修/二次上门), posted as ``POST
/api/v1/visits/<id>/return-visit`` is (``dispatch.request_return_visit``) when dispatch's answer
about the visit says the outlet may ask (``return_visit_refusal`` empty).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from services.gateway.portal import labels
from services.gateway.portal.pages_outlet_money import OutletMoneyPages
from services.gateway.portal.pages_outlet_parts import OutletPartsPages
from services.gateway.portal.pages_outlet_standing import OutletStandingPages
from services.gateway.portal.pages_outlet_visit import OutletVisitPages
from services.gateway.portal.routemap import route_map
from services.gateway.portal.web import aware_time, page
from shared.clock import LOCAL_TZ
from shared.errors import DomainError, NotFound
from shared.rpc import RpcProxy

OPEN = ("started", "scheduled")  # the visits an outlet still has to do, in progress first
PAGE = 1000
SOON = timedelta(hours=2)  # an on-site deadline this close is shown as urgent
RETURN_FIELDS = ("reason", "wished_date")  # the job page's form 申请返修/二次上门 (dispatch's ReturnVisitRequest)


class OutletPages(OutletVisitPages, OutletPartsPages, OutletMoneyPages, OutletStandingPages):
    """The outlet's portal; `GatewayService` inherits it (and through it the on-site, parts, money
    and standing pages of the modules beside this one)."""

    dispatch = RpcProxy("dispatch")
    intake = RpcProxy("intake")

    @page("GET", "/outlet/jobs", roles=("outlet",))
    def outlet_jobs_page(self, request, page):
        visits = [v for status in OPEN for v in self.dispatch.board({"status": status, "limit": PAGE})["items"]]
        technicians = {t["id"]: t for t in self.dispatch.list_technicians(None)}
        tickets = self._tickets_of(visits)
        days = plan_days(visits, technicians, tickets, page.now, page.portal.directory)
        late = sum(1 for day in days for tech in day["technicians"] for job in tech["jobs"] if job["overdue"])
        return page.render(
            "outlet/jobs.html",
            days=days,
            total=len(visits),
            late=late,
            outlet_name=labels.site_name(page.portal.directory, page.user.outlet_id),
        )

    @page("GET", "/outlet/jobs/<string:visit_id>", roles=("outlet",))
    def outlet_job_page(self, request, page, visit_id):
        return self._job_page(request, page, visit_id, page.form(*RETURN_FIELDS))

    @page(("GET", "POST"), "/outlet/jobs/<string:visit_id>/return-visit", roles=("outlet",))
    def outlet_return_visit_page(self, request, page, visit_id):
        """The job page's form 申请返修/二次上门: the RPC behind ``POST /api/v1/visits/<id>/return-visit``
        (``dispatch.request_return_visit``), whose refusal is shown next to its field (the visit's
        own refusals above the form), nothing done."""
        form = page.form(*RETURN_FIELDS)
        if request.method != "POST":
            return page.redirect(f"/outlet/jobs/{visit_id}")
        try:
            self.dispatch.request_return_visit(visit_id, form.payload())
            return page.redirect(f"/outlet/jobs/{visit_id}?done=return_visit#return-visits")
        except DomainError as exc:
            form.take(exc, aliases={"visit_id": "_form"})
            return self._job_page(request, page, visit_id, form, exc.http_status)

    def _job_page(self, request, page, visit_id, form, status=200):
        visit = self.dispatch.get_visit(visit_id)  # another outlet's: NotFound, a 404 page
        try:
            ticket = self.intake.get_ticket(visit["ticket_id"])
        except NotFound:  # dispatch gave it to the outlet before intake heard of it
            ticket = None
        technicians = {t["id"]: t for t in self.dispatch.list_technicians(None)}
        job = job_view(visit, ticket, page.now)
        technician = technicians.get(visit.get("technician_id") or "")
        record = self._visit_record(request, visit)  # pages_outlet_visit: check-in/out, signature, return visits
        return page.render(
            "outlet/job.html",
            status=status,
            job=job,
            ticket=ticket,
            technician=technician,
            record=record,
            form=form,
            today=page.now.astimezone(LOCAL_TZ).date(),
        )

    def _tickets_of(self, visits: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The tickets of `visits` by id: the outlet's open ones in two pages, then any missing
        one by itself (a return visit's ticket may be in another status)."""
        found: dict[str, dict[str, Any]] = {}
        wanted = {v["ticket_id"] for v in visits}
        for status in ("scheduled", "on_site"):
            if wanted - set(found):
                for t in self.intake.list_tickets({"status": status, "limit": PAGE})["items"]:
                    found[t["id"]] = t
        for ticket_id in sorted(wanted - set(found))[:50]:
            try:
                found[ticket_id] = self.intake.get_ticket(ticket_id)
            except NotFound:
                pass
        return found


def job_view(visit: dict[str, Any], ticket: dict[str, Any] | None, now: Any) -> dict[str, Any]:
    """One visit as the pages show it: its ticket's customer, address, fault and warranty beside
    dispatch's plan, and where it stands against its on-site deadline."""
    due = aware_time(visit.get("onsite_due"))
    done = visit["status"] == "completed"
    ticket = ticket or {}
    return {
        "visit": visit,
        "id": visit["id"],
        "number": visit.get("ticket_number") or ticket.get("number"),
        "kind": visit.get("kind"),
        "status": visit["status"],
        "arrival": visit.get("planned_arrival"),
        "window_from": visit.get("window_start") or visit.get("received_at"),
        "due": visit.get("onsite_due"),
        "overdue": bool(due and not done and not visit.get("started_at") and due < now),
        "soon": bool(due and not done and now <= due < now + SOON),
        "customer": ticket.get("customer_name"),
        "phone": ticket.get("phone"),
        "address": ticket.get("address") or visit.get("city"),
        "product_line": visit.get("product_line") or ticket.get("product_line"),
        "model": ticket.get("model"),
        "fault": ticket.get("fault"),
        "warranty": ticket.get("warranty"),
        "remedy": ticket.get("warranty_remedy"),
        "lat": visit.get("lat"),
        "lon": visit.get("lon"),
        "service_minutes": visit.get("service_minutes"),
        "late_risk": visit.get("late_risk"),
    }


def plan_days(
    visits: list[dict[str, Any]],
    technicians: dict[str, dict[str, Any]],
    tickets: dict[str, dict[str, Any]],
    now: Any,
    directory: Any,
) -> list[dict[str, Any]]:
    """The visits by local day (one planned before today counts as today's: it is still to do),
    each day by technician in route order, with the day's route map."""
    today = now.astimezone(LOCAL_TZ).date()
    by_day: dict[date, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for visit in visits:
        arrival = aware_time(visit.get("planned_arrival"))
        day = max(arrival.astimezone(LOCAL_TZ).date(), today) if arrival else today
        by_day[day][visit.get("technician_id") or ""].append(visit)
    days = []
    for day in sorted(by_day):
        techs = []
        for tech_id in sorted(by_day[day], key=lambda t: (technicians.get(t, {}).get("name") or "", t)):
            ordered = sorted(
                by_day[day][tech_id],
                key=lambda v: (v["status"] != "started", v.get("planned_arrival") or "", v.get("route_order") or 0),
            )
            tech = technicians.get(tech_id) or {}
            techs.append(
                {
                    "id": tech_id,
                    "name": tech.get("name") or tech_id or "未指派",
                    "home": (tech["home_lat"], tech["home_lon"]) if tech.get("home_lat") is not None else None,
                    "jobs": [job_view(v, tickets.get(v["ticket_id"]), now) for v in ordered],
                    "km": round(sum(v.get("planned_km") or 0 for v in ordered), 1),
                }
            )
        routes = [
            {
                "name": t["name"],
                "home": t["home"],
                "stops": [
                    {
                        "lat": j["lat"],
                        "lon": j["lon"],
                        "title": f"{j['number']} {j['customer'] or ''}",
                        "late": j["overdue"],
                    }
                    for j in t["jobs"]
                ],
            }
            for t in techs
        ]
        offset = (day - today).days
        days.append(
            {
                "date": day,
                "name": {0: "今天", 1: "明天", 2: "后天"}.get(offset, f"{offset} 天后"),
                "label": f"{day.month}月{day.day}日 周{'一二三四五六日'[day.weekday()]}",
                "technicians": techs,
                "count": sum(len(t["jobs"]) for t in techs),
                "map": route_map(routes),
            }
        )
    return days
