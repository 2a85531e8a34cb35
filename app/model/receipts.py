"""Read receipts keyed exactly as the spec says: (user, receipt type, thread or unthreaded)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Final

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


class _ReceiptKeyFields:
    """``ReceiptKey``'s slots, in its layout, with plain stores; it becomes a
    ``ReceiptKey`` once they are set (as ``events.new_event`` does for events)."""

    __slots__ = ReceiptKey.__slots__

    def __init__(self, user_id: UserId, receipt_type: ReceiptType, thread_id: ThreadId | None) -> None:
        self.user_id = user_id
        self.receipt_type = receipt_type
        self.thread_id = thread_id
        self.__class__ = ReceiptKey  # type: ignore[assignment]


class _ReceiptFields:
    __slots__ = Receipt.__slots__

    def __init__(self, event_id: EventId, ts: int) -> None:
        self.event_id = event_id
        self.ts = ts
        self.__class__ = Receipt  # type: ignore[assignment]


# ``ReceiptKey(user, type, thread)`` and ``Receipt(event_id, ts)``, positional and
# complete, in about a third of the frozen dataclasses' time (their generated
# ``__init__`` sets each field through ``object.__setattr__``): for the sync's and the
# cache's receipts, one of each per receipt. A test holds them equal to the classes'.
new_receipt_key: Final[Callable[[UserId, ReceiptType, ThreadId | None], ReceiptKey]] = _ReceiptKeyFields  # type: ignore[assignment]
new_receipt: Final[Callable[[EventId, int], Receipt]] = _ReceiptFields  # type: ignore[assignment]
