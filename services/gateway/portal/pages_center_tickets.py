"""The regional center's ticket pages (a mixin of GatewayService; role ``center``, its own tenant).

- ``/center/register``: the hotline agent's form. It registers with the RPC behind ``POST
  /api/v1/tickets`` (``intake.register_ticket``); while the agent types, an htmx call to
  ``/center/register/preview`` asks ``intake.preview_ticket`` (``GET /api/v1/tickets/preview``:
  the geocoder and rules registration uses) where the address is, its tier, whether its district
  name is ambiguous, the warranty and the deadlines. On success the ticket's page opens with its
  number and deadlines.
- ``/center/tickets``: the queue (``intake.list_tickets``, ``GET /api/v1/tickets``), filtered and
  paged, each deadline with where it stands as intake says (``state``). The list refreshes itself:
  htmx fetches ``/center/tickets/live`` (the list alone, same filters and page) every
  ``PORTAL_REFRESH_SECONDS`` and swaps it in; the filter form is left as the agent is typing it.
- ``/center/tickets/<id>``: one ticket (``intake.get_ticket``) with its deadlines and audit trail,
  its visits (``dispatch.board`` by ticket, ``GET /api/v1/dispatch/board?ticket_id=``) and a button
  for each workflow step intake allows from its state (``intake.allowed_steps``, ``GET
  /api/v1/tickets/<id>/transitions``); a button posts the step (``intake.transition``, ``POST
  /api/v1/tickets/<id>/transitions``). Its deadlines refresh themselves: htmx fetches
  ``/center/tickets/<id>/deadlines`` (the deadlines alone) every ``PORTAL_REFRESH_SECONDS``.

Intake scopes every ticket to the caller's tenant: another center's ticket is not found (404).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Response

from services.gateway.portal import labels
from services.gateway.portal.forms import GENERAL, Form
from services.gateway.portal.web import page, page_number
from shared.errors import DomainError
from shared.rpc import RpcProxy

CENTER = ("center",)
REGISTER_FIELDS = (
    "kind",
    "channel",
    "customer_name",
    "phone",
    "address",
    "product_line",
    "model",
    "serial_no",
    "purchase_date",
    "fault",
    "wished_visit_at",
    "safety",
    "complaint_category",
)
PREVIEW_FIELDS = ("address", "product_line", "purchase_date", "kind", "wished_visit_at", "complaint_category")
FILTERS = ("kind", "status", "tier", "outlet_id", "due_before", "order", "q")
PAGE_SIZE = 20
STEP_FIELDS = (
    "action",
    "note",
    "outlet_id",
    "responsibility",
    "cause",
    "expected_version",
    "service_mode",
    "owner_user",  # hand_over (intake's complaints.STEPS)
    "countermeasure",  # record_countermeasure, with follow_up_on
    "follow_up_on",
    "major_issue",  # escalate_major
)
# the steps at which staff say how a ticket was served (intake's ledger_cells.MODE_STEPS)
MODE_STEPS = ("resolve", "close", "close_case")
# the complaint case's steps (intake's domain.CASE_STEPS): their audit entries name case states
CASE_ACTIONS = (
    "register",
    "internal_check",
    "plan_dispatch",
    "verify_on_site",
    "negotiate",
    "order_rectification",
    "pay_compensation",
    "notify_result",
    "report",
    "sign_agreement",
    "close_case",
    "withdraw",
)
RESPONSIBILITY = tuple(labels.RESPONSIBILITIES.items())
LATE_STATES = ("at_risk", "breached")


def _flag(value: str | None) -> bool:
    return value in ("on", "1", "true", "yes")


class CenterTicketPages:
    """The center's tickets: register, queue, one ticket and its steps; `GatewayService` inherits it."""

    intake = RpcProxy("intake")
    dispatch = RpcProxy("dispatch")

    # ------------------------------------------------------------ registering (the hotline agent)
    @page(("GET", "POST"), "/center/register", roles=CENTER)
    def center_register_page(self, request, page):
        form = page.form(*REGISTER_FIELDS)
        if request.method == "GET":
            form.values.update(kind="repair", channel="hotline")
            return self._center_register_form(page, form)
        try:
            ticket = self.intake.register_ticket(form.payload(safety=_flag))
        except DomainError as exc:
            form.take(exc, aliases={"tenant_id": "address"})
            return self._center_register_form(page, form, status=exc.http_status)
        return page.redirect(f"/center/tickets/{ticket['id']}?registered=1")

    @page("GET", "/center/register/preview", roles=CENTER)
    def center_register_preview_page(self, request, page):
        """The htmx partial under the address: what registering would decide, as typed so far."""
        form = Form(PREVIEW_FIELDS, {n: request.args.get(n, "") for n in PREVIEW_FIELDS})
        return page.render("center/_preview.html", preview=self._center_preview(form))

    def _center_register_form(self, page, form: Form, status: int = 200):
        directory = page.portal.directory
        return page.render(
            "center/register.html",
            status=status,
            form=form,
            preview=self._center_preview(form),
            kinds=list(labels.TICKET_KINDS.items()),
            channels=list(labels.CHANNELS.items()),
            complaint_categories=list(labels.COMPLAINT_CATEGORIES.items()),
            product_lines=[(name, name) for name in directory.product_lines],
        )

    def _center_preview(self, form: Form) -> dict[str, Any] | None:
        """intake's preview of the fields typed so far; a value it refuses is shown as its error."""
        query = {n: form.text(n) for n in PREVIEW_FIELDS if form.text(n)}
        if not query.get("address") and not query.get("purchase_date"):
            return None
        try:
            return self.intake.preview_ticket(query)
        except DomainError as exc:
            return {
                "placement": None,
                "warranty": None,
                "deadlines": {},
                "errors": Form(PREVIEW_FIELDS).take(exc).errors,
            }

    # ------------------------------------------------------------ the queue
    @page("GET", "/center/tickets", roles=CENTER)
    def center_tickets_page(self, request, page):
        return self._center_queue(request, page, "center/tickets.html")

    @page("GET", "/center/tickets/live", roles=CENTER)
    def center_tickets_live_page(self, request, page):
        """The queue's list alone, with the same filters: what the page's htmx poll swaps in every
        `PORTAL_REFRESH_SECONDS`, so the deadlines' states move on without a reload."""
        return self._center_queue(request, page, "center/_queue.html")

    def _center_queue(self, request, page, template: str):
        form = Form(FILTERS, {n: request.args.get(n, "") for n in FILTERS})
        if not form.value("order"):
            form.values["order"] = "due"
        number = page_number(request.args.get("page"))
        query = dict(form.payload(), limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
        status = 200
        try:
            found = self.intake.list_tickets(query)
        except DomainError as exc:
            form.take(exc)
            found, status = {"items": [], "total": 0}, exc.http_status
        total = found["total"]
        pages = max(1, -(-total // PAGE_SIZE))
        kept = {n: form.text(n) for n in FILTERS if form.text(n)}
        return page.render(
            template,
            status=status,
            form=form,
            tickets=[queue_row(t) for t in found["items"]],
            total=total,
            number=number,
            pages=pages,
            link=lambda n: "/center/tickets?" + urlencode(dict(kept, page=n)),
            live="/center/tickets/live?" + urlencode(dict(kept, page=number)),
            outlets=self._center_outlet_choices(),
            kinds=list(labels.TICKET_KINDS.items()),
            statuses=list(labels.TICKET_STATUS.items()),
            tiers=list(labels.TIERS.items()),
        )

    def _center_outlet_choices(self) -> list[tuple[str, str]]:
        """The outlets with technicians dispatch lets the caller see (its tenant's), by name."""
        directory = self.portal.directory
        ids = sorted({t["outlet_id"] for t in self.dispatch.list_technicians(None) if t.get("outlet_id")})
        return [(i, labels.site_name(directory, i)) for i in ids]

    # ------------------------------------------------------------ one ticket
    @page("GET", "/center/tickets/<string:ticket_id>", roles=CENTER)
    def center_ticket_page(self, request, page, ticket_id):
        return self._center_ticket(page, ticket_id, Form(STEP_FIELDS))

    @page("GET", "/center/tickets/<string:ticket_id>/deadlines", roles=CENTER)
    def center_ticket_deadlines_page(self, request, page, ticket_id):
        """The ticket's deadlines alone: what its page's htmx poll swaps in every
        `PORTAL_REFRESH_SECONDS`, so their states move on without a reload."""
        ticket = self.intake.get_ticket(ticket_id)  # another tenant's: NotFound, a 404
        return page.render("center/_deadlines.html", ticket=ticket, deadlines=ticket_deadlines(ticket))

    @page("GET", "/center/tickets/<string:ticket_id>/complaint-report", roles=CENTER)
    def center_complaint_report_page(self, request, page, ticket_id):
        """The complaint handling report (投诉处理报告) archived at the case's report step, as its PDF
        (``intake.complaint_report_file``, ``GET /api/v1/tickets/<id>/complaint-report``)."""
        doc = self.intake.complaint_report_file(ticket_id)  # none yet or another tenant's: a 404 page
        return Response(
            base64.b64decode(doc["data"]),
            status=200,
            mimetype=doc["content_type"],
            headers={"Content-Disposition": f'attachment; filename="{doc["filename"]}"'},
        )

    @page("POST", "/center/tickets/<string:ticket_id>/steps", roles=CENTER)
    def center_ticket_step_page(self, request, page, ticket_id):
        form = page.form(*STEP_FIELDS)
        payload = form.payload(expected_version=int)
        try:
            self.intake.transition(ticket_id, payload)
        except DomainError as exc:
            if exc.http_status == 404:
                raise
            if "expected_version" in (exc.fields or {}):  # the page was out of date: say so, show it anew
                form.add_error(GENERAL, exc.message)
            else:
                form.take(exc, aliases={"tenant_id": GENERAL, "address": GENERAL})
            return self._center_ticket(page, ticket_id, form, status=exc.http_status)
        return page.redirect(f"/center/tickets/{ticket_id}?done={form.value('action')}")

    def _center_ticket(self, page, ticket_id: str, form: Form, status: int = 200):
        ticket = self.intake.get_ticket(ticket_id)  # another tenant's: NotFound, a 404 page
        allowed = self.intake.allowed_steps(ticket_id)
        visits = self.dispatch.board({"ticket_id": ticket_id, "limit": 50})["items"]
        technicians = {t["id"]: t for t in self.dispatch.list_technicians(None)}
        steps = allowed["steps"]
        done = page.request.args.get("done")
        return page.render(
            "center/ticket.html",
            status=status,
            ticket=ticket,
            deadlines=ticket_deadlines(ticket),
            audit=[audit_view(a) for a in reversed(ticket.get("audit") or [])],
            visits=visits,
            technicians=technicians,
            case_steps=[s for s in steps if s["kind"] == "case"],
            ticket_steps=[s for s in steps if s["kind"] == "ticket" and not s["needs"] and not s["by_facts"]],
            fact_steps=[s for s in steps if s["by_facts"]],
            needs_outlet=any("outlet_id" in s["needs"] for s in steps),
            modes=list(labels.SERVICE_MODES.items()) if any(s["action"] in MODE_STEPS for s in steps) else [],
            outlets=self._center_outlet_choices(),
            version=allowed["version"],
            form=form,
            responsibilities=RESPONSIBILITY,
            offered={s["action"] for s in steps},
            major_issues=list(labels.MAJOR_ISSUES.items()),
            reported=any(a["action"] == "report" for a in ticket.get("audit") or []),
            registered=page.request.args.get("registered") == "1",
            done=labels.label(done, "step") if done in labels.STEPS else None,
        )


def audit_view(entry: dict[str, Any]) -> dict[str, Any]:
    """An audit entry with its action and the state it led to by name: a case step's entry names
    case states, the others ticket statuses (the registration's is "register" with no state before)."""
    case_step = entry["action"] in CASE_ACTIONS and entry.get("from_state") is not None
    if case_step:
        name, to = labels.label(entry["action"], "step"), labels.label(entry.get("to_state"), "case_state")
    elif entry["action"] in labels.RETURN_AUDIT:  # a return or exchange case's step: its own states
        name, to = labels.label(entry["action"], "ticket_audit"), labels.label(entry.get("to_state"), "return_step")
    else:
        name, to = labels.label(entry["action"], "ticket_audit"), labels.label(entry.get("to_state"), "ticket_status")
    moved = entry.get("to_state") and entry.get("to_state") != entry.get("from_state")
    return dict(entry, name=name, to=to if moved else None)


def ticket_deadlines(ticket: dict[str, Any]) -> list[dict[str, Any]]:
    """A ticket's deadlines as its page lists them: earliest due first."""
    return sorted(ticket["deadlines"], key=lambda d: d["due_at"])


def queue_row(ticket: dict[str, Any]) -> dict[str, Any]:
    """A ticket as the queue shows it: its running deadlines (not met, not void) earliest first,
    and the worst of their states."""
    running = sorted(
        (d for d in ticket["deadlines"] if d.get("state") in ("open", "at_risk", "breached")),
        key=lambda d: d["due_at"],
    )
    worst = next((s for s in ("breached", "at_risk") if any(d["state"] == s for d in running)), None)
    return dict(ticket, running=running, worst=worst)
