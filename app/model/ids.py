"""Identifiers in Matrix terms, the special thread ID of the main timeline, and what a
well-formed identifier looks like.

The shape checks are the one definition of a valid ID: the sync translation applies
them to everything a server sends, and the command line and the config to what a person
types. Each takes any object (wire JSON can hold anything) and accepts only a ``str`` of
at most ``ID_MAX_CHARS`` printable characters without spaces, with the sigil the spec
gives its kind. They run for every event of a sync, so each is one short expression.
"""

from __future__ import annotations

from typing import Final, TypeAlias

RoomId: TypeAlias = str
EventId: TypeAlias = str
UserId: TypeAlias = str
# A thread is named by its root's event ID, or MAIN for the main timeline.
ThreadId: TypeAlias = str

MAIN: Final = "main"

# Matrix caps identifiers at 255 bytes; anything longer is not an ID. (``isprintable``
# already refuses every whitespace character but the plain space, hence the " " test.)
ID_MAX_CHARS: Final = 255


def is_event_id(value: object) -> bool:
    """``$`` and an opaque part: ``$abc``."""
    return (
        type(value) is str
        and 1 < len(value) <= ID_MAX_CHARS
        and value[0] == "$"
        and value.isprintable()
        and " " not in value
    )


def is_user_id(value: object) -> bool:
    """``@localpart:server``."""
    return (
        type(value) is str
        and 3 < len(value) <= ID_MAX_CHARS
        and value[0] == "@"
        and ":" in value
        and value.isprintable()
        and " " not in value
    )


def is_room_id(value: object) -> bool:
    """``!opaque:server``, or ``!opaque`` alone: room version 12 IDs have no server part."""
    return (
        type(value) is str
        and 1 < len(value) <= ID_MAX_CHARS
        and value[0] == "!"
        and value.isprintable()
        and " " not in value
    )


def is_room_alias(value: object) -> bool:
    """``#name:server``."""
    return (
        type(value) is str
        and 3 < len(value) <= ID_MAX_CHARS
        and value[0] == "#"
        and ":" in value
        and value.isprintable()
        and " " not in value
    )


def is_token(value: object) -> bool:
    """An event type, relation type or other protocol name: the same bounds as an ID,
    without a sigil."""
    return type(value) is str and 0 < len(value) <= ID_MAX_CHARS and value.isprintable() and " " not in value
