"""QA: callback plans by quota (回访), their results, complaint analysis, the monthly outlet
scorecard (考核) and the reports for centers and HQ.

Entrypoints stay thin: load with a schema, call the domain, persist through the unit of work.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select, text

from services.qa import domain, queries, reports, scorecard
from services.qa.models import (Base, Callback, Complaint, Scorecard, ScoreFactRow, ServiceRecord, SlaBreach,
                                TicketInfo)
from services.qa.schemas import (AnalysisQuery, CallbackOut, CallbackResult, Classification, CloseCallback,
                                 Finding, MonthBody, REPORT_KINDS, ReportQuery, ScorecardOut, ScorecardQuery,
                                 WorkListQuery)
from shared import metrics, tenancy, web
from shared.db import AwareView, Database, as_utc, get_or_404, utcnow
from shared.dependencies import PolicyProvider
from shared.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from shared.leases import timer_once
from shared.messaging import consume
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

CALLBACKS_PLANNED = Counter("fsm_qa_callbacks_planned_total", "Callbacks planned by purpose and tier",
                            ["service", "tenant", "purpose", "stratum"], registry=metrics.REGISTRY)
CALLBACK_RESULTS = Counter("fsm_qa_callback_results_total", "Callback results (satisfied, negative, unreached)",
                           ["service", "tenant", "outcome"], registry=metrics.REGISTRY)
CALLBACKS_OVERDUE = Gauge("fsm_qa_callbacks_overdue", "Planned callbacks past their due time",
                          ["service", "tenant"], registry=metrics.REGISTRY)
SCORECARDS = Counter("fsm_qa_scorecards_published_total", "Outlet scorecards published",
                     ["service", "tenant"], registry=metrics.REGISTRY)

_callback_out = CallbackOut()
_scorecard_out = ScorecardOut()
AGENT_ROLES = (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE)
STAFF_STRATA = (domain.FRANCHISED, domain.SELF_RUN)  # the center's callbacks an outlet answers for


class QaService(web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "qa"

    db = Database(Base.metadata, migrations_package="services.qa.migrations")
    policies = PolicyProvider()

    # ------------------------------------------------------------ configuration
    def _cfg(self, key, default):
        value = self.db.worker_ctx.container.config.get(key)
        return default if value in (None, "") else value

    @property
    def seed(self) -> str:
        return str(self._cfg("QA_SAMPLE_SEED", "fsm-qa-sampling"))

    @property
    def directory(self):
        return self.policies.directory

    # ------------------------------------------------------------ facts from other services
    # Each handler runs once per message in a unit of work acting for the event's tenant; a
    # unique-key race (two workers planning the same outlet at once on PostgreSQL) is retried with
    # the other's rows visible (shared.messaging.consume).
    @consume("dispatch", "visit.completed")
    def on_visit_completed(self, uow, payload):
        if not payload.get("outlet_id"):
            log.warning("visit.completed %s without an outlet: nothing to call back", payload["visit_id"])
            return
        self._record_service(uow, payload)

    def _record_service(self, uow, p):
        if uow.session.get(ServiceRecord, p["visit_id"]) is not None:
            return
        outlet = self.directory.outlets.get(p["outlet_id"])
        at = p["at"].astimezone(timezone.utc)
        rec = ServiceRecord(visit_id=p["visit_id"], tenant_id=p["tenant_id"], ticket_id=p["ticket_id"],
                            outlet_id=p["outlet_id"], outlet_kind=outlet.kind if outlet else domain.FRANCHISED,
                            technician_id=p.get("technician_id"), product_line=p.get("product_line"),
                            kind=p.get("kind"), completed_at=at, period=domain.local_period(at),
                            customer_confirmed=p.get("customer_confirmed"), onsite_on_time=p.get("onsite_on_time"))
        uow.session.add(rec)
        uow.session.flush()
        self._plan_service_callbacks(uow, rec)
        src, ref = "visit.completed", f"visit:{rec.visit_id}"
        if p.get("customer_confirmed") is False:  # 工作单请客户署名: the work order is not signed
            self._fact(uow, rec.tenant_id, rec.outlet_id, "norm_breach", f"visit-unsigned:{rec.visit_id}",
                       f"norm:{rec.ticket_id}:signature", ref, at, src, rec.ticket_id,
                       "work order not confirmed by the customer")
        if not (p.get("work_done") or "").strip():
            self._fact(uow, rec.tenant_id, rec.outlet_id, "incomplete_feedback", f"visit-nowork:{rec.visit_id}",
                       f"feedback:{rec.visit_id}", ref, at, src, rec.ticket_id, "no work recorded at check-out")
        missing = [u.get("part_no") for u in p.get("parts_used") or [] if not u.get("new_serial")]
        if missing:
            self._fact(uow, rec.tenant_id, rec.outlet_id, "late_product_file", f"visit-serial:{rec.visit_id}",
                       f"product:{rec.visit_id}", ref, at, src, rec.ticket_id,
                       f"new serial missing for {', '.join(str(m) for m in missing)}")

    def _plan_service_callbacks(self, uow, rec):
        policies, now = self.policies, utcnow()
        policy = policies.sla_policy(rec.tenant_id)
        self._lock_cell(uow, f"{rec.outlet_id}|{rec.period}")
        population = uow.session.scalars(select(ServiceRecord.visit_id).where(
            ServiceRecord.outlet_id == rec.outlet_id, ServiceRecord.period == rec.period)).all()
        for stratum in domain.strata_for(rec.outlet_kind):
            selected = set(uow.session.scalars(select(Callback.visit_id).where(
                Callback.outlet_id == rec.outlet_id, Callback.period == rec.period,
                Callback.purpose == "service", Callback.stratum == stratum)).all())
            for visit_id in domain.pick(self.seed, stratum, domain.QUOTAS[stratum], population, selected):
                served = rec if visit_id == rec.visit_id else uow.session.get(ServiceRecord, visit_id)
                self._add_callback(
                    uow, tenant_id=rec.tenant_id, plan_key=f"service:{stratum}:{visit_id}", purpose="service",
                    stratum=stratum, ticket_id=served.ticket_id, visit_id=visit_id, outlet_id=served.outlet_id,
                    period=served.period, service_at=as_utc(served.completed_at),
                    due_at=domain.callback_due(policies.clock, policy, as_utc(served.completed_at)), now=now,
                    sample_key=domain.sample_key(self.seed, stratum, visit_id)[:16])

    @staticmethod
    def _lock_cell(uow, name):
        """Plan one outlet-month at a time: on PostgreSQL concurrent workers would each see only their
        own new job and together overshoot the quota. (SQLite units of work already take turns.)"""
        if uow.session.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big", signed=True)
            uow.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def _add_callback(self, uow, *, tenant_id, plan_key, purpose, stratum, ticket_id, visit_id, outlet_id, period,
                      service_at, due_at, now, sample_key=None, parent_id=None):
        cb = Callback(id=uuid.uuid4().hex, tenant_id=tenant_id, plan_key=plan_key, purpose=purpose, stratum=stratum,
                      mode=domain.STRATUM_MODE.get(stratum, "own"), caller=domain.caller_for(stratum, tenant_id),
                      ticket_id=ticket_id, visit_id=visit_id, outlet_id=outlet_id, period=period,
                      service_at=service_at, due_at=due_at, planned_at=now, sample_key=sample_key,
                      parent_id=parent_id, status="planned", attempts=0, negative=False)
        uow.session.add(cb)
        CALLBACKS_PLANNED.labels(self.name, tenant_id, purpose, stratum).inc()
        return cb

    @consume("intake", "ticket.registered")
    def on_ticket_registered(self, uow, payload):
        self._record_ticket(uow, payload)

    def _record_ticket(self, uow, p):
        if uow.session.get(TicketInfo, p["ticket_id"]) is not None:
            return
        received = p["received_at"].astimezone(timezone.utc)
        uow.session.add(TicketInfo(id=p["ticket_id"], tenant_id=p["tenant_id"], number=p["number"], kind=p["kind"],
                                   tier=p.get("tier"), product_line=p.get("product_line"), model=p.get("model"),
                                   serial_no=p.get("serial_no"), received_at=received))
        if p["kind"] == "complaint":
            c = uow.session.get(Complaint, p["ticket_id"])
            if c is None:
                c = Complaint(ticket_id=p["ticket_id"], tenant_id=p["tenant_id"], number=p["number"])
                uow.session.add(c)
            c.received_at, c.product_line, c.model = received, p.get("product_line"), p.get("model")
            c.serial_no, c.fault = p.get("serial_no"), p.get("fault")
        if p.get("serial_no"):  # 定期确认不良有无再发生: a new request on a closed complaint's machine
            # (also after a check that found none: the request may reach QA after the check ran)
            for c in uow.session.scalars(select(Complaint).where(
                    Complaint.serial_no == p["serial_no"], Complaint.recurrence_status.in_(("pending", "none")),
                    Complaint.ticket_id != p["ticket_id"])).all():
                if as_utc(c.closed_at) < received <= as_utc(c.recurrence_due):
                    c.recurrence_status, c.recurrence_ticket_id = "recurred", p["ticket_id"]

    @consume("intake", "ticket.closed")
    def on_ticket_closed(self, uow, payload):
        self._record_closed(uow, payload)

    def _record_closed(self, uow, p):
        closed = p["closed_at"].astimezone(timezone.utc)
        info = uow.session.get(TicketInfo, p["ticket_id"])
        if info is not None:
            info.closed_at, info.outcome = closed, p["outcome"]
            info.outlet_id = p.get("assigned_outlet_id") or info.outlet_id
        if p["kind"] != "complaint":
            return
        c = uow.session.get(Complaint, p["ticket_id"])
        if c is None:  # registered before QA listened: what the closing tells is enough
            c = Complaint(ticket_id=p["ticket_id"], tenant_id=p["tenant_id"], number=p["number"], received_at=closed)
            uow.session.add(c)
        c.closed_at, c.outcome = closed, p["outcome"]
        c.outlet_id = c.outlet_id or p.get("assigned_outlet_id")
        if p["outcome"] == "cancelled":
            return
        days = int(self._cfg("QA_RECURRENCE_DAYS", domain.RECURRENCE_DAYS))
        c.recurrence_due, c.recurrence_status = domain.recurrence_due(closed, days), "pending"
        key = f"complaint:{p['ticket_id']}"
        if uow.session.scalar(select(Callback.id).where(Callback.plan_key == key)) is None:
            self._add_callback(uow, tenant_id=p["tenant_id"], plan_key=key, purpose="complaint", stratum="complaint",
                               ticket_id=p["ticket_id"], visit_id=None, outlet_id=c.outlet_id,
                               period=domain.local_period(closed), service_at=closed,
                               due_at=domain.complaint_callback_due(self.policies.clock, closed), now=utcnow())
        if c.classified_at is not None:
            self._complaint_fact(uow, c)

    @consume("intake", "sla.breached")
    def on_sla_breached(self, uow, payload):
        self._record_breach(uow, payload)

    def _record_breach(self, uow, p):
        exists = uow.session.scalar(select(SlaBreach.id).where(SlaBreach.ticket_id == p["ticket_id"],
                                                               SlaBreach.sla == p["sla"]))
        if exists is not None:
            return
        due = p["due_at"].astimezone(timezone.utc)
        outlet = p.get("assigned_outlet_id")
        uow.session.add(SlaBreach(tenant_id=p["tenant_id"], ticket_id=p["ticket_id"], sla=p["sla"], due_at=due,
                                  detected_at=p["detected_at"].astimezone(timezone.utc), outlet_id=outlet))
        if outlet:  # 《客户服务工作单》未在规定期间返回: the outlet's job missed its deadline
            self._fact(uow, p["tenant_id"], outlet, "work_order_late", f"sla:{p['ticket_id']}:{p['sla']}",
                       f"late:{p['ticket_id']}:{p['sla']}", f"ticket:{p['number']}", due, "sla.breached",
                       p["ticket_id"], f"{p['sla']} due {due.isoformat()}")

    def _fact(self, uow, tenant_id, outlet_id, kind, fact_key, occurrence_key, ref, at, source, ticket_id=None,
              note=None, recorded_by=None):
        if uow.session.scalar(select(ScoreFactRow.id).where(ScoreFactRow.fact_key == fact_key)) is not None:
            return None
        row = ScoreFactRow(tenant_id=tenant_id, outlet_id=outlet_id, period=domain.local_period(at), kind=kind,
                           fact_key=fact_key, occurrence_key=occurrence_key, ref=ref, ticket_id=ticket_id, at=at,
                           source=source, recorded_by=recorded_by or uow.principal.user, note=note, void=False)
        uow.session.add(row)
        return row

    # ------------------------------------------------------------ the callback agent's work
    @rpc
    def work_list(self, query=None):
        """Planned callbacks to make: a center's (own and sampled tiers, complaint and care calls of its
        tenant), HQ's cross callbacks (``caller=all``: every callback)."""
        q = load(WorkListQuery(), query or {})
        principal = self._agent()
        now = utcnow()
        with self.db.uow() as uow:
            stmt = select(Callback)
            caller = self._caller_filter(principal, q.get("caller"))
            if caller:
                stmt = stmt.where(Callback.caller == caller)
            if q["status"] != "all":
                stmt = stmt.where(Callback.status == q["status"])
            if q.get("purpose"):
                stmt = stmt.where(Callback.purpose == q["purpose"])
            if q.get("tenant_id"):
                stmt = stmt.where(Callback.tenant_id == q["tenant_id"])
            if q.get("overdue") is True:
                stmt = stmt.where(Callback.status == "planned", Callback.due_at < now)
            elif q.get("overdue") is False:
                stmt = stmt.where(Callback.due_at >= now)
            total = uow.session.scalar(stmt.with_only_columns(func.count(Callback.id)))
            rows = uow.session.scalars(stmt.order_by(Callback.due_at, Callback.id)
                                       .limit(q["limit"]).offset(q["offset"])).all()
            return {"items": [self._dump(c, now) for c in rows], "total": total, "limit": q["limit"],
                    "offset": q["offset"]}

    @rpc
    def overdue(self, query=None):
        """Overdue callbacks (planned, past due): counted per tenant and caller, and listed."""
        q = dict(query or {})
        q.update({"status": "planned", "overdue": True})
        page = self.work_list(q)
        principal = self.db.principal
        with self.db.uow() as uow:
            stmt = select(Callback.tenant_id, Callback.caller, func.count(Callback.id)).where(
                Callback.status == "planned", Callback.due_at < utcnow())
            caller = self._caller_filter(principal, q.get("caller"))
            if caller:
                stmt = stmt.where(Callback.caller == caller)
            counts = uow.session.execute(stmt.group_by(Callback.tenant_id, Callback.caller)).all()
        by_tenant, by_caller = {}, {}
        for tenant, who, n in counts:
            by_tenant[tenant] = by_tenant.get(tenant, 0) + n
            by_caller[who] = by_caller.get(who, 0) + n
        return {"count": sum(by_tenant.values()), "by_tenant": by_tenant, "by_caller": by_caller,
                "items": page["items"]}

    @rpc
    def get_callback(self, callback_id):
        self._agent()
        with self.db.uow() as uow:
            return self._dump(get_or_404(uow.session, Callback, callback_id, "callback_id"), utcnow())

    @rpc
    def record_result(self, callback_id, payload):
        """The customer's answers (seed 001's work-order questions, satisfaction 1-5, reason codes,
        free text). A negative answer publishes ``callback.negative`` and plans a follow-up."""
        data = load(CallbackResult(), payload)
        principal = self._agent()
        now = utcnow()
        at = (data["at"] or now).astimezone(timezone.utc)
        if at > now + timedelta(minutes=5):
            raise ValidationFailed("the call cannot be in the future", {"at": ["must not be in the future"]})
        with self.db.uow() as uow:
            cb = get_or_404(uow.session, Callback, callback_id, "callback_id")
            self._may_call(principal, cb)
            if cb.status != "planned":
                raise InvalidTransition(f"callback {cb.id} is {cb.status}: its result is recorded",
                                        {"status": [f"is {cb.status}"]})
            if at < as_utc(cb.service_at):
                raise ValidationFailed("the call cannot precede the service", {"at": ["before the service"]})
            if not data["reached"]:
                cb.attempts += 1
                cb.last_attempt_at = at
                CALLBACK_RESULTS.labels(self.name, cb.tenant_id, "unreached").inc()
                uow.commit()
                return self._dump(cb, now)
            for key in ("onsite_within_24h", "service_delivered", "fee_schedule_shown", "satisfaction", "comment"):
                setattr(cb, key, data[key])
            cb.reason_codes = data["reason_codes"]
            cb.attempts += 1
            cb.done_at, cb.done_by, cb.last_attempt_at = at, principal.user, at
            verdict = domain.judge(data)
            cb.negative = verdict.negative
            cb.status = "negative" if verdict.negative else "done"
            CALLBACK_RESULTS.labels(self.name, cb.tenant_id, "negative" if verdict.negative else "satisfied").inc()
            self._answer_facts(uow, cb, data, at)
            if verdict.negative:
                uow.emit("callback.negative", {
                    "tenant_id": cb.tenant_id, "ticket_id": cb.ticket_id, "callback_id": cb.id,
                    "satisfaction": cb.satisfaction, "reason": verdict.reason, "visit_id": cb.visit_id,
                    "outlet_id": cb.outlet_id, "at": at})
                if cb.purpose != "followup":
                    self._add_callback(
                        uow, tenant_id=cb.tenant_id, plan_key=f"followup:{cb.id}", purpose="followup",
                        stratum=cb.stratum, ticket_id=cb.ticket_id, visit_id=cb.visit_id, outlet_id=cb.outlet_id,
                        period=cb.period, service_at=as_utc(cb.service_at), parent_id=cb.id, now=now,
                        due_at=domain.followup_due(self.policies.clock, self.policies.sla_policy(cb.tenant_id),
                                                   as_utc(cb.service_at), now))
            if cb.purpose == "followup" and cb.parent_id and not verdict.negative:
                parent = uow.session.get(Callback, cb.parent_id)
                if parent is not None and parent.status == "negative":
                    self._close(uow, parent, "resolved", f"follow-up {cb.id}: satisfaction {cb.satisfaction}",
                                at, principal)
            uow.commit()
            return self._dump(cb, now)

    def _answer_facts(self, uow, cb, data, at):
        """每个"否": a norm the customer says was broken (counted once per ticket and norm)."""
        if not cb.outlet_id or cb.purpose not in ("service", "followup"):
            return
        for question, norm in domain.QUESTION_NORMS.items():
            if data[question] is False:
                self._fact(uow, cb.tenant_id, cb.outlet_id, "norm_breach", f"callback:{cb.id}:{question}",
                           f"norm:{cb.ticket_id}:{norm}", f"callback:{cb.id}", as_utc(cb.service_at), "callback",
                           cb.ticket_id, f"customer answered no: {question}")

    @rpc
    def close_callback(self, callback_id, payload):
        """Close a negative callback (resolved, or upheld after review): ``callback.closed``."""
        data = load(CloseCallback(), payload)
        principal = self._agent()
        with self.db.uow() as uow:
            cb = get_or_404(uow.session, Callback, callback_id, "callback_id")
            self._may_call(principal, cb)
            if cb.status != "negative":
                raise InvalidTransition(f"only a negative callback can be closed; this one is {cb.status}",
                                        {"status": [f"is {cb.status}"]})
            self._close(uow, cb, data["outcome"], data["note"], utcnow(), principal)
            uow.commit()
            return self._dump(cb, utcnow())

    def _close(self, uow, cb, outcome, note, at, principal):
        cb.status, cb.close_outcome, cb.close_note, cb.closed_at = "closed", outcome, note, at
        uow.emit("callback.closed", {"tenant_id": cb.tenant_id, "callback_id": cb.id, "ticket_id": cb.ticket_id,
                                     "visit_id": cb.visit_id, "outlet_id": cb.outlet_id, "outcome": outcome,
                                     "at": at})

    @rpc
    def plan_care_calls(self, payload):
        """每月按20%比例电话慰问: a tenant's care-call list for the customers served in a month."""
        data = load(MonthBody(), payload)
        principal = self._agent()
        tenants = self._tenants(principal, data.get("tenant_id"))
        return {t: self._plan_care(t, data["month"]) for t in tenants}

    def _plan_care(self, tenant, month):
        now = utcnow()
        with self.db.uow(tenancy.service_principal(self.name, tenant)) as uow:
            served = uow.session.execute(select(ServiceRecord).where(ServiceRecord.period == month)
                                         .order_by(ServiceRecord.completed_at)).scalars().all()
            latest = {}
            for rec in served:
                latest[rec.ticket_id] = rec
            existing = set(uow.session.scalars(select(Callback.ticket_id).where(
                Callback.purpose == "care", Callback.period == month)).all())
            chosen = domain.pick(self.seed, f"care:{month}", domain.CARE_QUOTA, sorted(latest), existing)
            due = domain.care_due(self.policies.clock, month)
            for ticket_id in chosen:
                rec = latest[ticket_id]
                self._add_callback(uow, tenant_id=tenant, plan_key=f"care:{month}:{ticket_id}", purpose="care",
                                   stratum="care", ticket_id=ticket_id, visit_id=rec.visit_id,
                                   outlet_id=rec.outlet_id, period=month, service_at=as_utc(rec.completed_at),
                                   due_at=due, now=now)
            uow.commit()
            return {"customers": len(latest), "planned": len(chosen), "listed": len(existing) + len(chosen),
                    "due_at": due.isoformat()}

    # ------------------------------------------------------------ complaints (seed 002)
    @rpc
    def classify_complaint(self, ticket_id, payload):
        """Cause, responsibility (own / other department / grey zone), level and outlet of a complaint."""
        data = load(Classification(), payload)
        principal = self._agent()
        with self.db.uow() as uow:
            c = get_or_404(uow.session, Complaint, ticket_id, "ticket_id")
            if data.get("outlet_id"):
                outlet = self.directory.outlets.get(data["outlet_id"])
                if outlet is None or outlet.center != c.tenant_id:
                    raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {data['outlet_id']!r} "
                                                                            f"in {c.tenant_id}"]})
                c.outlet_id = data["outlet_id"]
            if data["responsibility"] == "own" and not c.outlet_id:
                raise ValidationFailed("own responsibility needs the outlet",
                                       {"outlet_id": ["required when responsibility is own"]})
            c.cause, c.responsibility, c.level = data["cause"], data["responsibility"], data["level"]
            c.department = data.get("department")
            c.classified_by, c.classified_at = principal.user, utcnow()
            self._complaint_fact(uow, c)
            uow.commit()
            return self._complaint_out(c)

    def _complaint_fact(self, uow, c):
        """The complaint on the outlet's customer-opinion line, or voided when reclassified."""
        kind = domain.complaint_fact_kind(c.responsibility, c.level)
        key = f"complaint:{c.ticket_id}"
        row = uow.session.scalars(select(ScoreFactRow).where(ScoreFactRow.fact_key == key)).first()
        if kind is None or not c.outlet_id:
            if row is not None:
                row.void = True
            return
        at = as_utc(c.received_at)
        if row is None:
            self._fact(uow, c.tenant_id, c.outlet_id, kind, key, key, f"ticket:{c.number}", at, "complaint",
                       c.ticket_id, f"cause {c.cause}, {c.level}", recorded_by=c.classified_by)
        else:
            row.kind, row.outlet_id, row.void = kind, c.outlet_id, False
            row.note = f"cause {c.cause}, {c.level}"

    @rpc
    def complaint_analysis(self, query=None):
        q = load(AnalysisQuery(), query or {})
        self._agent()
        with self.db.uow() as uow:
            complaints = queries.complaints(uow.session, tenant_id=q.get("tenant_id"), since=q.get("since"),
                                            until=q.get("until"))
        return _json(domain.analyse_complaints(complaints))

    @rpc
    def run_recurrence_check(self, at=None):
        """Closed complaints whose re-check period has passed with no new request on the same
        machine are confirmed free of recurrence (定期确认不良有无再发生)."""
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE):
            raise Forbidden("only HQ runs the recurrence check by hand")
        return self._recurrence_check(datetime.fromisoformat(at) if at else utcnow())

    def _recurrence_check(self, now):
        done = {"none": 0, "recurred": 0}
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            due = uow.session.scalars(select(Complaint).where(Complaint.recurrence_status == "pending",
                                                              Complaint.recurrence_due <= now)).all()
            for c in due:
                again = None
                if c.serial_no:
                    again = uow.session.scalars(select(TicketInfo.id).where(
                        TicketInfo.serial_no == c.serial_no, TicketInfo.id != c.ticket_id,
                        TicketInfo.tenant_id == c.tenant_id, TicketInfo.received_at > c.closed_at,
                        TicketInfo.received_at <= c.recurrence_due)).first()
                c.recurrence_status = "recurred" if again else "none"
                c.recurrence_ticket_id = again
                done[c.recurrence_status] += 1
            uow.commit()
        return done

    # ------------------------------------------------------------ score facts and the scorecard
    @rpc
    def record_finding(self, payload):
        """A fact recorded by a center or HQ (inspection, file audit, letter of praise)."""
        data = load(Finding(), payload)
        principal = self._agent()
        outlet = self.directory.outlets.get(data["outlet_id"])
        if outlet is None or not principal.sees_tenant(outlet.center):
            raise ValidationFailed("unknown outlet", {"outlet_id": [f"no outlet {data['outlet_id']!r} you manage"]})
        now = utcnow()
        at = (data["at"] or now).astimezone(timezone.utc)
        if at > now + timedelta(minutes=5):
            raise ValidationFailed("a finding cannot be in the future", {"at": ["must not be in the future"]})
        ref = data.get("ref") or f"finding:{uuid.uuid4().hex[:12]}"
        with self.db.uow() as uow:
            occurrence = f"{data['kind']}:{ref}"
            row = self._fact(uow, outlet.center, outlet.id, data["kind"], f"finding:{uuid.uuid4().hex}", occurrence,
                             ref, at, "finding", data.get("ticket_id"), data["note"], recorded_by=principal.user)
            uow.commit()
            return self._fact_out(row)

    @rpc
    def score_facts(self, outlet_id, month):
        month = load(ScorecardQuery(), {"month": month})["month"]
        with self.db.uow() as uow:
            rows = uow.session.scalars(select(ScoreFactRow).where(
                ScoreFactRow.outlet_id == outlet_id, ScoreFactRow.period == month)
                .order_by(ScoreFactRow.at, ScoreFactRow.id)).all()
            return [self._fact_out(r) for r in rows]

    @rpc
    def preview_scorecard(self, outlet_id, month):
        """The scorecard as the facts stand now (not published)."""
        month = load(ScorecardQuery(), {"month": month})["month"]
        self._agent()
        outlet = self.directory.outlets.get(outlet_id)
        with self.db.uow() as uow:
            if outlet is None or not uow.principal.sees_tenant(outlet.center):
                raise NotFound(f"outlet {outlet_id} not found")
            card, jobs = self._score(uow, outlet_id, month, utcnow())
        return _json(dict(card, outlet_id=outlet_id, tenant_id=outlet.center, month=month, jobs=jobs))

    def _score(self, uow, outlet_id, month, asof):
        facts = [scorecard.ScoreFact(r.kind, r.occurrence_key, r.ref, as_utc(r.at), r.source, r.note)
                 for r in uow.session.scalars(select(ScoreFactRow).where(
                     ScoreFactRow.outlet_id == outlet_id, ScoreFactRow.period == month,
                     ScoreFactRow.void.is_(False)).order_by(ScoreFactRow.id)).all()]
        missed = uow.session.scalars(select(Callback).where(
            Callback.outlet_id == outlet_id, Callback.period == month, Callback.purpose == "service",
            Callback.stratum.in_(STAFF_STRATA), Callback.due_at < asof)).all()
        for cb in missed:
            done, due = as_utc(cb.done_at), as_utc(cb.due_at)
            if done is not None and done <= due:
                continue
            note = f"due {due.isoformat()}, " + (f"made late {done.isoformat()}" if done else "not made")
            facts.append(scorecard.ScoreFact("callback_missed", f"callback:{cb.id}", f"callback:{cb.id}", due,
                                          "callbacks", note))
        jobs = uow.session.scalar(select(func.count(ServiceRecord.visit_id)).where(
            ServiceRecord.outlet_id == outlet_id, ServiceRecord.period == month))
        return scorecard.compute_scorecard(facts), jobs

    @rpc
    def publish_scorecards(self, payload):
        """Every outlet's scorecard for a month, ranked in its tenant and nationwide, stored and
        published (``qa.scorecard_published``). HQ's step: the nationwide ranking needs every tenant."""
        data = load(MonthBody(), payload)
        principal = self.db.principal
        if principal.role not in (tenancy.HQ, tenancy.SERVICE) or not principal.all_tenants:
            raise Forbidden("only HQ publishes the monthly scorecards")
        return self._publish(data["month"], principal)

    def _publish(self, month, principal):
        now = utcnow()
        outlets = sorted(self.directory.outlets.values(), key=lambda o: o.id)
        with self.db.uow(principal) as uow:
            cards = {}
            for outlet in outlets:
                card, jobs = self._score(uow, outlet.id, month, now)
                cards[outlet.id] = (outlet, card, jobs)
            nationwide = scorecard.rank([(o, c["score"]) for o, (_, c, _) in cards.items()])
            in_tenant = {}
            for tenant in {o.center for o, _, _ in cards.values()}:
                in_tenant.update(scorecard.rank([(oid, c["score"]) for oid, (o, c, _) in cards.items()
                                              if o.center == tenant]))
            existing = {s.outlet_id: s for s in uow.session.scalars(select(Scorecard).where(Scorecard.month == month))}
            for outlet_id, (outlet, card, jobs) in cards.items():
                row = existing.get(outlet_id) or Scorecard(tenant_id=outlet.center, outlet_id=outlet_id, month=month)
                row.score, row.stars, row.grade, row.jobs = card["score"], card["stars"], card["grade"], jobs
                row.lines = _json(card["lines"])
                row.rank_in_tenant, row.rank_nationwide = in_tenant[outlet_id], nationwide[outlet_id]
                row.published_at, row.published_by = now, principal.user
                uow.session.add(row)
                uow.emit("qa.scorecard_published", {
                    "tenant_id": outlet.center, "outlet_id": outlet_id, "month": month, "score": card["score"],
                    "stars": card["stars"], "grade": card["grade"], "rank_in_tenant": in_tenant[outlet_id],
                    "rank_nationwide": nationwide[outlet_id]})
                SCORECARDS.labels(self.name, outlet.center).inc()
            uow.commit()
        grades = {}
        for _, card, _ in cards.values():
            grades[card["grade"]] = grades.get(card["grade"], 0) + 1
        return {"month": month, "outlets": len(cards), "grades": grades}

    @rpc
    def scorecards(self, query=None):
        """Published scorecards of a month: HQ every outlet, a center its tenant's, an outlet its own."""
        q = load(ScorecardQuery(), query or {})
        with self.db.uow() as uow:
            stmt = select(Scorecard).where(Scorecard.month == q["month"])
            if q.get("tenant_id"):
                stmt = stmt.where(Scorecard.tenant_id == q["tenant_id"])
            rows = uow.session.scalars(stmt.order_by(Scorecard.rank_nationwide, Scorecard.outlet_id)).all()
            return [self._card_out(r) for r in rows]

    @rpc
    def get_scorecard(self, outlet_id, month):
        month = load(ScorecardQuery(), {"month": month})["month"]
        with self.db.uow() as uow:
            row = uow.session.scalars(select(Scorecard).where(Scorecard.outlet_id == outlet_id,
                                                              Scorecard.month == month)).first()
            if row is None:
                raise NotFound(f"no scorecard of outlet {outlet_id} for {month}")
            return self._card_out(row)

    # ------------------------------------------------------------ reports
    @rpc
    def report(self, kind, query=None):
        return _json(self._report(kind, load(ReportQuery(), query or {})))

    @rpc
    def report_file(self, kind, query=None):
        """A report as a file: ``{filename, content_type, encoding, data}`` (base64 for binary)."""
        q = load(ReportQuery(), query or {})
        fmt = q["format"]
        if kind == "all":
            if fmt != "xlsx":
                raise ValidationFailed("all reports together come as xlsx", {"format": ["must be xlsx"]})
            data = reports.to_xlsx([self._report(k, q) for k in REPORT_KINDS])
        else:
            report = self._report(kind, q)
            if fmt == "json":
                data = json.dumps(_json(report), ensure_ascii=False)
            elif fmt == "csv":
                data = reports.to_csv(report)
            elif fmt == "xlsx":
                data = reports.to_xlsx([report])
            else:
                data = reports.chart(report, fmt)
        name = f"qa-{kind}-{q.get('tenant_id') or self.db.principal.tenant or 'all'}-{q.get('month') or 'all'}.{fmt}"
        if isinstance(data, bytes):
            return {"filename": name, "content_type": reports.CONTENT_TYPES[fmt], "encoding": "base64",
                    "data": base64.b64encode(data).decode("ascii")}
        return {"filename": name, "content_type": reports.CONTENT_TYPES[fmt], "encoding": "text", "data": data}

    def _report(self, kind, q):
        if kind not in REPORT_KINDS:
            raise NotFound(f"no report {kind!r}; reports are {', '.join(REPORT_KINDS)}")
        principal = self._agent()
        with self.db.uow() as uow:
            rows = getattr(self, f"_report_{kind}")(uow, q)
        scope = q.get("tenant_id") or principal.tenant or "all tenants"
        return {"kind": kind, "title": reports.TITLES[kind], "scope": scope, "columns": reports.COLUMNS[kind],
                "rows": rows}

    def _report_ontime(self, uow, q):
        visits, breaches = queries.ontime_figures(uow.session, tenant_id=q.get("tenant_id"), month=q.get("month"),
                                                  since=q.get("since"))
        return reports.ontime_rows(visits, breaches)

    def _report_callbacks(self, uow, q):
        return reports.callback_rows(queries.callback_figures(
            uow.session, now=utcnow(), tenant_id=q.get("tenant_id"), month=q.get("month"), since=q.get("since")))

    def _report_satisfaction(self, uow, q):
        return reports.satisfaction_rows(queries.satisfaction_figures(
            uow.session, tenant_id=q.get("tenant_id"), month=q.get("month"), since=q.get("since")))

    def _report_pareto(self, uow, q):
        complaints = queries.complaints(uow.session, tenant_id=q.get("tenant_id"),
                                        since=q.get("since") or q.get("month"), until=q.get("month"))
        return reports.pareto_rows(domain.analyse_complaints(complaints)["pareto"])

    def _report_ranking(self, uow, q):
        return reports.ranking_rows(queries.ranking(uow.session, tenant_id=q.get("tenant_id"), month=q.get("month")))

    # ------------------------------------------------------------ timers (the product clock)
    @timer_once("QA_HOUSEKEEPING_SECONDS", 60)  # on one replica at a time (shared.leases)
    def housekeeping(self):
        """Overdue gauge, recurrence re-checks, and on the configured day the previous month's
        care-call list and scorecards."""
        now = utcnow()
        self._overdue_gauge(now)
        self._recurrence_check(now)
        if str(self._cfg("QA_AUTO_MONTHLY", "true")).lower() in ("0", "false", "no"):
            return
        local = now.astimezone(domain.LOCAL_TZ)
        month = domain.previous_month(local.strftime("%Y-%m"))
        service = tenancy.service_principal(self.name)
        for tenant in sorted(self.directory.centers):
            self._plan_care(tenant, month)
        if local.day >= int(self._cfg("QA_SCORECARD_DAY", 8)):
            with self.db.uow(service) as uow:
                published = uow.session.scalar(select(func.count(Scorecard.id)).where(Scorecard.month == month))
                # a month QA did not follow (no job recorded) has no facts: no scorecards rather than 100s
                followed = uow.session.scalar(select(func.count(ServiceRecord.visit_id)).where(
                    ServiceRecord.period == month))
            if followed and not published:
                self._publish(month, service)

    def _overdue_gauge(self, now):
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = dict(uow.session.execute(select(Callback.tenant_id, func.count(Callback.id)).where(
                Callback.status == "planned", Callback.due_at < now).group_by(Callback.tenant_id)).all())
        for tenant in self.directory.centers:
            CALLBACKS_OVERDUE.labels(self.name, tenant).set(counts.get(tenant, 0))
        return counts

    # ------------------------------------------------------------ helpers
    def _agent(self):
        principal = self.db.principal
        if principal.role not in AGENT_ROLES:
            raise Forbidden(f"role {principal.role} has no access to callbacks, complaints or reports")
        return principal

    @staticmethod
    def _caller_filter(principal, asked):
        if principal.role == tenancy.CENTER:
            return principal.tenant  # a center works its own list; HQ's cross callbacks are not its
        if asked == "all":
            return None
        return asked or (domain.HQ_CALLER if principal.role == tenancy.HQ else None)

    @staticmethod
    def _may_call(principal, cb):
        if principal.role in (tenancy.HQ, tenancy.SERVICE):
            return
        if principal.role == tenancy.CENTER and cb.caller == principal.tenant:
            return
        raise Forbidden(f"callback {cb.id} is called by {cb.caller} ({cb.mode} callback)")

    def _tenants(self, principal, asked):
        if principal.role == tenancy.CENTER:
            if asked and asked != principal.tenant:
                raise Forbidden(f"center {principal.tenant} cannot plan for {asked}")
            return [principal.tenant]
        if asked:
            if asked not in self.directory.centers:
                raise ValidationFailed("unknown center", {"tenant_id": [f"no center {asked!r}"]})
            return [asked]
        return sorted(self.directory.centers)

    @staticmethod
    def _dump(cb, now):
        out = _callback_out.dump(AwareView(cb))
        out["overdue"] = domain.is_overdue(cb.status, as_utc(cb.due_at), now)
        return out

    @staticmethod
    def _card_out(row):
        return _scorecard_out.dump(AwareView(row))

    @staticmethod
    def _fact_out(r):
        return {"id": r.id, "outlet_id": r.outlet_id, "tenant_id": r.tenant_id, "period": r.period, "kind": r.kind,
                "points": scorecard.RULES[r.kind].points, "line": scorecard.RULES[r.kind].line, "ref": r.ref,
                "ticket_id": r.ticket_id, "at": as_utc(r.at).isoformat(), "source": r.source,
                "recorded_by": r.recorded_by, "note": r.note, "void": r.void, "occurrence": r.occurrence_key}

    @staticmethod
    def _complaint_out(c):
        return {"ticket_id": c.ticket_id, "tenant_id": c.tenant_id, "number": c.number, "cause": c.cause,
                "responsibility": c.responsibility, "level": c.level, "outlet_id": c.outlet_id,
                "department": c.department, "closed_at": c.closed_at and as_utc(c.closed_at).isoformat(),
                "recurrence_status": c.recurrence_status}


_json = reports.jsonable
