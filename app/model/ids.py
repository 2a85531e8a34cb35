"""Identifiers in Matrix terms, and the special thread ID of the main timeline."""

from __future__ import annotations

from typing import Final, TypeAlias

RoomId: TypeAlias = str
EventId: TypeAlias = str
UserId: TypeAlias = str
# A thread is named by its root's event ID, or MAIN for the main timeline.
ThreadId: TypeAlias = str

MAIN: Final = "main"


def looks_like_room_id(value: str) -> bool:
    # Room versions 12 and later have IDs without a ":server" part.
    return value.startswith("!") and len(value) > 1 and not any(c.isspace() for c in value)


def looks_like_alias(value: str) -> bool:
    return value.startswith("#") and ":" in value and len(value) > 3


def looks_like_event_id(value: str) -> bool:
    return value.startswith("$") and len(value) > 1 and not any(c.isspace() for c in value)


def looks_like_user_id(value: str) -> bool:
    return value.startswith("@") and ":" in value and len(value) > 3
