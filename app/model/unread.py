"""Unread counts per thread and per room, computed locally from loaded events and my
read positions, with the server's notification counts kept beside them.

A count is a *lower bound* when history is missing between my read position and the
latest event (a gap), unless the thread was loaded whole.

The cache stores each room's counts in its summary: a change to how they are counted
bumps ``app.model.summary.SUMMARY_VERSION``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.model.events import ALERT_HIGHLIGHT, ALERT_SILENT, TimelineEvent, counts_as_unread
from app.model.ids import MAIN, EventId, ThreadId
from app.model.room import RoomState, ServerCounts


@dataclass(frozen=True, slots=True)
class ThreadUnread:
    """One thread's unread messages as counted locally, the server's counts beside them."""

    thread_id: ThreadId
    unread: int
    lower_bound: bool
    server: ServerCounts
    # The first unread message, for jumping to it.
    first_unread: EventId | None = None
    # Of the unread messages: those the push rules, evaluated here, notify and highlight
    # for, and those still encrypted for want of a key.
    local_notifications: int = 0
    local_highlights: int = 0
    undecryptable: int = 0

    @property
    def has_unread(self) -> bool:
        return self.unread > 0

    def label(self) -> str:
        """``12``, ``20+`` for a lower bound, or ``""`` when nothing is unread."""
        if self.unread == 0:
            return "" if not self.lower_bound else "0+"
        return f"{self.unread}+" if self.lower_bound else str(self.unread)


@dataclass(frozen=True, slots=True)
class RoomUnread:
    """A room's counts over all its threads: what its row in the rooms pane shows."""

    unread: int
    lower_bound: bool
    notifications: int
    highlights: int
    unread_threads: int
    marked_unread: bool
    local_notifications: int = 0
    local_highlights: int = 0
    undecryptable: int = 0

    @property
    def has_unread(self) -> bool:
        return self.unread > 0 or self.marked_unread

    def label(self) -> str:
        if self.unread == 0:
            return ""
        return f"{self.unread}+" if self.lower_bound else str(self.unread)


def thread_unread(room: RoomState, thread_id: ThreadId) -> ThreadUnread:
    cached = _all_counts(room).get(thread_id)
    if cached is not None:
        return cached
    return ThreadUnread(thread_id, 0, False, _server(room, thread_id))


def threads_unread(room: RoomState) -> Mapping[ThreadId, ThreadUnread]:
    """Counts for MAIN and every thread that has a loaded event or a server count."""
    return _all_counts(room)


def room_unread(room: RoomState) -> RoomUnread:
    # Memoised like the thread counts: the rooms pane sorts every room by it on each
    # change, so it is asked for a thousand times per keypress.
    cached = room.__dict__.get("_room_unread")
    if cached is not None:
        return cached
    counts = _all_counts(room)
    unread = sum(c.unread for c in counts.values())
    lower = any(c.lower_bound for c in counts.values())
    threads = sum(1 for t, c in counts.items() if t != MAIN and c.unread > 0)
    notifications = room.server_main.notifications + sum(c.notifications for c in room.server_threads.values())
    highlights = room.server_main.highlights + sum(c.highlights for c in room.server_threads.values())
    result = RoomUnread(
        unread,
        lower,
        notifications,
        highlights,
        threads,
        room.marked_unread,
        sum(c.local_notifications for c in counts.values()),
        sum(c.local_highlights for c in counts.values()),
        sum(c.undecryptable for c in counts.values()),
    )
    room.__dict__["_room_unread"] = result
    return result


def is_read(room: RoomState, event_id: EventId) -> bool | None:
    """Whether I have read a loaded event (None when it is not loaded)."""
    position = room.index.get(event_id)
    if position is None:
        return None
    return position <= room.read_position(room.thread_of[event_id]).index


def _server(room: RoomState, thread_id: ThreadId) -> ServerCounts:
    if thread_id == MAIN:
        return room.server_main
    return room.server_threads.get(thread_id, ServerCounts())


def _all_counts(room: RoomState) -> Mapping[ThreadId, ThreadUnread]:
    # Memoised on the (frozen) state itself: computed once per state.
    cached = room.__dict__.get("_unread_counts")
    if cached is not None:
        return cached
    counts: dict[ThreadId, ThreadUnread] = {}
    for thread_id, positions in room.thread_positions.items():
        counts[thread_id] = _count(room, thread_id, positions)
    for thread_id in room.server_threads:
        if thread_id not in counts:
            counts[thread_id] = ThreadUnread(thread_id, 0, True, _server(room, thread_id))
    room.__dict__["_unread_counts"] = counts
    return counts


def _count(room: RoomState, thread_id: ThreadId, positions: tuple[int, ...]) -> ThreadUnread:
    read = room.read_position(thread_id)
    last_gap = room.last_gap
    complete = thread_id in room.complete_threads
    lower = read.index
    if read.unresolved and last_gap > lower:
        # A receipt points into missing history: all that is certain is that the events
        # after the latest gap are unread.
        lower = last_gap - 1
    lower_bound = last_gap > lower and (not complete or read.unresolved)
    me = room.me
    unread = notify = highlight = undecryptable = 0
    first: EventId | None = None
    events: tuple[TimelineEvent, ...] = room.events
    for position in positions:
        if position > lower:
            event = events[position]
            if counts_as_unread(event, me):
                unread += 1
                alert = event.alert
                if alert != ALERT_SILENT:
                    notify += 1
                    if alert == ALERT_HIGHLIGHT:
                        highlight += 1
                if event.undecryptable:
                    undecryptable += 1
                if first is None:
                    first = event.event_id
    return ThreadUnread(thread_id, unread, lower_bound, _server(room, thread_id), first, notify, highlight, undecryptable)
