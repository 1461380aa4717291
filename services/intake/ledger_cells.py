"""The service ledger (服务信息台帐, seed 001) where a cell is more than a ticket's column: how the
ticket was served (服务方式) and the latest callback (回访记录). Plain Python, like `domain`.

The check-out (`facts.visit_completed`) records the on-site service, its content (服务内容) and
technician (服务人员); staff resolving or closing a ticket may say how it was served instead (by
phone, back to the factory, remotely); qa's ``callback.completed`` gives the callback's answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.intake.domain import LOCAL_TZ, Status
from shared.clock import as_utc

#: 上门 · 电话 · 返厂 · 远程
SERVICE_MODES = ("onsite", "phone", "factory", "remote")
#: the steps at which staff may say how a ticket was served
MODE_STEPS = ("resolve", "close", "close_case")


def mode_given(cmd: dict[str, Any]) -> dict[str, Any]:
    """The ticket's change when a resolve or close step says how it was served (the schema keeps
    the mode to those steps)."""
    mode = cmd.get("service_mode")
    return {"service_mode": mode} if mode and cmd["action"] in MODE_STEPS else {}


def service_mode(ticket: Any) -> str | None:
    """服务方式: as recorded (a check-out: on site; staff: as they said); a ticket resolved or closed
    with nobody on site was served by phone; an open or cancelled one not yet."""
    if ticket.service_mode:
        return str(ticket.service_mode)
    if ticket.status in (Status.RESOLVED, Status.CLOSED) and ticket.onsite_at is None:
        return "phone"
    return None


def callback_record(ticket: Any) -> str | None:
    """回访记录: the latest callback that reached the customer — when (local time), satisfaction,
    whether they were dissatisfied, what they said."""
    if ticket.callback_at is None:
        return None
    parts = [local_text(ticket.callback_at)]
    if ticket.callback_satisfaction is not None:
        parts.append(f"满意度 {ticket.callback_satisfaction}/5")
    parts.append("不满意" if ticket.callback_negative else "满意")
    if ticket.callback_comment:
        parts.append(ticket.callback_comment)
    return " · ".join(parts)


def local_text(at: datetime) -> str:
    """A stored time as the ledger shows it: local, to the minute."""
    return as_utc(at).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
