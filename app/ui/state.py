"""What the main screen is looking at, as small frozen values the panes are bound to."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.model.account import RoomSort
from app.model.ids import MAIN, RoomId, ThreadId
from app.model.receipts import ReceiptType


@dataclass(frozen=True, slots=True)
class Selection:
    """The room and thread the panes show."""

    room_id: RoomId
    thread_id: ThreadId = MAIN


@dataclass(frozen=True, slots=True)
class View:
    """How the lists are filtered and drawn."""

    sort: RoomSort = RoomSort.ACTIVITY
    unread_only: bool = False
    name_filter: str = ""
    glyphs: bool = True
    # Rooms under their spaces, then direct messages, then the rest; else a flat list.
    grouped: bool = True

    def with_(self, **changes: object) -> View:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ModeState:
    """The receipt type keys send in the selected room, and why."""

    receipt_type: ReceiptType = ReceiptType.PRIVATE
    # A per-room setting chose it, not the session mode.
    pinned: bool = False
    # False when the server cannot take private receipts (no fallback to public).
    private_supported: bool = True
    # False in a room whose policy is "none": read keys send no receipt there.
    sends: bool = True
    # What decided: "default", "session", "this room", "pinned in config", "rule: dm"...
    rule: str = "default"

    @property
    def can_send(self) -> bool:
        return self.sends and (self.receipt_type is ReceiptType.PUBLIC or self.private_supported)

    @property
    def word(self) -> str:
        """``PRIVATE``, ``PUBLIC`` or ``NONE``, then what decided unless it is the
        session mode (the default, or ``p``): ``PRIVATE · rule: dm``, ``NONE · this room``."""
        word = "NONE" if not self.sends else self.receipt_type.label.upper()
        return word if self.rule in ("default", "session") else f"{word} · {self.rule}"


@dataclass(frozen=True, slots=True)
class LastAction:
    """The status line's account of what the last key did."""

    text: str = ""
    # "sent", "settled", "failed", "refused", "info"
    outcome: str = "info"
