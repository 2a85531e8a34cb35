"""Reading single values out of wire JSON, shared by the sync translation's parts: text
made safe for one line (``clean_text``), display names, counts and timestamps, event
lists, and the per-sync tally of what was skipped.

Text from a server or from anybody in a room is sanitised before it is kept: C0/C1
control characters, lone surrogates and bidi overrides are removed, whitespace
(newlines included) is folded to single spaces, and the length is bounded.
"""

from __future__ import annotations

import math
from typing import Any, Final

from app.model.event_text import LINE_MAX_CHARS
from app.model.ids import is_user_id

# A one-line preview never needs more; longer bodies are cut with an ellipsis.
PREVIEW_MAX_CHARS: Final = LINE_MAX_CHARS
# Room names, aliases and display names.
NAME_MAX_CHARS: Final = 120


class Tally:
    """Per-sync bookkeeping: how much was skipped, the user IDs already validated
    (senders repeat a lot; checking each once is measurably cheaper, and keeping one
    string object per user, not one per event, is lighter on memory), and the IDs of
    the events read so far, for relations and receipts to point at the same strings."""

    __slots__ = ("ids", "skipped", "users")

    def __init__(self) -> None:
        self.skipped = 0
        self.users: dict[str, str] = {}
        self.ids: dict[str, str] = {}

    def user(self, value: object) -> str | None:
        """``value`` if it is a user ID, as the one string object this sync keeps for it."""
        if type(value) is not str:
            return None
        known = self.users.get(value)
        if known is not None:
            return known
        if is_user_id(value):
            self.users[value] = value
            return value
        return None


def _removed_characters() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    for code in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)):
        table[code] = None
    # Whitespace controls become spaces (folded afterwards), so words do not run together.
    for code in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x85):
        table[code] = 0x20
    # Bidi embeddings, overrides and isolates can make text render as something else.
    for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A)):
        table[code] = None
    # Lone surrogates (JSON can carry them) cannot be encoded for a terminal.
    for code in range(0xD800, 0xE000):
        table[code] = None
    return table


_REMOVE: Final = _removed_characters()


def clean_text(value: object, limit: int = PREVIEW_MAX_CHARS) -> str:
    """One safe line of at most ``limit`` characters: controls removed, whitespace folded.
    Anything but a string is no text."""
    if type(value) is not str:
        return ""
    if len(value) <= limit and value.isprintable():
        return value
    # Bound the work on enormous bodies before the character passes.
    text = " ".join(value[: limit * 4 + 16].translate(_REMOVE).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_name(value: object) -> str | None:
    """A room name, alias or display name as kept: one safe line, None when empty."""
    text = clean_text(value, NAME_MAX_CHARS).strip()
    return text or None


def nonnegative(value: object) -> int:
    return value if type(value) is int and value > 0 else 0


def timestamp(value: object) -> int:
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return int(value)
    return 0


def events_of(container: object, tally: Tally) -> list[Any]:
    """``container["events"]`` when it is a list, else nothing."""
    if not isinstance(container, dict):
        if container is not None:
            tally.skipped += 1
        return []
    events = container.get("events")
    if isinstance(events, list):
        return events
    if events is not None:
        tally.skipped += 1
    return []
