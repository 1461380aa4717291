"""What other packages may import of notify (the gateway): its request and answer schemas.
Nothing here reaches its models."""

from services.notify.schemas import InboxPage, InboxQuery, NoticeOut, NoticePage, NoticeQuery

__all__ = ["InboxPage", "InboxQuery", "NoticeOut", "NoticePage", "NoticeQuery"]
