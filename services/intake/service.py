"""Intake: receives requests from every channel, registers tickets with their SLA clock,
runs the complaint case workflow, watches deadlines and keeps the service ledger (台帐).

Entrypoints stay thin: load with a schema, call the domain, persist through the unit of work.
"""
from __future__ import annotations

import csv
import hashlib
import io
import logging
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from services.intake import domain
from services.intake.domain import Status
from services.intake.models import AuditEntry, Base, SlaDeadline, Ticket
from services.intake.schemas import AuditOut, BridgeRequest, ListQuery, RegisterTicket, TicketOut, Transition
from shared import metrics, tenancy
from shared.db import AwareView, Database, as_utc, get_or_404, utcnow
from shared.dependencies import Geocoder, PolicyProvider
from shared.errors import Conflict, Forbidden, ValidationFailed
from shared.leases import timer_once
from shared.messaging import consume, consume_validated, retrying
from shared.rpc import rpc
from shared.sla import ticket_deadlines
from shared.validation import load
from shared import web

log = logging.getLogger(__name__)

BRIDGE_EXCHANGE = "fsm.bridge"
BRIDGE_ROUTING_KEY = "intake.request"
BRIDGE_QUEUE = "intake.bridge-requests"

_ticket_out = TicketOut()
_audit_out = AuditOut(many=True)


def customer_key(name: str, phone: str) -> str:
    return "cu_" + hashlib.sha1(f"{name}|{phone}".encode("utf-8")).hexdigest()[:16]


class IntakeService(web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "intake"

    db = Database(Base.metadata, migrations_package="services.intake.migrations")
    geocoder = Geocoder()
    policies = PolicyProvider()

    # ------------------------------------------------------------ registering
    @rpc
    def register_ticket(self, payload):
        cmd = load(RegisterTicket(), payload)
        return self._register(cmd, self.db.principal)

    @consume_validated(BRIDGE_EXCHANGE, BRIDGE_ROUTING_KEY, BRIDGE_QUEUE, BridgeRequest)
    @retrying(BRIDGE_QUEUE)  # a busy or lost database: registered again, not dead-lettered
    def bridge_request(self, cmd):
        """A request from the hotline/fax bridge (plain AMQP, see shared/bridge.py)."""
        try:
            self._register(cmd, tenancy.service_principal("hotline-bridge"))
        except Conflict:  # the same reference delivered twice at once: the other one registered it
            log.info("duplicate bridge request %s", cmd["external_ref"])

    @rpc
    def import_requests(self, rows):
        """Register many requests, each in its own transaction; one result per row, in order."""
        if not isinstance(rows, list):
            raise ValidationFailed("rows must be a list", {"rows": ["must be a list"]})
        principal = self.db.principal
        results = []
        for index, row in enumerate(rows):
            try:
                cmd = load(RegisterTicket(), row)
                ticket = self._register(cmd, principal)
                results.append({"row": index, "ok": True, "ticket_id": ticket["id"],
                                "number": ticket["number"], "tenant_id": ticket["tenant_id"],
                                "duplicate": ticket.get("duplicate", False)})
            except ValidationFailed as exc:
                results.append({"row": index, "ok": False, "error": exc.message, "fields": exc.fields})
            except (Forbidden, Conflict) as exc:
                results.append({"row": index, "ok": False, "error": exc.message, "fields": exc.fields})
        return results

    def _register(self, cmd, principal):
        if principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE, tenancy.CUSTOMER):
            raise Forbidden(f"role {principal.role} cannot register tickets")
        now = utcnow()
        # back-dating (the SLA clock) only from trusted channels; never in the future
        cmd["received_at"] = received = domain.received_at(cmd.get("received_at"), now, principal.role)
        customer_id = customer_key(cmd["customer_name"], cmd["phone"])
        if principal.role == tenancy.CUSTOMER:
            if cmd.get("tenant_id"):  # the address's territory decides, not the customer
                raise ValidationFailed("customers cannot choose the service center",
                                       {"tenant_id": ["not allowed for customers"]})
            customer_id = principal.customer
            cmd["channel"] = "portal"
        policies = self.policies
        geo = self.geocoder.parse(cmd["address"])
        reg = domain.register(cmd, geo, policies.directory, principal, policies.clock,
                              policies.sla_policy, ticket_deadlines)
        place = reg.placement
        writer = principal if principal.role != tenancy.CUSTOMER else principal.acting_for(place.tenant_id)
        with self.db.uow(writer) as uow:
            if cmd.get("external_ref"):
                existing = uow.session.scalars(select(Ticket).where(
                    Ticket.channel == cmd["channel"], Ticket.external_ref == cmd["external_ref"])).first()
                if existing is not None:
                    out = self._dump(existing)
                    out["duplicate"] = True
                    return out
            ticket = Ticket(
                id=uuid.uuid4().hex, number=domain.ticket_number(place.tenant_id, received),
                tenant_id=place.tenant_id, external_ref=cmd.get("external_ref"), kind=cmd["kind"],
                channel=cmd["channel"], status=reg.status, case_state=reg.case_state, priority=reg.priority,
                escalation=reg.escalation, customer_id=customer_id, customer_name=cmd["customer_name"],
                phone=cmd["phone"], address=cmd["address"], postcode=cmd.get("postcode"),
                province=place.province, city=place.city, district=place.district, adcode=place.adcode,
                lat=place.lat, lon=place.lon, geo_precision=place.precision, geo_ambiguous=place.ambiguous,
                triage_reason=place.triage_reason, tier=place.tier, product_line=cmd.get("product_line"),
                model=cmd.get("model"), serial_no=cmd.get("serial_no"), purchase_date=cmd.get("purchase_date"),
                fault=cmd.get("fault"), wished_visit_at=_wish_at(cmd.get("wished_visit_at"), policies),
                warranty=reg.warranty.status, warranty_remedy=reg.warranty.remedy,
                warranty_reason=reg.warranty.reason, owner_user=principal.user,
                received_at=cmd["received_at"], registered_at=now,
            )
            ticket.deadlines = [SlaDeadline(tenant_id=ticket.tenant_id, sla=sla, due_at=due, customer_id=customer_id)
                                for sla, due in reg.deadlines.items()]
            uow.session.add(ticket)
            self._audit(uow, ticket, principal, "register", None, ticket.status,
                        note=place.triage_reason, data={"warranty": reg.warranty.reason})
            if ticket.status != Status.TRIAGE:
                # registering by territory is the forwarding to the responsible center (1-hour rule)
                self._meet(uow, ticket, "forward", now)
            if ticket.status != Status.TRIAGE:
                uow.emit("ticket.registered", self._registered_event(ticket))
            if reg.escalation:
                uow.emit("ticket.escalated", {"tenant_id": ticket.tenant_id, "ticket_id": ticket.id,
                                              "number": ticket.number, "reason": reg.escalation,
                                              "level": "management"})
            try:
                uow.commit()
            except IntegrityError:
                raise Conflict("a ticket with this reference exists already",
                               {"external_ref": ["duplicate for this channel"]}) from None
            return self._dump(ticket)

    # ------------------------------------------------------------ reading
    @rpc
    def get_ticket(self, ticket_id):
        with self.db.uow() as uow:
            ticket = self._load(uow, ticket_id)
            out = self._dump(ticket)
            audit = uow.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id)
                                        .order_by(AuditEntry.id)).all()
            out["audit"] = _audit_out.dump([AwareView(a) for a in audit])  # SQLite gives naive UTC
            return out

    @rpc
    def list_tickets(self, query=None):
        q = load(ListQuery(), query or {})
        with self.db.uow() as uow:
            stmt = self._filtered(q)
            # count over the entity itself: a count over a subquery escapes the tenant scope
            total = uow.session.scalar(stmt.with_only_columns(func.count(Ticket.id)))
            rows = uow.session.scalars(stmt.order_by(Ticket.received_at.desc(), Ticket.id)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._dump(t) for t in rows], "total": total,
                    "limit": q["limit"], "offset": q["offset"]}

    def _filtered(self, q):
        stmt = select(Ticket)
        for key in ("status", "kind", "tier", "tenant_id", "channel"):
            if q.get(key):
                stmt = stmt.where(getattr(Ticket, key) == q[key])
        if q.get("received_from"):
            stmt = stmt.where(Ticket.received_at >= q["received_from"])
        if q.get("received_to"):
            stmt = stmt.where(Ticket.received_at < q["received_to"])
        if q.get("q"):
            like = f"%{q['q']}%"
            stmt = stmt.where(or_(Ticket.number.like(like), Ticket.customer_name.like(like),
                                  Ticket.serial_no.like(like), Ticket.phone.like(like)))
        return stmt

    @rpc
    def ledger(self, query=None):
        """The service ledger (服务信息台帐): one row per ticket, as the seed's columns."""
        q = load(ListQuery(), query or {})
        with self.db.uow() as uow:
            rows = uow.session.scalars(self._filtered(q).order_by(Ticket.received_at, Ticket.id)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return [domain_ledger_row(t) for t in rows]

    @rpc
    def ledger_csv(self, query=None):
        query = dict(query or {})
        query.setdefault("limit", 500)
        limit = load(ListQuery(), query)["limit"]  # HTTP gives strings: compare the loaded int
        rows = []
        offset = 0
        while True:
            query["offset"] = offset
            page = self.ledger(query)
            rows.extend(page)
            if len(page) < limit:
                break
            offset += len(page)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=[c for c, _ in LEDGER_COLUMNS])
        writer.writerow({c: label for c, label in LEDGER_COLUMNS})
        writer.writerows(rows)
        return buf.getvalue()

    @rpc
    def sla_summary(self):
        """Per tenant: tickets by SLA tier (open or not) and the earliest open on-site deadlines."""
        with self.db.uow() as uow:
            counts = uow.session.execute(select(Ticket.tenant_id, Ticket.tier, func.count())
                                         .group_by(Ticket.tenant_id, Ticket.tier)).all()
            earliest = uow.session.execute(
                select(Ticket.tenant_id, Ticket.number, SlaDeadline.due_at, Ticket.tier)
                .join(SlaDeadline.ticket)
                .where(SlaDeadline.sla == "onsite", SlaDeadline.met_at.is_(None),
                       Ticket.status.in_(domain.OPEN_STATUSES))
                .order_by(SlaDeadline.due_at)).all()
        summary = {}
        for tenant, tier, n in counts:
            entry = summary.setdefault(tenant, {"by_tier": {}, "earliest_onsite": []})
            entry["by_tier"][tier or "unplaced"] = n
        for tenant, number, due, tier in earliest:
            entry = summary.setdefault(tenant, {"by_tier": {}, "earliest_onsite": []})
            if len(entry["earliest_onsite"]) < 3:
                entry["earliest_onsite"].append({"number": number, "due_at": _aware(due).isoformat(), "tier": tier})
        return summary

    # ------------------------------------------------------------ workflow
    @rpc
    def transition(self, ticket_id, payload):
        cmd = load(Transition(), payload)
        principal = self.db.principal
        with self.db.uow() as uow:
            ticket = self._load(uow, ticket_id)
            if cmd["expected_version"] is not None and cmd["expected_version"] != ticket.version:
                raise Conflict("the ticket changed since you read it",
                               {"expected_version": [f"current version is {ticket.version}"]})
            self._apply(uow, ticket, cmd, principal, utcnow())
            uow.commit()
            return self._dump(ticket)

    def _apply(self, uow, ticket, cmd, principal, now):
        action = cmd["action"]
        if action in domain.CASE_STEPS:
            before = ticket.case_state
            ticket.case_state = domain.check_case_step(action, ticket.case_state, principal.role)
            if ticket.case_state in domain.CASE_FINAL:
                ticket.status, ticket.closed_at = Status.CLOSED, now
                uow.emit("ticket.closed", self._closed_event(ticket, ticket.case_state))
            elif ticket.status == Status.REGISTERED:
                ticket.status = Status.ACCEPTED
            self._audit(uow, ticket, principal, action, before, ticket.case_state, cmd["note"],
                        {"attachments": cmd["attachments"], "cause": cmd["cause"],
                         "responsibility": cmd["responsibility"]})
        else:
            before = ticket.status
            target = domain.check_ticket_action(action, ticket.status, principal.role)
            if action == "assign_outlet":
                self._assign_outlet(uow, ticket, cmd["outlet_id"])
            elif action == "route":
                self._route(uow, ticket, cmd)
            if target:
                ticket.status = target
            if action in ("close", "cancel"):
                ticket.closed_at = now
                uow.emit("ticket.closed", self._closed_event(ticket, "cancelled" if action == "cancel" else "resolved"))
            self._audit(uow, ticket, principal, action, before, ticket.status, cmd["note"],
                        {"attachments": cmd["attachments"], "outlet_id": cmd["outlet_id"]})
        sla = domain.SLA_FULFILLED_BY.get(action)
        if sla:
            self._meet(uow, ticket, sla, now)

    def _assign_outlet(self, uow, ticket, outlet_id):
        outlet = self.policies.directory.outlets.get(outlet_id or "")
        if outlet is None or outlet.center != ticket.tenant_id:
            raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {outlet_id!r} in {ticket.tenant_id}"]})
        self._set_outlet(uow, ticket, outlet_id)

    @staticmethod
    def _set_outlet(uow, ticket, outlet_id):
        """The ticket and the rows that copy its outlet scope (deadlines, audit) follow it together,
        so the outlet sees the whole history of a job once it is theirs."""
        ticket.assigned_outlet_id = outlet_id
        for d in ticket.deadlines:
            d.assigned_outlet_id = outlet_id
        for entry in uow.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id)):
            entry.assigned_outlet_id = outlet_id

    def _route(self, uow, ticket, cmd):
        """HQ routes a triage ticket to a tenant (optionally with a corrected address)."""
        if not cmd["tenant_id"]:
            raise ValidationFailed("route needs a tenant", {"tenant_id": ["required for route"]})
        policies = self.policies
        geo = self.geocoder.parse(cmd["address"] or ticket.address)
        place = domain.place(geo, policies.directory, uow.principal, cmd["tenant_id"])
        if cmd["address"]:
            ticket.address = cmd["address"]
        ticket.tenant_id = place.tenant_id
        for attr in ("province", "city", "district", "adcode", "lat", "lon", "tier"):
            setattr(ticket, attr, getattr(place, attr))
        ticket.geo_precision, ticket.geo_ambiguous, ticket.triage_reason = place.precision, place.ambiguous, None
        deadlines = domain.sla_deadlines(
            {"kind": ticket.kind, "channel": ticket.channel, "received_at": _aware(ticket.received_at),
             "wished_visit_at": ticket.wished_visit_at and _aware(ticket.wished_visit_at)},
            place.tier, policies.clock, policies.sla_policy(place.tenant_id), ticket_deadlines)
        existing = {d.sla: d for d in ticket.deadlines}
        for sla, due in deadlines.items():
            if sla in existing:
                existing[sla].due_at = due
                existing[sla].tenant_id = place.tenant_id
            else:
                uow.session.add(SlaDeadline(tenant_id=place.tenant_id, ticket=ticket, sla=sla, due_at=due,
                                            customer_id=ticket.customer_id))
        for entry in uow.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id)):
            entry.tenant_id = place.tenant_id
        uow.session.flush()
        self._meet(uow, ticket, "forward", utcnow())
        uow.emit("ticket.registered", self._registered_event(ticket))

    def _meet(self, uow, ticket, sla, at):
        for d in ticket.deadlines:
            if d.sla == sla and d.met_at is None:
                d.met_at = at
                late = at > _aware(d.due_at)
                metrics.sla_outcome(self.name, ticket.tenant_id, sla, "late" if late else "met")
                if late and d.breached_at is None:
                    d.breached_at = at
                    uow.emit("sla.breached", self._breach_event(ticket, d, at))

    # ------------------------------------------------------------ facts from other services
    # Each fact runs once per message in a unit of work acting for the event's tenant
    # (shared.messaging.consume: claim, commit, retries) and names a ticket of that tenant.
    def _fact_ticket(self, uow, payload, event):
        """The ticket the fact names, else None: the message id is remembered all the same (the
        fact will never apply; another tenant's ticket is not found either)."""
        ticket = uow.session.get(Ticket, payload["ticket_id"])
        if ticket is None:
            log.warning("%s for unknown ticket %s", event, payload["ticket_id"])
        return ticket

    @consume("dispatch", "visit.scheduled")
    def on_visit_scheduled(self, uow, payload):
        ticket = self._fact_ticket(uow, payload, "visit.scheduled")
        if ticket is not None and ticket.status in (Status.REGISTERED, Status.ACCEPTED, Status.SCHEDULED):
            before = ticket.status
            if before != Status.SCHEDULED:
                ticket.status_before_scheduled = before
            ticket.status = Status.SCHEDULED
            if payload.get("outlet_id"):
                self._set_outlet(uow, ticket, payload["outlet_id"])
            self._audit(uow, ticket, uow.principal, "visit_scheduled", before, ticket.status,
                        data={"visit_id": payload["visit_id"], "technician_id": payload.get("technician_id"),
                              "outlet_id": payload.get("outlet_id"), "at": payload["at"].isoformat()})

    @consume("dispatch", "visit.released")
    def on_visit_released(self, uow, payload):
        """Dispatch took the planned visit back (outlet suspended/revoked, line or certificate lost):
        the ticket leaves the outlet and returns to the status it had before it was scheduled."""
        ticket = self._fact_ticket(uow, payload, "visit.released")
        if ticket is None:
            return
        before = ticket.status
        scheduled = [a for a in uow.session.scalars(select(AuditEntry).where(
            AuditEntry.ticket_id == ticket.id, AuditEntry.action == "visit_scheduled").order_by(AuditEntry.id))
            if (a.data or {}).get("visit_id") == payload["visit_id"]]
        # visit.scheduled and visit.released travel on separate queues: a re-plan that overtook
        # this release is newer and stands
        newer = [a for a in scheduled if (a.data or {}).get("at")
                 and datetime.fromisoformat(a.data["at"]) > payload["at"]]
        data = {"visit_id": payload["visit_id"], "outlet_id": payload.get("outlet_id"),
                "technician_id": payload.get("technician_id"), "reason": payload.get("reason")}
        if newer:
            data["stale"] = True
        elif ticket.status == Status.SCHEDULED:
            prior = ticket.status_before_scheduled
            ticket.status = prior if prior in (Status.REGISTERED, Status.ACCEPTED) else Status.ACCEPTED
        if not newer and payload.get("outlet_id") and ticket.assigned_outlet_id == payload["outlet_id"]:
            self._set_outlet(uow, ticket, None)
        self._audit(uow, ticket, uow.principal, "visit_released", before, ticket.status, note=payload.get("reason"),
                    data=data)

    @consume("dispatch", "visit.started")
    def on_visit_started(self, uow, payload):
        ticket = self._fact_ticket(uow, payload, "visit.started")
        if ticket is None:
            return
        before = ticket.status
        ticket.onsite_at = ticket.onsite_at or payload["at"]
        if ticket.status in domain.OPEN_STATUSES[1:]:
            ticket.status = Status.ON_SITE
        self._meet(uow, ticket, "onsite", payload["at"])
        self._audit(uow, ticket, uow.principal, "visit_started", before, ticket.status,
                    data={"visit_id": payload["visit_id"]})

    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        ticket = self._fact_ticket(uow, payload, "visit.completed")
        if ticket is None:
            return
        before = ticket.status
        if ticket.status in (Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE, Status.REGISTERED):
            ticket.status = Status.RESOLVED
        self._audit(uow, ticket, uow.principal, "visit_completed", before, ticket.status,
                    data={"visit_id": payload["visit_id"]})

    @consume("qa", "callback.negative")
    def on_callback_negative(self, uow, payload):
        ticket = self._fact_ticket(uow, payload, "callback.negative")
        if ticket is None:
            return
        before = ticket.status
        if ticket.status in (Status.RESOLVED, Status.CLOSED):
            ticket.status, ticket.closed_at = Status.ACCEPTED, None
        uow.emit("ticket.escalated", {"tenant_id": ticket.tenant_id, "ticket_id": ticket.id,
                                      "number": ticket.number, "reason": "negative_callback",
                                      "level": "center"})
        self._audit(uow, ticket, uow.principal, "callback_negative", before, ticket.status,
                    note=payload.get("reason"), data={"callback_id": payload["callback_id"]})

    @consume("qa", "callback.closed")
    def on_callback_closed(self, uow, payload):
        """QA closed a negative callback. Resolved, and the return visit made since the negative
        callback is completed: a ticket still reopened goes back to resolved. Otherwise (upheld, or
        no completed return visit yet) only the audit row; the center resolves and closes by hand."""
        ticket = self._fact_ticket(uow, payload, "callback.closed")
        if ticket is None:
            return
        before = ticket.status
        entries = uow.session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket.id)
                                      .order_by(AuditEntry.id)).all()
        negative = max((a.id for a in entries if a.action == "callback_negative"
                        and (a.data or {}).get("callback_id") == payload["callback_id"]), default=None)
        returned = negative is not None and any(a.id > negative and a.action == "visit_completed" for a in entries)
        if payload["outcome"] == "resolved" and returned \
                and ticket.status in (Status.ACCEPTED, Status.SCHEDULED, Status.ON_SITE):
            ticket.status = Status.RESOLVED
        self._audit(uow, ticket, uow.principal, "callback_closed", before, ticket.status, note=payload["outcome"],
                    data={"callback_id": payload["callback_id"], "outcome": payload["outcome"],
                          "return_visit_completed": returned})

    @consume("settlement", "settlement.refund_paid")
    def on_refund_paid(self, uow, payload):
        ticket = self._fact_ticket(uow, payload, "settlement.refund_paid")
        if ticket is None:
            return
        before = ticket.case_state
        if ticket.case_state in (domain.Case.NEGOTIATION, domain.Case.RECTIFICATION):
            ticket.case_state = domain.Case.COMPENSATION
        self._audit(uow, ticket, uow.principal, "refund_paid", before, ticket.case_state,
                    data={"amount": str(payload["amount"])})

    # ------------------------------------------------------------ SLA watchdog
    @timer_once("SLA_CHECK_SECONDS", 30)  # one replica marks the breaches (shared.leases)
    def sla_watchdog(self):
        self._check_sla(utcnow())

    @rpc
    def run_sla_check(self, at=None):
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE):
            raise Forbidden("only HQ runs the SLA check by hand")
        when = datetime.fromisoformat(at) if at else utcnow()
        return self._check_sla(when)

    def _check_sla(self, now):
        principal = tenancy.service_principal(self.name)
        breached = 0
        with self.db.uow(principal) as uow:
            rows = uow.session.execute(
                select(SlaDeadline, Ticket).join(SlaDeadline.ticket)
                .where(SlaDeadline.met_at.is_(None), SlaDeadline.breached_at.is_(None),
                       SlaDeadline.due_at < now, Ticket.status.in_(domain.OPEN_STATUSES))
                .limit(1000)).all()
            for deadline, ticket in rows:
                if ticket.case_state in domain.CASE_FINAL:
                    continue
                deadline.breached_at = now
                breached += 1
                metrics.sla_outcome(self.name, ticket.tenant_id, deadline.sla, "breached")
                uow.emit("sla.breached", self._breach_event(ticket, deadline, now))
                if ticket.kind == "complaint" or ticket.priority == 1:
                    uow.emit("ticket.escalated", {"tenant_id": ticket.tenant_id, "ticket_id": ticket.id,
                                                  "number": ticket.number, "reason": f"sla_breached:{deadline.sla}",
                                                  "level": "management"})
            uow.commit()
        return {"breached": breached}

    # ------------------------------------------------------------ helpers
    @staticmethod
    def _load(uow, ticket_id):
        return get_or_404(uow.session, Ticket, ticket_id, "ticket_id")

    @staticmethod
    def _dump(ticket):
        out = _ticket_out.dump(AwareView(ticket, nested=("deadlines",)))
        return out

    @staticmethod
    def _audit(uow, ticket, principal, action, before, after, note=None, data=None):
        uow.session.add(AuditEntry(tenant_id=ticket.tenant_id, ticket=ticket, at=utcnow(),
                                   user=principal.user, role=principal.role, action=action,
                                   from_state=before, to_state=after, note=note, data=data,
                                   assigned_outlet_id=ticket.assigned_outlet_id, customer_id=ticket.customer_id))

    @staticmethod
    def _registered_event(t):
        return {"tenant_id": t.tenant_id, "ticket_id": t.id, "number": t.number, "kind": t.kind,
                "channel": t.channel, "priority": t.priority, "received_at": _aware(t.received_at),
                "product_line": t.product_line, "model": t.model, "serial_no": t.serial_no, "fault": t.fault,
                "warranty": t.warranty, "tier": t.tier, "province": t.province, "city": t.city,
                "district": t.district, "lat": t.lat, "lon": t.lon, "geo_ambiguous": bool(t.geo_ambiguous),
                "onsite_due": next((_aware(d.due_at) for d in t.deadlines if d.sla == "onsite"), None),
                "wished_visit_at": t.wished_visit_at and _aware(t.wished_visit_at),
                "purchase_date": t.purchase_date}

    @staticmethod
    def _closed_event(t, outcome):
        return {"tenant_id": t.tenant_id, "ticket_id": t.id, "number": t.number, "kind": t.kind,
                "closed_at": _aware(t.closed_at), "outcome": outcome, "assigned_outlet_id": t.assigned_outlet_id}

    @staticmethod
    def _breach_event(t, d, now):
        return {"tenant_id": t.tenant_id, "ticket_id": t.id, "number": t.number, "sla": d.sla,
                "due_at": _aware(d.due_at), "detected_at": now, "assigned_outlet_id": t.assigned_outlet_id}


_aware = as_utc



def _wish_at(wish, policies):
    if wish is None:
        return None
    if isinstance(wish, datetime):
        return wish.astimezone(timezone.utc)
    return policies.clock.closing(wish)


LEDGER_COLUMNS = [
    ("number", "工单号"), ("tenant_id", "服务中心"), ("customer_name", "客户"), ("address", "地址"),
    ("phone", "电话"), ("model", "型号"), ("serial_no", "出厂编号"), ("purchase_date", "购买日期"),
    ("fault", "反映问题"), ("kind", "要求"), ("received_at", "受理时间"), ("onsite_at", "上门时间"),
    ("closed_at", "完成时间"), ("channel", "方式"), ("status", "状态"), ("warranty", "保修/自费"),
    ("owner_user", "首问负责人"), ("assigned_outlet_id", "服务网点"), ("callback", "回访记录"),
]


def domain_ledger_row(t):
    row = {}
    for column, _ in LEDGER_COLUMNS:
        value = getattr(t, column, None)
        if isinstance(value, datetime):
            value = _aware(value).astimezone(domain.LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
        elif value is not None and not isinstance(value, (str, int, float)):
            value = value.isoformat()
        row[column] = value
    return row
