"""Notify: notices to people (通知) by e-mail (SMTP), SMS (a provider's HTTP interface) and the
portal inbox, from the facts the other services publish.

Entrypoints stay thin: a fact is turned into notices by `domain` (which notice, to whom, the
Chinese text, quiet hours) and recorded by `operations` in the handler's unit of work, once per
event, recipient and channel; those due now are sent right after the commit, the others (quiet
hours, a failed attempt waiting out its backoff) by the retry timer on one replica.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge

from services.notify import domain, operations, people, preferences
from services.notify.channels import DeliveryError, HttpSms, NotConfigured, SmtpMailer
from services.notify.models import Base
from services.notify.schemas import InboxQuery, MarkAllReadBody, NoticeOut, NoticeQuery
from shared import metrics, tenancy, web
from shared.db import Database, utcnow
from shared.errors import Forbidden, ValidationFailed
from shared.leases import timer_once
from shared.messaging import consume
from shared.outbox import EVENT_ID_KEY
from shared.rpc import rpc
from shared.validation import load

log = logging.getLogger(__name__)

SENT = Counter(
    "fsm_notify_sent_total",
    "Notice delivery attempts by channel and outcome (sent, retry, failed, undeliverable)",
    ["service", "channel", "outcome"],
    registry=metrics.REGISTRY,
)
PENDING = Gauge(
    "fsm_notify_pending",
    "Notices waiting to go out (quiet hours, retries), per channel",
    ["service", "channel"],
    registry=metrics.REGISTRY,
)
_notice_out = NoticeOut()


class Settings:
    """What notify reads of its configuration once (README "Configuration")."""

    def __init__(self, config: dict[str, Any]) -> None:
        managers = people.managers(config.get("COMPLAINT_ESCALATION"))  # the named managers, as intake reads them
        self.contacts = replace(domain.Contacts.parse(config.get("NOTIFY_CONTACTS")), people=managers)
        self.quiet_hours = domain.parse_quiet_hours(str(config.get("NOTIFY_QUIET_HOURS") or domain.QUIET_HOURS))


class NotifySettings(DependencyProvider):  # type: ignore[misc]  # nameko is untyped: its base is Any
    """``settings = NotifySettings()``: NOTIFY_CONTACTS and NOTIFY_QUIET_HOURS parsed when the
    service starts, so a wrong value stops it with the key named instead of failing every event."""

    def setup(self) -> None:
        self.settings = Settings(self.container.config)
        # every channel's outcomes exported from the start at 0, so a rate or an alert over them
        # has a series before the first notice is sent
        for channel in (domain.EMAIL, domain.SMS):
            for outcome in (domain.SENT, "retry", domain.FAILED, domain.UNDELIVERABLE):
                SENT.labels(self.container.service_name, channel, outcome)

    def get_dependency(self, worker_ctx: Any) -> Settings:
        return self.settings


class NotifyService(web.ServiceBase):  # not imported by name: `nameko run` would take it for a service
    name = "notify"

    db = Database(Base.metadata, migrations_package="services.notify.migrations")
    settings = NotifySettings()  # NOTIFY_CONTACTS and NOTIFY_QUIET_HOURS, checked when the service starts

    # ------------------------------------------------------------ configuration
    @property
    def _config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.db.worker_ctx.container.config
        return config

    def _number(self, key: str, default: float) -> float:
        value = self._config.get(key)
        return default if value in (None, "") else float(value)

    # ------------------------------------------------------------ facts that concern people
    @consume("intake", "ticket.registered")
    def on_ticket_registered(self, uow, payload):
        self._notify(uow, "ticket.registered", payload)

    @consume("intake", "sla.breached")
    def on_sla_breached(self, uow, payload):
        self._notify(uow, "sla.breached", payload)

    @consume("intake", "ticket.escalated")
    def on_ticket_escalated(self, uow, payload):
        self._notify(uow, "ticket.escalated", payload)

    @consume("intake", "sla.at_risk")
    def on_sla_at_risk(self, uow, payload):
        self._notify(uow, "sla.at_risk", payload)

    @consume("qa", "callback.due")
    def on_callback_due(self, uow, payload):
        self._notify(uow, "callback.due", payload)

    @consume("dispatch", "visit.scheduled")
    def on_visit_scheduled(self, uow, payload):
        self._notify(uow, "visit.scheduled", payload)

    @consume("certification", "technician.expiring")
    def on_certificate_expiring(self, uow, payload):
        self._notify(uow, "technician.expiring", payload)

    @consume("settlement", "statement.issued")
    def on_statement_issued(self, uow, payload):
        self._notify(uow, "statement.issued", payload)

    def _notify(self, uow, event_type, payload):
        """Record the notices of one fact, commit, then send those due now."""
        event_id = domain.event_key(event_type, self.db.worker_ctx.data.get(EVENT_ID_KEY), payload)
        due = operations.record(
            uow,
            event_type,
            event_id,
            payload,
            self.settings.contacts,
            self.settings.quiet_hours,
            utcnow(),
            change_minutes=self._number("NOTIFY_VISIT_CHANGE_MINUTES", domain.VISIT_CHANGE_MINUTES),
        )
        uow.commit()
        log.info(
            "notify: %s %s recorded, %d to send now",
            event_type,
            event_id,
            len(due),
            extra={"service": self.name, "event": event_type, "event_id": event_id, "tenant": payload["tenant_id"]},
        )
        if due:
            try:
                self._deliver(due)
            except Exception:  # recorded and committed: the retry timer sends what is left
                log.exception(
                    "notify: sending the notices of %s %s failed; the retry timer takes over", event_type, event_id
                )

    # ------------------------------------------------------------ delivery and retries
    @timer_once("NOTIFY_RETRY_SECONDS", 30)  # on one replica at a time (shared.leases)
    def retry_timer(self):
        self._deliver(None)

    def _deliver(self, ids):
        """Claim the notices due (`ids`, or every one due), send each, record how it went."""
        principal = tenancy.service_principal(self.name)
        with self.db.uow(principal) as uow:
            claimed = operations.claim_due(uow.session, utcnow(), ids)
            uow.commit()
        mailer, sms = SmtpMailer.from_config(self._config), HttpSms.from_config(self._config)
        for notice in claimed:
            error, retryable = None, True
            try:
                if notice.channel == domain.EMAIL:
                    mailer.send(notice.address, notice.subject, notice.body)
                else:
                    sms.send(notice.address, f"【{sms.sender}】{notice.body}")
            except NotConfigured as exc:
                error, retryable = str(exc), False
            except DeliveryError as exc:
                error = str(exc)
            with self.db.uow(principal) as uow:
                status = operations.settle(
                    uow,
                    notice,
                    error,
                    utcnow(),
                    retryable=retryable,
                    max_attempts=int(self._number("NOTIFY_MAX_ATTEMPTS", domain.MAX_ATTEMPTS)),
                    retry_base=self._number("NOTIFY_RETRY_BASE_SECONDS", domain.RETRY_BASE_SECONDS),
                )
                uow.commit()
            outcome = {domain.PENDING: "retry"}.get(status, status)
            SENT.labels(self.name, notice.channel, outcome).inc()
            log_at = log.info if status == domain.SENT else log.warning
            log_at(
                "notify: notice %s by %s %s (attempt %d)%s",
                notice.id,
                notice.channel,
                outcome,
                notice.attempts,
                f": {error}" if error else "",
                extra={"service": self.name, "notice": notice.id, "channel": notice.channel, "outcome": outcome},
            )

    def refresh_gauges(self):
        """Read when /metrics is scraped (shared.metrics.refresh): notices waiting per channel."""
        with self.db.uow(tenancy.service_principal(self.name)) as uow:
            counts = operations.pending_counts(uow.session)
        for channel in (domain.EMAIL, domain.SMS):
            PENDING.labels(self.name, channel).set(counts.get(channel, 0))

    # ------------------------------------------------------------ the portal inbox
    def _audience(self):
        audience = domain.inbox_audience(self.db.principal.role)
        if audience is None:
            raise Forbidden(f"role {self.db.principal.role} has no inbox", {"role": ["center, outlet or hq"]})
        return audience

    @rpc
    def inbox(self, query=None):
        """The caller's inbox (a center's: its tenant's; an outlet's: its own; HQ's), newest first."""
        asked = load(InboxQuery(), query or {})
        audience = self._audience()
        with self.db.uow() as uow:
            hidden = operations.preferences_of(uow.session, self.db.principal).hidden()
            total, unread, rows = operations.inbox(
                uow.session,
                audience,
                self.db.principal.user,
                unread=asked["unread"],
                limit=asked["limit"],
                offset=asked["offset"],
                hidden=hidden,
            )
            items = [_notice_out.dump(operations.as_dict(n)) for n in rows]
        return {"items": items, "total": total, "unread": unread, "limit": asked["limit"], "offset": asked["offset"]}

    @rpc
    def mark_read(self, notice_id):
        """Mark one notice of the caller's inbox read (404 if it is not in it)."""
        try:
            number = int(notice_id)
        except (TypeError, ValueError):
            raise ValidationFailed("notice_id must be a number", {"notice_id": ["not a number"]}) from None
        if not 0 < number < 2**62:
            raise ValidationFailed("notice_id out of range", {"notice_id": ["not a notice id"]})
        audience = self._audience()
        with self.db.uow() as uow:
            notice = operations.mark_read(uow.session, audience, self.db.principal.user, number, utcnow())
            out = _notice_out.dump(operations.as_dict(notice))
            uow.commit()
        return out

    @rpc
    def mark_all_read(self, body=None):
        """Mark read every unread notice of the caller's inbox (its own only; the kinds it switched
        off stay as they are), up to notice ``upto`` when given: {marked, unread}."""
        asked = load(MarkAllReadBody(), body or {})
        audience = self._audience()
        with self.db.uow() as uow:
            hidden = operations.preferences_of(uow.session, self.db.principal).hidden()
            user = self.db.principal.user
            marked = operations.mark_all_read(uow.session, audience, user, utcnow(), hidden=hidden, upto=asked["upto"])
            uow.commit()
            left = operations.unread_count(uow.session, audience, user, hidden)
        return {"marked": marked, "unread": left}

    @rpc
    def get_preferences(self):
        """The caller's notice preferences: every kind with the channels they take it by."""
        self._audience()
        with self.db.uow() as uow:
            return preferences.as_json(operations.preferences_of(uow.session, self.db.principal))

    @rpc
    def set_preferences(self, body):
        """Change the caller's preferences (fields left out stay); 422 naming each wrong field."""
        self._audience()
        with self.db.uow() as uow:
            current = operations.preferences_of(uow.session, self.db.principal)
            changed = preferences.check(body, current)
            operations.save_preferences(uow.session, self.db.principal, changed, utcnow())
            uow.commit()
        return preferences.as_json(changed)

    @rpc
    def notices(self, query=None):
        """Every notice with its delivery status (a center: its tenant's; HQ: all), newest first."""
        asked = load(NoticeQuery(), query or {})
        if self.db.principal.role not in (tenancy.HQ, tenancy.CENTER, tenancy.SERVICE):
            raise Forbidden("only a center or HQ reads the delivery log", {"role": ["center or hq"]})
        with self.db.uow() as uow:
            total, rows = operations.notices(
                uow.session,
                status=asked["status"],
                channel=asked["channel"],
                ticket_id=asked["ticket_id"],
                limit=asked["limit"],
                offset=asked["offset"],
            )
            items = [_notice_out.dump(operations.as_dict(n)) for n in rows]
        return {"items": items, "total": total, "limit": asked["limit"], "offset": asked["offset"]}
