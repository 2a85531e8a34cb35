"""Read receipts keyed exactly as the spec says: (user, receipt type, thread or unthreaded)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.model.ids import EventId, ThreadId, UserId


class ReceiptType(str, Enum):
    PUBLIC = "m.read"
    PRIVATE = "m.read.private"

    @property
    def label(self) -> str:
        return "public" if self is ReceiptType.PUBLIC else "private"


FULLY_READ = "m.fully_read"


@dataclass(frozen=True, slots=True)
class ReceiptKey:
    """``thread_id`` is None for an unthreaded receipt, MAIN or a root ID for a threaded one.

    An unthreaded receipt and a ``main`` receipt are different keys: they never replace
    each other.
    """

    user_id: UserId
    receipt_type: ReceiptType
    thread_id: ThreadId | None

    @property
    def is_threaded(self) -> bool:
        return self.thread_id is not None


@dataclass(frozen=True, slots=True)
class Receipt:
    """The event a receipt points at, and when it was sent (ms; 0 when unknown)."""

    event_id: EventId
    ts: int = 0
