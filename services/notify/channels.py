"""The ways out: e-mail through an SMTP server (smtplib) and SMS through a provider's HTTP
interface (a JSON POST). Each raises `DeliveryError` with what went wrong; `NotConfigured` when
the channel has no server configured (the notice is then undeliverable, not retried)."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any


class DeliveryError(Exception):
    """A send that failed now and may succeed later (server down, refused, timed out)."""


class NotConfigured(DeliveryError):
    """The channel has no server configured: retrying will not help."""


def _cfg(config: dict[str, Any], key: str, default: Any = None) -> Any:
    value = config.get(key)
    return default if value in (None, "") else value


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpMailer:
    """NOTIFY_SMTP_HOST, NOTIFY_SMTP_PORT (25), NOTIFY_SMTP_USER / NOTIFY_SMTP_PASSWORD (login when
    a user is set), NOTIFY_SMTP_FROM, NOTIFY_SMTP_STARTTLS (upgrade the connection first)."""

    host: str | None
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "fieldservice@localhost"
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SmtpMailer:
        return cls(
            host=_cfg(config, "NOTIFY_SMTP_HOST"),
            port=int(_cfg(config, "NOTIFY_SMTP_PORT", 25)),
            user=_cfg(config, "NOTIFY_SMTP_USER"),
            password=_cfg(config, "NOTIFY_SMTP_PASSWORD"),
            sender=str(_cfg(config, "NOTIFY_SMTP_FROM", "fieldservice@localhost")),
            starttls=_flag(_cfg(config, "NOTIFY_SMTP_STARTTLS", "false")),
            timeout=float(_cfg(config, "NOTIFY_SEND_TIMEOUT_SECONDS", 10)),
        )

    def send(self, to: str, subject: str, body: str) -> None:
        if not self.host:
            raise NotConfigured("no SMTP server configured (NOTIFY_SMTP_HOST)")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="fieldservice")
        message.set_content(body, charset="utf-8")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password or "")
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class HttpSms:
    """The SMS provider adapter: POST ``{"to": phone, "text": text, "sender": name}`` as JSON to
    NOTIFY_SMS_URL (with ``Authorization: Bearer NOTIFY_SMS_TOKEN`` if set); a 2xx answer is sent."""

    url: str | None
    token: str | None = None
    sender: str = "售后服务"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> HttpSms:
        return cls(
            url=_cfg(config, "NOTIFY_SMS_URL"),
            token=_cfg(config, "NOTIFY_SMS_TOKEN"),
            sender=str(_cfg(config, "NOTIFY_SMS_SENDER", "售后服务")),
            timeout=float(_cfg(config, "NOTIFY_SEND_TIMEOUT_SECONDS", 10)),
        )

    def send(self, to: str, text: str) -> None:
        if not self.url:
            raise NotConfigured("no SMS provider configured (NOTIFY_SMS_URL)")
        data = json.dumps({"to": to, "text": text, "sender": self.sender}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"SMS provider answered {exc.code}: {exc.read()[:200]!r}") from exc
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"SMS provider {self.url}: {type(exc).__name__}: {exc}") from exc
