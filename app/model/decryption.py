"""Which encrypted events to decrypt: only what the counts and the screen need.

A Megolm decryption costs some tens of microseconds, a ``json.loads`` of the plaintext a
few: decrypting every event ever seen would be most of a start. The counts need the
unread events (a mention among them is a highlight), the thread list needs each thread's
root (its title), and both need the edits of those (their newest text). What the
timeline shows of a thread is decrypted when the thread is looked at (``in_thread``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from app.model.events import REL_REPLACE, TimelineEvent, Undecryptable, is_undecrypted
from app.model.ids import MAIN, ThreadId
from app.model.room import RoomState

# Worth trying again once the key arrives (or the sender sends it after all).
RETRYABLE = frozenset(
    {Undecryptable.NO_KEY.value, Undecryptable.UNKNOWN_INDEX.value, Undecryptable.NO_STORE.value}
)


def untried(event: TimelineEvent) -> bool:
    return is_undecrypted(event) and not event.undecryptable


def wanted(room: RoomState) -> list[int]:
    """Positions of the encrypted events not yet tried that the counts or the thread
    list need: unread ones, thread roots, and edits of either."""
    events = room.events
    if not any(untried(event) for event in events):
        return []
    thread_of = room.thread_of
    roots = {thread for thread in room.thread_positions if thread != MAIN}
    read: dict[ThreadId, int] = {}
    needed: set[str] = set(roots)
    positions: list[int] = []
    for position, event in enumerate(events):
        thread = thread_of[event.event_id]
        if thread not in read:
            read[thread] = room.read_position(thread).index
        unread = position > read[thread] and event.sender != room.me
        edit_of_needed = event.rel_type == REL_REPLACE and event.relates_to in needed
        if unread or event.event_id in roots or edit_of_needed:
            needed.add(event.event_id)
            if untried(event):
                positions.append(position)
    return positions


def in_thread(room: RoomState, thread_id: ThreadId) -> list[int]:
    """Positions of the encrypted events not yet tried in one thread (its root too)."""
    thread_of = room.thread_of
    return [
        position
        for position, event in enumerate(room.events)
        if untried(event) and (thread_of[event.event_id] == thread_id or event.event_id == thread_id)
    ]


def waiting_for(room: RoomState, session_ids: Iterable[str]) -> list[int]:
    """Positions of the events that could not be decrypted for want of a key of one of
    ``session_ids`` (it arrived, or was withheld after all)."""
    sessions = set(session_ids)
    found = []
    for position, event in enumerate(room.events):
        if not (is_undecrypted(event) and event.undecryptable):
            continue
        if event.undecryptable not in RETRYABLE and not event.undecryptable.startswith(Undecryptable.WITHHELD.value):
            continue
        if session_of(event) in sessions:
            found.append(position)
    return found


def session_of(event: TimelineEvent) -> str | None:
    """The Megolm session an encrypted event was encrypted with."""
    if event.ciphertext is None:
        return None
    try:
        session = json.loads(event.ciphertext).get("session_id")
    except (ValueError, AttributeError):
        return None
    return session if isinstance(session, str) else None
