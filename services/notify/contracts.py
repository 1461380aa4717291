"""What other packages may import of notify (the gateway): its request and answer schemas.
Nothing here reaches its models."""

from services.notify.preferences import CHANNEL_TITLES, KIND_TITLES
from services.notify.schemas import (
    InboxPage,
    InboxQuery,
    MarkAllReadBody,
    MarkedAllOut,
    NoticeOut,
    NoticePage,
    NoticeQuery,
    PreferencesBody,
    PreferencesOut,
)

__all__ = [
    "CHANNEL_TITLES",
    "KIND_TITLES",
    "InboxPage",
    "InboxQuery",
    "MarkAllReadBody",
    "MarkedAllOut",
    "NoticeOut",
    "NoticePage",
    "NoticeQuery",
    "PreferencesBody",
    "PreferencesOut",
]
