"""Dispatch: technicians, outlets' eligibility, OR-Tools routing of visits, and the on-site
lifecycle (check-in, check-out).

The entrypoints: facts from intake and certification, technicians, the planner's tick and a
dispatcher's re-plan, the board, routes, pins and on-site work. Each parses its input, calls a
use case (`operations`, `planner`) or a query (`queries`) inside a unit of work and dumps the
answer; the rules are the domain's (`domain` and the modules beside it).

New tickets become visits; a planner timer re-optimises each tenant whose plan was requested
(batched) and every few minutes anyway, one replica per tenant at a time (`planner`). A new
ticket of a tenant planned region by region is also placed in its region's plan at once
(`ticket_insert`).
"""

from __future__ import annotations

import csv
import io
import logging

from prometheus_client import Counter, Gauge
from sqlalchemy.exc import IntegrityError

from services.dispatch import operations, queries
from services.dispatch.domain import LOCAL_TZ
from services.dispatch.models import Base
from services.dispatch.planner import PLANS, PlannerSettings, PlannerState, PlanningContext
from services.dispatch.return_visits import RETURN_VISIT_REASON
from services.dispatch.schemas import (
    BoardQuery,
    CheckIn,
    CheckOut,
    Pin,
    PlanRunOut,
    ReturnVisitRequest,
    RouteQuery,
    TechnicianIn,
    TechnicianOut,
    technician_row_to_payload,
)
from shared import metrics, tenancy, web
from shared.db import AwareView, Database, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Forbidden, ValidationFailed
from shared.geo import TravelModel
from shared.leases import timer_once
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

_tech_out = TechnicianOut()
_plan_runs_out = PlanRunOut(many=True)

RETURN_VISITS = Counter(
    "fsm_dispatch_return_visits_total",
    "Return visits created after a negative callback",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)

AT_RISK = Gauge(
    "fsm_dispatch_visits_at_risk",
    "Open visits at risk of missing their on-site due time (unplanned and due soon, or planned after it)",
    ["service", "tenant"],
    registry=metrics.REGISTRY,
)

ROUTE_CSV_COLUMNS = [
    "order",
    "ticket_number",
    "kind",
    "product_line",
    "city",
    "planned_arrival",
    "service_minutes",
    "leg_km",
    "onsite_due",
    "status",
    "lat",
    "lon",
]


def _outlet_status(payload):
    """``outlet.<status>``: what an outlet status event means to dispatch (and the name its
    message ids are recorded under)."""
    return f"outlet.{payload['status']}"


class DispatchService(web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "dispatch"

    db = Database(Base.metadata, migrations_package="services.dispatch.migrations")
    policies = PolicyProvider()
    planner = PlannerState()

    # ------------------------------------------------------------ configuration
    @property
    def _config(self):
        return self.db.worker_ctx.container.config

    @property
    def travel(self):
        return TravelModel.from_config(self._config.get("TRAVEL_MODEL", None) or {})

    def _planning(self) -> PlanningContext:
        return PlanningContext(
            self.db, self.policies, self.travel, PlannerSettings.from_config(self._config), self.name
        )

    # ------------------------------------------------------------ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant
    # (shared.messaging.consume: claim, commit, retries). A change that needs a re-plan records
    # the tenant's request in the same transaction (`operations.request_replan`), so the planner
    # never plans before the change it is woken for is stored, and no replica can lose it.
    @consume("intake", "ticket.registered")
    def on_ticket_registered(self, uow, payload):
        """The ticket's visit, planned by the next batched re-plan; a big tenant's (planned region
        by region) is placed in its region's plan at once as well (`Planner.insert_new`)."""
        if operations.open_visit(uow, payload, self._config.get("SERVICE_MINUTES", None)):
            uow.commit()
            self.planner.insert_new(self._planning(), payload["tenant_id"], payload["ticket_id"])

    @consume("intake", "ticket.outlet_assigned")
    def on_outlet_assigned(self, uow, payload):
        """The center's assign_outlet: only that outlet's technicians take the ticket's visits."""
        if not operations.assign_outlet(uow, payload):
            log.info(
                "ticket %s assigned to %s before its visit: kept for it", payload["ticket_id"], payload["outlet_id"]
            )
        uow.commit()

    @consume("intake", "ticket.closed")
    def on_ticket_closed(self, uow, payload):
        operations.cancel_ticket_visits(uow, payload["ticket_id"])
        uow.commit()

    @consume("intake", "ticket.escalated")
    def on_ticket_escalated(self, uow, payload):
        """A negative callback reopened the ticket: a return visit (返修), once per escalation.

        Only when the ticket's latest visit is completed and none is open; the return visit copies
        the original (kind, place, product line), one priority step more urgent, due by the tenant's
        on-site SLA counted from now. The planner plans it; `visit.scheduled` follows as usual."""
        if payload["reason"] != RETURN_VISIT_REASON:
            return
        visit = operations.add_return_visit(uow, payload, self._onsite_due(payload["tenant_id"]))
        if visit is None:  # none yet, or one still open: the message id is remembered, it will never apply
            return
        uow.commit()
        RETURN_VISITS.labels(self.name, visit.tenant_id).inc()
        log.info("ticket %s: return visit %s after visit %s", payload["ticket_id"], visit.id, visit.return_of)

    def _onsite_due(self, tenant_id):
        """tier, moment -> the tenant's on-site SLA due time for a visit of that tier received then."""
        policies = self.policies
        return lambda tier, at: policies.sla_policy(tenant_id).onsite_rule(tier or "local").apply(policies.clock, at)

    def _on_outlet(self, uow, payload, event):
        released = operations.change_outlet(uow, payload, event)
        uow.commit()
        log.info("outlet %s: %s (%s); %d visits released", payload["outlet_id"], event, payload["status"], released)

    # an outlet's status events are claimed by the status they carry (``outlet.effective`` for a
    # reinstatement to effective), outlet.line_eligibility by its own name, as they always were
    @consume("certification", "outlet.effective", consumer=_outlet_status)
    def on_outlet_effective(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.approved", consumer=_outlet_status)
    def on_outlet_approved(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.suspended", consumer=_outlet_status)
    def on_outlet_suspended(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.revoking", consumer=_outlet_status)
    def on_outlet_revoking(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.revoked", consumer=_outlet_status)
    def on_outlet_revoked(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.probation", consumer=_outlet_status)
    def on_outlet_probation(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.reinstated", consumer=_outlet_status)
    def on_outlet_reinstated(self, uow, payload):
        self._on_outlet(uow, payload, _outlet_status(payload))

    @consume("certification", "outlet.line_eligibility")
    def on_outlet_line_eligibility(self, uow, payload):
        self._on_outlet(uow, payload, "outlet.line_eligibility")

    def _on_certificate(self, uow, payload, valid, reason=None):
        released = operations.change_certificate(uow, payload, valid, reason)
        if released is None:  # unknown technician
            return
        uow.commit()
        if released:
            log.info(
                "technician %s lost %s; %d visits released", payload["technician_id"], payload["product_line"], released
            )

    # the three certificate events share one consumer name (as they always have)
    @consume("certification", "technician.certified", consumer="technician.certificate")
    def on_technician_certified(self, uow, payload):
        self._on_certificate(uow, payload, True)

    @consume("certification", "technician.expired", consumer="technician.certificate")
    def on_technician_expired(self, uow, payload):
        self._on_certificate(uow, payload, False, "certificate_expired")

    @consume("certification", "technician.revoked", consumer="technician.certificate")
    def on_technician_revoked(self, uow, payload):
        self._on_certificate(uow, payload, False, "certificate_revoked")

    # ------------------------------------------------------------ technicians
    @rpc
    def upsert_technician(self, payload):
        return self._upsert_technician(load(TechnicianIn(), payload), self.db.principal)

    def _upsert_technician(self, data, principal):
        directory = self.policies.directory
        tenant = operations.technician_tenant(directory, principal, data)
        with self.db.uow(principal) as uow:
            tech = operations.upsert_technician(uow, directory, tenant, data)
            try:
                uow.commit()
            except IntegrityError:  # the id is another tenant's technician (invisible to the caller)
                raise ValidationFailed("technician id already used", {"id": ["already used"]}) from None
            return _tech_out.dump(tech)

    @rpc
    def import_technicians(self, rows):
        if not isinstance(rows, list):
            raise ValidationFailed("rows must be a list", {"rows": ["must be a list"]})
        principal = self.db.principal
        results = []
        for index, row in enumerate(rows):
            try:
                csv_row = "skills" in row and isinstance(row.get("skills"), str)
                data = load(TechnicianIn(), technician_row_to_payload(row) if csv_row else row)
                self._upsert_technician(data, principal)
                results.append({"row": index, "ok": True, "id": data["id"]})
            except (ValidationFailed, Forbidden) as exc:
                results.append({"row": index, "ok": False, "error": exc.message, "fields": exc.fields})
        return results

    @rpc
    def list_technicians(self, outlet_id=None):
        with self.db.uow() as uow:
            return [_tech_out.dump(t) for t in queries.technicians(uow.session, outlet_id)]

    # ------------------------------------------------------------ planning
    # every replica ticks (lease=False): each tenant's re-plan takes the tenant's own lease, so
    # replicas share the tenants and none is planned by two at once
    @timer_once("DISPATCH_TICK_SECONDS", 1.0, lease=False)
    def planner_tick(self):
        self.planner.tick(self._planning())

    def refresh_gauges(self):
        """Read when /metrics is scraped (shared.metrics.refresh): visits at risk per tenant; every
        tenant's failed re-plans counted from 0, so the first failure shows as an increase."""
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = queries.at_risk_by_tenant(uow.session, utcnow())
        tenants = set(self.policies.directory.centers)
        for tenant in tenants | set(counts):
            AT_RISK.labels(self.name, tenant).set(counts.get(tenant, 0))
        for tenant in tenants:
            PLANS.labels(self.name, tenant, "failed")

    @rpc
    def reoptimise(self, tenant_id=None, reason=None):
        """Re-plan now; with a `reason`, visits whose appointment was confirmed may move too."""
        principal = self.db.principal
        if reason is not None and (not isinstance(reason, str) or not reason.strip() or len(reason) > 500):
            raise ValidationFailed("invalid reason", {"reason": ["1 to 500 characters"]})
        tenant = tenant_id or principal.tenant
        if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE) or not principal.sees_tenant(tenant):
            raise Forbidden("only the tenant's center or HQ re-optimises a plan")
        if tenant not in self.policies.directory.centers:
            raise ValidationFailed("unknown tenant", {"tenant_id": [f"no center {tenant!r}"]})
        return self.planner.plan_now(self._planning(), tenant, reason.strip() if reason else None)

    # ------------------------------------------------------------ board, jobs, routes
    @rpc
    def board(self, query=None):
        """Open visits, plans and late risks (centers: their tenant; HQ: all; outlets: their own)."""
        q = load(BoardQuery(), query or {})
        now = utcnow()
        with self.db.uow() as uow:
            page = queries.board(uow.session, q, now, q["limit"], q["offset"])
            return {
                "items": [operations.dump_visit(v, now) for v in page.visits],
                "total": page.total,
                "limit": q["limit"],
                "offset": q["offset"],
                "by_status": page.by_status,
                "late_risk": page.late_risk,
            }

    @rpc
    def get_visit(self, visit_id):
        """One visit, with the signature, and why the caller may not ask for a return visit to it
        (`return_visit_refusal`: None when it may)."""
        principal = self.db.principal
        with self.db.uow() as uow:
            visit = operations.load_visit(uow, visit_id)
            out = operations.dump_visit(visit, utcnow(), operations.visit_signature(uow, visit))
        refusal = "not_outlet"
        if principal.role == tenancy.OUTLET:  # the ticket's other visits, whoever holds them
            with self.db.uow(principal.acting_for(out["tenant_id"])) as uow:
                found = operations.return_visit_refusal(uow, operations.load_visit(uow, visit_id), principal)
                refusal = found.code if found else None
        out["return_visit_refusal"] = refusal
        return out

    @rpc
    def route(self, technician_id, query):
        """A technician's day as an ordered route."""
        q = load(RouteQuery(), query or {})
        with self.db.uow() as uow:
            return operations.technician_route(uow.session, technician_id, q["date"])

    @rpc
    def route_csv(self, technician_id, query):
        data = self.route(technician_id, query)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=ROUTE_CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(data["stops"])
        return buf.getvalue()

    @rpc
    def plan_runs(self, limit=20):
        with self.db.uow() as uow:
            return _plan_runs_out.dump([AwareView(r) for r in queries.latest_plan_runs(uow.session, limit)])

    # ------------------------------------------------------------ manual override
    @rpc
    def pin(self, visit_id, payload):
        data = load(Pin(), payload)
        principal = operations.require_dispatcher(self.db.principal)
        with self.db.uow() as uow:
            visit = operations.load_visit(uow, visit_id)
            tech = operations.pin(uow, visit, data["technician_id"], utcnow().astimezone(LOCAL_TZ).date())
            uow.commit()
            log.info("visit %s pinned to %s by %s", visit.id, tech.id, principal.user)
            return operations.dump_visit(visit, utcnow())

    @rpc
    def confirm_appointment(self, visit_id):
        """The planned arrival was confirmed to the customer: re-plans keep it (see operations)."""
        principal = operations.require_dispatcher(self.db.principal)
        with self.db.uow() as uow:
            visit = operations.confirm_appointment(uow, operations.load_visit(uow, visit_id))
            uow.commit()
            log.info("visit %s: appointment confirmed by %s", visit.id, principal.user)
            return operations.dump_visit(visit, utcnow())

    @rpc
    def unpin(self, visit_id):
        operations.require_dispatcher(self.db.principal)
        with self.db.uow() as uow:
            visit = operations.load_visit(uow, visit_id)
            operations.unpin(uow, visit)
            uow.commit()
            return operations.dump_visit(visit, utcnow())

    # ------------------------------------------------------------ return visits
    @rpc
    def request_return_visit(self, visit_id, payload):
        """The outlet asks to go back to a visit it checked out (申请返修/二次上门): the new visit,
        unplanned; the planner plans it and `visit.scheduled` follows as for any visit."""
        data = load(ReturnVisitRequest(), payload)
        principal = self.db.principal
        now = utcnow()
        with self.db.uow() as uow:  # the caller's own scope: another outlet's visit is not found
            tenant = operations.load_visit(uow, visit_id).tenant_id
        with self.db.uow(principal.acting_for(tenant)) as uow:  # the ticket's visits, whoever holds them
            visit = operations.request_return_visit(
                uow, visit_id, principal, data, now, self._onsite_due(tenant), self.policies.clock.calendar.is_workday
            )
            uow.commit()
            log.info("visit %s: return visit %s asked for by %s", visit.return_of, visit.id, principal.user)
            return operations.dump_visit(visit, now)

    # ------------------------------------------------------------ on site
    @rpc
    def check_in(self, visit_id, payload):
        data = load(CheckIn(), payload)
        principal = self.db.principal
        now = utcnow()
        with self.db.uow() as uow:
            visit = operations.load_visit(uow, visit_id)
            operations.on_site_actor(principal, visit, data.get("technician_id"))
            operations.check_in(uow, visit, data, now)
            uow.commit()
            return operations.dump_visit(visit, now)

    @rpc
    def check_out(self, visit_id, payload):
        data = load(CheckOut(), payload)
        principal = self.db.principal
        now = utcnow()
        with self.db.uow() as uow:
            visit = operations.load_visit(uow, visit_id)
            operations.on_site_actor(principal, visit, None)
            operations.check_out(uow, visit, data, now)
            uow.commit()
            return operations.dump_visit(visit, now, operations.visit_signature(uow, visit))
