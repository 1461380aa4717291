"""The named people notices go to in person (通知到人): the managers of each center's escalation
chain for major quality and safety issues (seeds 001, 004: 主管副总, 直至总经理), read from
COMPLAINT_ESCALATION by the one parser intake also uses (shared.escalation), so the manager intake
waits for is the one notify writes to, at the ``email`` and ``phone`` configured beside them.

Plain Python: the parsed chains as `domain.Contact` per user (the key of the ``user`` audience);
ValueError naming the key that is wrong (shared.escalation's).
"""

from __future__ import annotations

from typing import Any

from services.notify.domain import CHANNELS, Contact
from shared.escalation import EscalationChains


def managers(raw: Any) -> dict[str, Contact]:
    """Every named manager of every chain (the tenants' and the default), by user name; the e-mail
    goes to "title name <address>" (the name alone when no title is configured)."""
    return {
        user: Contact(
            manager.emails,
            manager.phones,
            CHANNELS,
            None,
            name=" ".join(part.strip() for part in (manager.title, manager.name)).strip(),
        )
        for user, manager in EscalationChains.parse(raw).by_user().items()
    }
