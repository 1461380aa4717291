"""The rules of notices to people (通知): which fact gives which notice to whom and by which
channel, the Chinese texts, who is reachable at which address, quiet hours, retries.

Plain Python: no nameko, no session. `services/notify/service.py` reads the configuration and the
events, asks these functions what to record, and `operations.py` records and delivers it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from shared.clock import LOCAL_TZ
from shared.config import json_setting

# channels
EMAIL = "email"
SMS = "sms"
INBOX = "inbox"
CHANNELS = (EMAIL, SMS, INBOX)

# audiences: who a notice is for (the inbox of a center, of an outlet, of HQ; a customer by SMS)
CENTER = "center"
OUTLET = "outlet"
HQ = "hq"
CUSTOMER = "customer"
USER = "user"  # one named person (a portal account): an escalation's manager, a user's own copy
AUDIENCES = (CENTER, OUTLET, HQ, CUSTOMER, USER)

# delivery status of one notice
PENDING = "pending"  # waiting for its turn (quiet hours, a retry after a failure)
SENDING = "sending"  # claimed by one worker that is sending it now
SENT = "sent"  # handed to the SMTP server / SMS provider; an inbox row is sent when recorded
FAILED = "failed"  # the attempts ran out: `error` says the last failure
UNDELIVERABLE = "undeliverable"  # no address, a masked phone, a channel not configured: `error` says why
STATUSES = (PENDING, SENDING, SENT, FAILED, UNDELIVERABLE)

MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 30.0
RETRY_MAX_SECONDS = 3600.0
QUIET_HOURS = "22:00-08:00"


@dataclass(frozen=True)
class NoticeRule:
    """One notice an event gives: its kind (the template), for whom, by which channels, and
    whether it may wake people at night (urgent: SLA breaches, escalations)."""

    kind: str
    audience: str
    channels: tuple[str, ...]
    urgent: bool = False


def notices_for(event_type: str, payload: Mapping[str, Any]) -> list[NoticeRule]:
    """Which notices the fact `event_type` with `payload` gives (the table of seed 001's notices:
    the web request forwarded within the hour with notice, outlets learn of their jobs, customers
    of their appointment; seeds 000 and 004: breaches and major issues go to named people)."""
    if event_type == "ticket.registered":
        if payload.get("channel") == "web":  # 1-hour forwarding rule: the center is told
            return [NoticeRule("web_forwarded", CENTER, (EMAIL, INBOX))]
        return [NoticeRule("ticket_registered", CENTER, (INBOX,))]
    if event_type == "visit.scheduled":
        rules = [NoticeRule("visit_scheduled", CUSTOMER, (SMS,))]
        if payload.get("outlet_id"):
            rules.insert(0, NoticeRule("job_assigned", OUTLET, (EMAIL, SMS, INBOX)))
        return rules
    if event_type == "sla.breached":
        rules = [NoticeRule("sla_breached", CENTER, (EMAIL, SMS, INBOX), urgent=True)]
        if payload.get("assigned_outlet_id"):
            rules.append(NoticeRule("sla_breached", OUTLET, (INBOX,), urgent=True))
        return rules
    if event_type == "ticket.escalated":
        named = (
            [NoticeRule("escalated_manager", USER, (EMAIL, SMS, INBOX), urgent=True)] if payload.get("manager") else []
        )
        return named + [
            NoticeRule("escalated", CENTER, (EMAIL, SMS, INBOX), urgent=True),
            NoticeRule("escalated", HQ, (EMAIL, INBOX), urgent=True),
        ]
    if event_type == "sla.at_risk":  # a warning, not yet a breach: it waits out the quiet hours
        rules = [NoticeRule("sla_at_risk", CENTER, (EMAIL, INBOX))]
        if payload.get("assigned_outlet_id"):
            rules.append(NoticeRule("sla_at_risk", OUTLET, (INBOX,)))
        return rules
    if event_type == "callback.due":  # the caller's work list: the center's, or HQ's cross callbacks
        return [NoticeRule("callback_due", HQ if payload.get("caller") == "HQ" else CENTER, (INBOX,))]
    if event_type == "technician.expiring":
        audience = OUTLET if payload.get("outlet_id") else CENTER
        return [NoticeRule("certificate_expiring", audience, (EMAIL, INBOX))]
    if event_type == "statement.issued":
        return [NoticeRule("statement_issued", OUTLET, (EMAIL, INBOX))]
    return []


# the facts notify consumes: (source service, event type)
CONSUMED = (
    ("intake", "ticket.registered"),
    ("intake", "sla.breached"),
    ("intake", "ticket.escalated"),
    ("intake", "sla.at_risk"),
    ("qa", "callback.due"),
    ("dispatch", "visit.scheduled"),
    ("certification", "technician.expiring"),
    ("settlement", "statement.issued"),
)


# ---------------------------------------------------------------- texts (Chinese, local time)
SLA_NAMES = {
    "accept": "受理",
    "phone_reply": "电话回复",
    "forward": "转交服务组",
    "onsite": "上门",
    "complaint_plan": "投诉处理方案",
    "complaint_close": "投诉结案",
}
PURPOSE_NAMES = {
    "service": "服务回访",
    "followup": "跟进回访",
    "complaint": "投诉回访",
    "care": "关怀回访",
    "tracking": "七天内用户追踪",
}
REASON_NAMES = {
    "safety": "危及人身安全的重大问题",
    "batch_defect": "批量质量事故",
    "grey_zone": "责任不明（灰色地带）",
    "negative_callback": "回访不满意",
}


LEVEL_NAMES = {"center": "区域服务中心", "management": "公司管理层", "hq": "总部"}


def reason_name(reason: str) -> str:
    """An escalation's reason as people read it (a re-escalation: the manager before did not confirm)."""
    if reason.startswith("not_acknowledged:"):
        level = reason.split(":", 1)[1]
        return f"上一级（{LEVEL_NAMES.get(level, level)}）未按时确认"
    if reason.startswith("sla_breached:"):
        return f"{SLA_NAMES.get(reason.split(':', 1)[1], reason.split(':', 1)[1])}超时"
    return REASON_NAMES.get(reason, reason or "—")


KIND_NAMES = {"repair": "维修", "install": "安装", "maintenance": "保养", "complaint": "投诉", "consultation": "咨询"}

TEMPLATES: dict[str, tuple[str, str]] = {
    "web_forwarded": (
        "【网上报修转交】{number}",
        "网上报修单 {number}（{kind_name}）已转交贵中心，收到时间 {received_at}。"
        "请在 1 小时内受理并安排服务。产品：{product_line} {model}；故障：{fault}。",
    ),
    "ticket_registered": (
        "【新服务单】{number}",
        "服务单 {number}（{kind_name}）已登记，收到时间 {received_at}，上门期限 {onsite_due}。",
    ),
    "job_assigned": (
        "【派工通知】服务单 {ticket_ref}",
        "贵网点有新的上门任务：服务单 {ticket_ref}，预计到达 {planned_arrival}，产品线 {product_line}。",
    ),
    "visit_scheduled": (
        "【上门预约】",
        "尊敬的客户，您的服务已安排，工程师预计于 {planned_arrival} 上门，请保持电话畅通。",
    ),
    "job_changed": (
        "【派工变更】服务单 {ticket_ref}",
        "贵网点服务单 {ticket_ref} 的上门任务已调整：预计到达改为 {planned_arrival}，产品线 {product_line}。",
    ),
    "visit_changed": (
        "【上门时间变更】",
        "尊敬的客户，您的上门服务时间已调整，工程师预计于 {planned_arrival} 上门，给您带来不便敬请谅解。",
    ),
    "sla_breached": (
        "【超时警告】{number} {sla_name}超时",
        "服务单 {number} 的{sla_name}期限 {due_at} 已过（发现于 {detected_at}），请立即处理。",
    ),
    "sla_at_risk": (
        "【时效预警】{number} {sla_name}即将超时",
        "服务单 {number} 的{sla_name}期限 {due_at} 即将到期（时限已过 {share_pct}，发现于 {detected_at}），"
        "请尽快处理，避免超时。",
    ),
    "callback_due": (
        "【回访提醒】服务单 {number}",
        "服务单 {number} 的{purpose_name}应于 {due_at} 前完成，请按时回访客户并做好回访记录。",
    ),
    "escalated_manager": (
        "【重大问题升级】{number} 请{manager_name}确认",
        "{manager_name}：服务单 {number} 因{reason_name}已升级至您（{level_name}）。"
        "请于 {ack_due} 前登录门户确认升级，并指定专人跟踪到底；逾期未确认将升级至上一级。",
    ),
    "escalated": (
        "【升级通知】{number}（{level_name}）",
        "服务单 {number} 因{reason_name}已升级至{level_name}。请指定专人跟进到底。",
    ),
    "certificate_expiring": (
        "【证书到期提醒】技术员 {technician_id}",
        "技术员 {technician_id} 的{product_line}培训合格证将于 {valid_until} 到期，请安排复训考核。",
    ),
    "statement_issued": (
        "【结算单】{outlet_prefix}{month_name}结算单已出",
        "{outlet_label} {month_name}结算单已出具，合计 {total} 元，请登录门户核对。",
    ),
}


def local_text(value: Any) -> str:
    """A time as people read it: Beijing time, to the minute; a date as it is; blank as 未定."""
    if value is None or value == "":
        return "未定"
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.strftime("%Y-%m-%d %H:%M")
        return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") + "（北京时间）"
    return str(value)


SHORT_ID = 8  # a ticket id shown without its number: its first characters


def ticket_ref(payload: Mapping[str, Any]) -> str:
    """The ticket as people read it: its number (服务单号: a visit event's ``ticket_number``, an
    intake event's ``number``); from an older event without one, a short form of its id."""
    number = payload.get("ticket_number") or payload.get("number")
    if number:
        return str(number)
    ticket = str(payload.get("ticket_id") or "")
    return ticket[:SHORT_ID] if len(ticket) > SHORT_ID + 4 else (ticket or "—")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "—"


SUBJECT_MAX = 200  # the column's width: a long field in an event never fails the notice


def render(kind: str, payload: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of notice `kind` for `payload`; times in Beijing time, missing fields as —."""
    subject, body = TEMPLATES[kind]
    values = _Blank()
    for key, value in payload.items():
        if key in ("received_at", "onsite_due", "planned_arrival", "due_at", "detected_at", "at", "ack_due"):
            values[key] = local_text(value)
        elif value is None:
            values[key] = "—"
        else:
            values[key] = str(value)
    values["kind_name"] = KIND_NAMES.get(str(payload.get("kind")), str(payload.get("kind") or "—"))
    values["sla_name"] = SLA_NAMES.get(str(payload.get("sla")), str(payload.get("sla") or "—"))
    values["reason_name"] = reason_name(str(payload.get("reason") or ""))
    month = str(payload.get("month") or "")
    values["month_name"] = f"{month[:4]} 年 {int(month[5:7])} 月" if re.fullmatch(r"\d{4}-\d\d", month) else month
    level = str(payload.get("level") or "")
    values["level_name"] = LEVEL_NAMES.get(level, level or "—")  # a configured manager's level as written
    values["purpose_name"] = PURPOSE_NAMES.get(str(payload.get("purpose")), "回访")
    share = payload.get("share")
    values["share_pct"] = f"{float(share):.0%}" if isinstance(share, int | float) else "大部分"
    if not payload.get("number"):
        values["number"] = str(payload.get("ticket_id") or "—")
    values["ticket_ref"] = ticket_ref(payload)
    outlet_name = str(payload.get("outlet_name") or "").strip()
    values["outlet_prefix"] = f"{outlet_name} " if outlet_name else ""
    values["outlet_label"] = f"贵网点（{outlet_name}）" if outlet_name else "贵网点"
    return subject.format_map(values)[:SUBJECT_MAX], body.format_map(values)


# ---------------------------------------------------------------- recipients and preferences
@dataclass(frozen=True)
class Contact:
    """Who answers for an audience: e-mail addresses, phones, the channels they take
    (preferences: a channel switched off gives no notice) and their quiet hours."""

    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    channels: tuple[str, ...] = CHANNELS
    quiet_hours: str | None = None  # None: the default (NOTIFY_QUIET_HOURS)
    name: str = ""  # a person's title and name (a named manager): the e-mail goes to "name <address>"


@dataclass(frozen=True)
class Contacts:
    """NOTIFY_CONTACTS: ``{"centers": {tenant: contact}, "outlets": {outlet_id: contact},
    "hq": contact}``, a contact ``{"email": [...], "phone": [...], "channels": [...],
    "quiet_hours": "22:00-08:00"}``."""

    centers: Mapping[str, Contact] = field(default_factory=dict)
    outlets: Mapping[str, Contact] = field(default_factory=dict)
    hq: Contact = field(default_factory=Contact)
    people: Mapping[str, Contact] = field(default_factory=dict)  # by user: named managers (people.py)

    @classmethod
    def parse(cls, raw: Any) -> Contacts:
        """From the configuration (a mapping, or JSON text from the environment); ValueError
        naming the key that is wrong."""
        if raw in (None, ""):
            return cls()
        raw = json_setting(raw, "NOTIFY_CONTACTS")
        if not isinstance(raw, Mapping):
            raise ValueError("NOTIFY_CONTACTS must be a mapping with centers, outlets, hq")
        unknown = set(raw) - {"centers", "outlets", "hq"}
        if unknown:
            raise ValueError(f"NOTIFY_CONTACTS: unknown keys {sorted(unknown)}")
        return cls(
            centers=_contacts(raw.get("centers"), "centers"),
            outlets=_contacts(raw.get("outlets"), "outlets"),
            hq=_contact(raw.get("hq") or {}, "hq"),
        )

    def contact(self, audience: str, tenant_id: str, outlet_id: str | None) -> Contact:
        if audience == CENTER:
            return self.centers.get(tenant_id, Contact())
        if audience == OUTLET:
            return self.outlets.get(outlet_id or "", Contact())
        if audience == HQ:
            return self.hq
        if audience == USER:
            return self.people.get(outlet_id or "", Contact())
        return Contact()


def _contacts(raw: Any, where: str) -> dict[str, Contact]:
    if raw in (None, ""):
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"NOTIFY_CONTACTS.{where} must map an id to a contact")
    return {str(key): _contact(value, f"{where}.{key}") for key, value in raw.items()}


def _contact(raw: Any, where: str) -> Contact:
    if not isinstance(raw, Mapping):
        raise ValueError(f"NOTIFY_CONTACTS.{where} must be a mapping")
    unknown = set(raw) - {"email", "phone", "channels", "quiet_hours"}
    if unknown:
        raise ValueError(f"NOTIFY_CONTACTS.{where}: unknown keys {sorted(unknown)}")

    def listed(key: str) -> tuple[str, ...]:
        value = raw.get(key) or ()
        items = (value,) if isinstance(value, str) else tuple(value)
        return tuple(str(item).strip() for item in items if str(item).strip())

    channels = listed("channels") if "channels" in raw else CHANNELS
    wrong = [c for c in channels if c not in CHANNELS]
    if wrong:
        raise ValueError(f"NOTIFY_CONTACTS.{where}.channels: unknown {wrong}; one of {list(CHANNELS)}")
    quiet = raw.get("quiet_hours")
    if quiet:
        parse_quiet_hours(str(quiet), f"NOTIFY_CONTACTS.{where}.quiet_hours")
    return Contact(listed("email"), listed("phone"), channels, str(quiet) if quiet else None)


@dataclass(frozen=True)
class Planned:
    """One notice to record: audience, channel, address (or why there is none)."""

    kind: str
    audience: str
    audience_id: str
    channel: str
    address: str
    urgent: bool
    undeliverable: str | None = None  # the reason, when it cannot be sent

    @property
    def recipient(self) -> str:
        """With the event id and the channel, the notice's unique key (never sent twice)."""
        return f"{self.audience}:{self.audience_id}:{self.address}"


MASK_CHARS = "*＊xX•"
_PHONE = re.compile(r"^\+?\d{7,15}$")


def phone_problem(phone: str | None) -> str | None:
    """Why `phone` cannot take an SMS (None: it can): absent, masked (138****0000), malformed."""
    if not phone or not phone.strip():
        return "no phone number in the event"
    text = re.sub(r"[\s-]", "", phone)
    if any(ch in text for ch in MASK_CHARS):
        return f"the phone number is masked ({phone}): no SMS to a masked number"
    if not _PHONE.match(text):
        return f"not a phone number: {phone!r}"
    return None


def plan(rules: list[NoticeRule], payload: Mapping[str, Any], contacts: Contacts) -> list[Planned]:
    """The notices `rules` give for `payload`: one per address per channel the audience takes.
    A channel the audience takes but has no address for is one undeliverable notice saying so."""
    tenant = str(payload.get("tenant_id") or "")
    planned: list[Planned] = []
    for rule in rules:
        outlet = payload.get("outlet_id") or payload.get("assigned_outlet_id")
        audience_id = {
            CENTER: tenant,
            OUTLET: str(outlet or ""),
            HQ: "hq",
            CUSTOMER: str(payload.get("ticket_id")),
            USER: str(payload.get("manager") or ""),
        }[rule.audience]
        if rule.audience == CUSTOMER:
            phone = payload.get("customer_phone")
            problem = phone_problem(phone)
            address = (phone or "").strip()[:64]  # a phone, or what the event wrongly calls one
            planned.append(Planned(rule.kind, CUSTOMER, audience_id, SMS, address, rule.urgent, problem))
            continue
        contact = contacts.contact(rule.audience, tenant, audience_id)
        for channel in rule.channels:
            if channel not in contact.channels:
                continue  # switched off by the audience's preferences
            if channel == INBOX:
                planned.append(Planned(rule.kind, rule.audience, audience_id, INBOX, "", rule.urgent))
                continue
            addresses = contact.emails if channel == EMAIL else contact.phones
            if not addresses:
                what = "e-mail address" if channel == EMAIL else "phone"
                reason = f"no {what} configured for {rule.audience} {audience_id}"
                planned.append(Planned(rule.kind, rule.audience, audience_id, channel, "", rule.urgent, reason))
            for address in addresses:
                problem = phone_problem(address) if channel == SMS else None
                if channel == EMAIL and contact.name:
                    address = f"{contact.name} <{address}>"
                planned.append(Planned(rule.kind, rule.audience, audience_id, channel, address, rule.urgent, problem))
    return planned


# a re-planned visit is news for people when the arrival moves by this much (or its outlet changes)
VISIT_CHANGE_MINUTES = 30
CHANGED_KINDS = {"job_assigned": "job_changed", "visit_scheduled": "visit_changed"}


def topic_of(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """What a notice is about, when later facts may tell of it again (a visit re-planned)."""
    if event_type == "visit.scheduled" and payload.get("visit_id"):
        return f"visit:{payload['visit_id']}"[:64]
    return None


def replan_kind(
    kind: str, told: bool, told_at: datetime | None, arrival: datetime | None, minutes: float
) -> str | None:
    """The kind of notice a re-planned visit gives a recipient: `kind` if never `told` of it;
    none when the arrival moved by less than `minutes` from the one last told (`told_at`; a
    re-plan that only reorders a route is not news); else the change notice."""
    if not told:
        return kind
    if arrival is not None and told_at is not None and abs((arrival - told_at).total_seconds()) < minutes * 60:
        return None
    return CHANGED_KINDS.get(kind, kind)


def event_key(event_type: str, event_id: str | None, payload: Mapping[str, Any]) -> str:
    """The id that makes a notice unique per event: the message id, else a digest of the fact."""
    if event_id:
        return str(event_id)[:64]
    text = json.dumps({"type": event_type, "payload": payload}, sort_keys=True, default=str)
    return "sha-" + hashlib.sha256(text.encode()).hexdigest()[:60]


# ---------------------------------------------------------------- quiet hours and retries
def parse_quiet_hours(text: str, where: str = "NOTIFY_QUIET_HOURS") -> tuple[time, time] | None:
    """ "22:00-08:00" → (22:00, 08:00); "" or "off" → None; ValueError naming `where` otherwise."""
    text = (text or "").strip()
    if text.lower() in ("", "off", "none"):
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not HH:MM-HH:MM") from None
    if start == end:
        raise ValueError(f"{where}: {text!r} starts and ends at the same time")
    return start, end


def not_before(now: datetime, quiet: tuple[time, time] | None, urgent: bool, channel: str) -> datetime:
    """When a notice may go out: at once if urgent, into the inbox, or outside quiet hours;
    otherwise when the quiet hours end (local time, Asia/Shanghai), returned in UTC."""
    if urgent or quiet is None or channel == INBOX:
        return now
    start, end = quiet
    local = now.astimezone(LOCAL_TZ)
    clock = local.time()
    over_midnight = start > end
    inside = (clock >= start or clock < end) if over_midnight else (start <= clock < end)
    if not inside:
        return now
    day = local.date()
    if over_midnight and clock >= start:
        day += timedelta(days=1)
    return datetime.combine(day, end, LOCAL_TZ).astimezone(now.tzinfo)


def retry_at(
    attempts: int, now: datetime, base: float = RETRY_BASE_SECONDS, cap: float = RETRY_MAX_SECONDS
) -> datetime:
    """After the `attempts`-th failed attempt: now + base·2^(attempts-1), at most `cap` seconds."""
    return now + timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def after_failure(attempts: int, max_attempts: int) -> str:
    """The status of a notice whose `attempts`-th attempt failed: pending again, or failed."""
    return FAILED if attempts >= max_attempts else PENDING


def inbox_audience(role: str) -> str | None:
    """Whose inbox a signed-in role reads (None: it has none)."""
    return {"center": CENTER, "outlet": OUTLET, "hq": HQ}.get(role)
