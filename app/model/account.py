"""The whole account's read state: every room, and the triage order across rooms.

The triage queue is what ``n``/``N`` walk: each (room, thread) with unread messages, in
the order the rooms pane shows the rooms, MAIN first then threads by latest activity.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain

from app.model.ids import MAIN, RoomId, ThreadId, UserId
from app.model.push import PushRuleset
from app.model.room import RoomState
from app.model.summary import RoomSort, summarize, summary_sort_key
from app.model.unread import room_unread, threads_unread


class RoomMap(dict):
    """An account's rooms, a dict that knows which rooms changed since the few maps it
    was made from: a view of the rooms that has seen an earlier map asks
    ``touched_since`` and looks at those rooms only, instead of comparing every room of
    a 10,000-room account per key. Each older map is held weakly (by whoever still
    looks at it), so the history costs no memory; a plain dict (the cache's load, a
    copy) knows nothing, and the caller compares everything, as before."""

    __slots__ = ("_history", "__weakref__")
    # How many earlier maps each remembers (a few changes between two frames).
    DEPTH = 8

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self._history: tuple[tuple[weakref.ref, frozenset[RoomId]], ...] = ()

    def record(self, old: Mapping[RoomId, RoomState], touched: Iterable[RoomId]) -> RoomMap:
        """Say that this map is ``old`` (which it was copied from) but for the rooms in
        ``touched`` (changed, added or removed); returns self."""
        if not isinstance(old, RoomMap):
            self._history = ()
            return self
        ids = frozenset(touched)
        older = tuple((ref, since | ids) for ref, since in old._history[: self.DEPTH - 1])
        self._history = ((weakref.ref(old), ids), *older)
        return self

    def touched_since(self, old: Mapping[RoomId, RoomState]) -> frozenset[RoomId] | None:
        """The rooms that may differ between ``old`` and this map (a superset), or None
        when this map does not know ``old``."""
        if old is self:
            return frozenset()
        for ref, since in self._history:
            if ref() is old:
                return since
        return None


@dataclass(frozen=True, eq=False)
class AccountState:
    """Every room of one account, and the sync token they are up to date with."""

    user_id: UserId
    rooms: Mapping[RoomId, RoomState] = field(default_factory=dict)
    next_batch: str | None = None
    # The user's push rules (m.push_rules), merged with the spec's defaults; None until
    # the server sent them (the defaults apply meanwhile).
    push_rules: PushRuleset | None = None
    # Their account data as the server sent it, for the cache to keep.
    push_rules_json: str | None = None
    # The rooms the last ``m.direct`` named, joined or not: a room it names before the
    # user joins (another client wrote it first) is a DM from its join on. None until
    # the server sent ``m.direct``.
    direct_rooms: frozenset[RoomId] | None = None

    def with_room(self, room: RoomState) -> AccountState:
        rooms = RoomMap(self.rooms)
        rooms[room.room_id] = room
        return replace(self, rooms=rooms.record(self.rooms, (room.room_id,)))

    def with_rooms(self, changed: Sequence[RoomState], next_batch: str | None = None) -> AccountState:
        rooms = RoomMap(self.rooms)
        for room in changed:
            rooms[room.room_id] = room
        return replace(self, rooms=rooms.record(self.rooms, (room.room_id for room in changed)),
                       next_batch=next_batch if next_batch is not None else self.next_batch)

    def room(self, room_id: RoomId) -> RoomState:
        existing = self.rooms.get(room_id)
        return existing if existing is not None else RoomState(room_id, self.user_id)


def room_sort_key(room: RoomState, sort: RoomSort) -> tuple:
    """The rooms pane's order: see ``summary_sort_key``."""
    return summary_sort_key(summarize(room), sort)


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
    """The next (or previous) unread thread after ``current`` among ``rooms`` in their
    order: ``next_unread_in`` over their IDs."""
    return next_unread_in([room.room_id for room in rooms], {room.room_id: room for room in rooms}, current,
                          backwards=backwards)


def next_unread_in(
    order: Sequence[RoomId],
    rooms: Mapping[RoomId, RoomState],
    current: tuple[RoomId, ThreadId] | None,
    *,
    backwards: bool = False,
) -> tuple[RoomId, ThreadId] | None:
    """The next (or previous) unread thread after ``current``, the rooms walked in
    ``order`` (each looked up in ``rooms``), wrapping around; never ``current`` itself
    unless it is the only one. None when nothing is unread.

    The result is that of walking ``triage_queue``, but rooms are visited outwards
    from ``current`` and the walk stops at the first unread thread: a press costs the
    rooms it passes, not every thread of the account (nor a list of every room), and a
    room with nothing unread costs one memoised count."""
    if not order:
        return None
    step = -1 if backwards else 1
    here = None
    if current is not None and current[0] in rooms:
        try:
            here = order.index(current[0])
        except ValueError:
            here = None
    threads_here = triage_threads(rooms[order[here]]) if here is not None else []
    if here is None or current[1] not in threads_here:  # type: ignore[index]
        # Not in the walk: the first (last) unread thread of all.
        ends = range(len(order)) if step > 0 else range(len(order) - 1, -1, -1)
        return _first_unread(order, rooms, ends, step)
    room = rooms[order[here]]
    at = threads_here.index(current[1])  # type: ignore[index]
    # The rest of the current room, then the rooms after it, then around from the start.
    rest = threads_here[at + 1 :] if step > 0 else threads_here[:at][::-1]
    found = _unread_among(room, rest)
    if found is not None:
        return found
    onwards = range(here + 1, len(order)) if step > 0 else range(here - 1, -1, -1)
    around = range(0, here) if step > 0 else range(len(order) - 1, here, -1)
    found = _first_unread(order, rooms, chain(onwards, around), step)
    if found is not None:
        return found
    # Back in the current room: its threads up to current, current included.
    again = threads_here[: at + 1] if step > 0 else threads_here[at:][::-1]
    return _unread_among(room, again)


def _first_unread(
    order: Sequence[RoomId], rooms: Mapping[RoomId, RoomState], indices: Iterable[int], step: int
) -> tuple[RoomId, ThreadId] | None:
    for index in indices:
        room = rooms.get(order[index])
        if room is None or room_unread(room).unread == 0:
            continue
        threads = triage_threads(room)
        found = _unread_among(room, threads if step > 0 else threads[::-1])
        if found is not None:
            return found
    return None


def _unread_among(room: RoomState, threads: Iterable[ThreadId]) -> tuple[RoomId, ThreadId] | None:
    counts = threads_unread(room)
    for thread in threads:
        unread = counts.get(thread)
        if unread is not None and unread.has_unread:
            return (room.room_id, thread)
    return None
