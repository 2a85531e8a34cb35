"""The whole account's read state: every room, and the triage order across rooms.

The triage queue is what ``n``/``N`` walk: each (room, thread) with unread messages, in
the order the rooms pane shows the rooms, MAIN first then threads by latest activity.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from app.model.ids import MAIN, RoomId, ThreadId, UserId
from app.model.room import RoomState
from app.model.unread import room_unread, threads_unread


class RoomSort(str, Enum):
    ACTIVITY = "activity"
    UNREAD = "unread"
    NAME = "name"

    def next(self) -> RoomSort:
        members = list(RoomSort)
        return members[(members.index(self) + 1) % len(members)]


@dataclass(frozen=True, eq=False)
class AccountState:
    user_id: UserId
    rooms: Mapping[RoomId, RoomState] = field(default_factory=dict)
    next_batch: str | None = None

    def with_room(self, room: RoomState) -> AccountState:
        rooms = dict(self.rooms)
        rooms[room.room_id] = room
        return replace(self, rooms=rooms)

    def with_rooms(self, changed: Sequence[RoomState], next_batch: str | None = None) -> AccountState:
        rooms = dict(self.rooms)
        for room in changed:
            rooms[room.room_id] = room
        return replace(self, rooms=rooms, next_batch=next_batch if next_batch is not None else self.next_batch)

    def room(self, room_id: RoomId) -> RoomState:
        existing = self.rooms.get(room_id)
        return existing if existing is not None else RoomState(room_id, self.user_id)


def room_sort_key(room: RoomState, sort: RoomSort) -> tuple:
    """Highlights first, then unread, then latest activity (the default ACTIVITY sort);
    UNREAD puts the unread count first; NAME is alphabetical."""
    name = (room.name or room.name_inputs.display_name(room.room_id, room.member_names)).casefold()
    if sort is RoomSort.NAME:
        return (name, room.room_id)
    counts = room_unread(room)
    if sort is RoomSort.UNREAD:
        return (-counts.unread, -counts.highlights, -room.latest_ts, name)
    return (-counts.highlights, -int(counts.has_unread), -room.latest_ts, name)


def sorted_rooms(account: AccountState, sort: RoomSort = RoomSort.ACTIVITY) -> list[RoomState]:
    joined = [room for room in account.rooms.values() if room.membership == "join"]
    return sorted(joined, key=lambda room: room_sort_key(room, sort))


def sorted_threads(room: RoomState) -> list[ThreadId]:
    """MAIN first, then threads with unread, then the rest, each by latest activity."""
    counts = threads_unread(room)
    others = [t for t in room.thread_ids if t != MAIN]
    for thread in counts:
        if thread != MAIN and thread not in others:
            others.append(thread)

    def key(thread: ThreadId) -> tuple:
        latest = room.latest_event(thread)
        unread = counts.get(thread)
        return (not (unread is not None and unread.has_unread), -(latest.ts if latest else 0), thread)

    return [MAIN] + sorted(others, key=key)


def triage_threads(room: RoomState) -> list[ThreadId]:
    """The order ``n`` walks a room's threads: MAIN, then by latest activity. Unlike the
    threads pane it does not put unread first, so reading a thread does not move it and
    ``n`` never skips one."""
    others = [t for t in room.thread_ids if t != MAIN]
    others += [t for t in room.server_threads if t != MAIN and t not in room.thread_positions]

    def key(thread: ThreadId) -> tuple:
        latest = room.latest_event(thread)
        return (-(latest.ts if latest else 0), thread)

    return [MAIN] + sorted(others, key=key)


def triage_queue(rooms: Sequence[RoomState]) -> list[tuple[RoomId, ThreadId]]:
    """Every (room, thread) with unread messages, rooms in the given order."""
    queue: list[tuple[RoomId, ThreadId]] = []
    for room in rooms:
        counts = threads_unread(room)
        for thread in triage_threads(room):
            unread = counts.get(thread)
            if unread is not None and unread.has_unread:
                queue.append((room.room_id, thread))
    return queue


def next_unread(
    rooms: Sequence[RoomState],
    current: tuple[RoomId, ThreadId] | None,
    *,
    backwards: bool = False,
) -> tuple[RoomId, ThreadId] | None:
    """The next (or previous) unread thread after ``current``, wrapping around; never
    ``current`` itself unless it is the only one. None when nothing is unread."""
    queue = triage_queue(rooms)
    if not queue:
        return None
    order = [(room.room_id, thread) for room in rooms for thread in triage_threads(room)]
    if current is None or current not in order:
        return queue[-1] if backwards else queue[0]
    rank = {item: i for i, item in enumerate(order)}
    here = rank[current]
    if backwards:
        before = [item for item in queue if rank[item] < here]
        return before[-1] if before else queue[-1]
    after = [item for item in queue if rank[item] > here]
    return after[0] if after else queue[0]
