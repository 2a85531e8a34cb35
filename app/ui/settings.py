"""The receipt type a key sends in a room: the session mode, unless ``room_modes`` in
the settings pins the room. ``Settings`` itself is ``app.config``'s."""

from __future__ import annotations

from app.config import Settings
from app.model.ids import RoomId
from app.model.receipts import ReceiptType


def room_mode(settings: Settings, session_mode: ReceiptType, room_id: RoomId | None) -> tuple[ReceiptType, bool]:
    """The receipt type for ``room_id``, and whether a per-room setting chose it.

    A room listed in ``room_modes`` keeps its configured type whatever the session mode
    is (``p`` toggles the session mode): the user pinned it on purpose.
    """
    if room_id is not None:
        pinned = settings.room_modes.get(room_id)
        if pinned is not None:
            return ReceiptType(pinned), True
    return session_mode, False


__all__ = ["Settings", "room_mode"]
