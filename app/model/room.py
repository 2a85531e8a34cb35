"""One room's read state: its loaded events in room order, receipts, markers and counts.

``RoomState`` is frozen: every change returns a new state. Derived indexes (event
positions, thread membership, unread counts) are computed lazily, once per state.

Room order is the order the server's timeline gave. Events fetched out of band
(thread history from ``/relations``, roots from ``/threads``) are merged by
``origin_server_ts``. Where history is missing, a *gap* is recorded before the first
event that follows it, so counts can say when they are only a lower bound.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from typing import Final

from app.model.events import REL_THREAD, TimelineEvent, as_redacted
from app.model.ids import MAIN, EventId, RoomId, ThreadId, UserId
from app.model.names import NameInputs
from app.model.receipts import Receipt, ReceiptKey, ReceiptType

# Room account data readmark writes: {"mode": "public" | "private" | "none"}; any other
# content (``{}``) means the config's rules decide.
RECEIPT_POLICY_TYPE: Final = "org.readmark.receipt_policy"
RECEIPT_MODES: Final = ("public", "private", "none")
# ``m.room.create``'s ``type`` for a space-room.
SPACE_TYPE: Final = "m.space"
# How far the thread of a related event is looked for (the spec recommends 3 hops).
MAX_RELATION_HOPS = 3
# No receipt of mine in a thread: nothing read, nothing unresolved.
_NOTHING_READ = (-1, False)



@dataclass(frozen=True, slots=True)
class ServerCounts:
    """The server's ``notification_count`` and ``highlight_count`` for one thread."""

    notifications: int = 0
    highlights: int = 0


# Above any level a power-levels event can give (canonical JSON integers stop at 2**53).
CREATOR_LEVEL: Final = 2**53


@dataclass(frozen=True, slots=True)
class PowerLevels:
    """What readmark keeps of ``m.room.power_levels``: the level of a member without one
    of their own, the level that may notify the whole room, and the members above the
    default (a room's full list can be thousands long). From room version 12 the room's
    creators (``m.room.create``) stand above every level and are listed in none."""

    users_default: int = 0
    notify_room: int = 50
    elevated: Mapping[UserId, int] = field(default_factory=dict, hash=False, compare=True)
    creators: frozenset[UserId] = frozenset()
    # The level needed to send ``m.space.child`` (its ``events`` entry, else
    # ``state_default``, else the spec's 50): who may put a room into this space.
    space_child: int = 50

    def of(self, user_id: UserId) -> int:
        if user_id in self.creators:
            return CREATOR_LEVEL
        return self.elevated.get(user_id, self.users_default)


@dataclass(frozen=True, slots=True)
class SpaceChild:
    """A valid ``m.space.child`` in a space's state (one with a ``via`` list): the
    child's ``order`` when valid (spec: at most 50 characters in ``\\x20``-``\\x7E``),
    and the event's ``origin_server_ts``, which order the children without one."""

    order: str | None = None
    ts: int = 0


@dataclass(frozen=True, slots=True)
class SpaceParent:
    """A valid ``m.space.parent`` in a room's state: who sent it (the claim holds only
    if the parent lists the room, or its sender may add children there)."""

    sender: UserId = ""
    canonical: bool = False


@dataclass(frozen=True, slots=True)
class ReadPosition:
    """Where I have read up to in one thread, as an index in room order.

    ``index`` is -1 when nothing loaded is read. ``unresolved`` says that at least one
    of my receipts points at an event that is not loaded (it lies in a gap).
    """

    index: int
    unresolved: bool


@dataclass(frozen=True, eq=False)
class RoomState:
    """One room's read state; the functions below return changed copies of it."""

    room_id: RoomId
    me: UserId
    name: str = ""
    membership: str = "join"
    is_direct: bool = False
    events: tuple[TimelineEvent, ...] = ()
    # Events with missing history right before them.
    gaps_before: frozenset[EventId] = frozenset()
    # True when the first loaded event is the start of the room's history.
    history_complete: bool = False
    # Where the history missing before an event can be fetched from: the sync's
    # ``prev_batch``, or the ``end`` of the last page fetched (for ``/messages``).
    gap_tokens: Mapping[EventId, str] = field(default_factory=dict)
    # Threads whose every event is loaded (filled from /relations).
    complete_threads: frozenset[ThreadId] = frozenset()
    receipts: Mapping[ReceiptKey, Receipt] = field(default_factory=dict)
    # My receipts applied optimistically, not yet confirmed by the server.
    pending: Mapping[ReceiptKey, Receipt] = field(default_factory=dict)
    fully_read: EventId | None = None
    pending_fully_read: EventId | None = None
    server_main: ServerCounts = ServerCounts()
    server_threads: Mapping[ThreadId, ServerCounts] = field(default_factory=dict)
    marked_unread: bool = False
    # My account data holds the stable ``m.marked_unread`` for this room: Famedly's
    # unstable flag (``com.famedly.marked_unread``) no longer counts here, in a later
    # sync as in a fresh start's (whose one sync carries both, and the stable one wins).
    marked_unread_stable: bool = False
    name_inputs: NameInputs = NameInputs()
    # Display names of members seen in state (lazy-loaded: senders of loaded events).
    member_names: Mapping[UserId, str] = field(default_factory=dict)
    # m.room.encryption is in its state: its events come encrypted.
    encrypted: bool = False
    power: PowerLevels = PowerLevels()
    # ``m.room.create``'s ``type``: "m.space" for a space.
    room_type: str | None = None
    # A space's children (state key: the child room) and a room's claimed parents.
    space_children: Mapping[RoomId, SpaceChild] = field(default_factory=dict)
    space_parents: Mapping[RoomId, SpaceParent] = field(default_factory=dict)
    # ``m.room.join_rules``' ``join_rule`` and ``m.room.history_visibility``'s
    # ``history_visibility`` (None until the state says), for the receipt policy's
    # ``public`` and ``invite-only`` rules.
    join_rule: str | None = None
    history_visibility: str | None = None
    # The receipt mode set for this room from readmark (``public``, ``private``,
    # ``none``), kept in the room's account data (``RECEIPT_POLICY_TYPE``) so every
    # readmark of this user agrees; None: the config's rules decide.
    receipt_override: str | None = None

    # ---- derived indexes -------------------------------------------------

    @cached_property
    def index(self) -> Mapping[EventId, int]:
        return {event.event_id: i for i, event in enumerate(self.events)}

    @cached_property
    def thread_of(self) -> Mapping[EventId, ThreadId]:
        """The thread of every loaded event: a root ID, or MAIN."""
        by_id = {event.event_id: event for event in self.events}
        return {event.event_id: _resolve_thread(event, by_id) for event in self.events}

    @cached_property
    def thread_positions(self) -> Mapping[ThreadId, tuple[int, ...]]:
        """Positions (room order) of each thread's events; MAIN is always present."""
        grouped: dict[ThreadId, list[int]] = {MAIN: []}
        thread_of = self.thread_of
        for i, event in enumerate(self.events):
            grouped.setdefault(thread_of[event.event_id], []).append(i)
        return {thread: tuple(positions) for thread, positions in grouped.items()}

    @cached_property
    def last_gap(self) -> int:
        """Index of the latest event with missing history before it, or -1."""
        last = 0 if (self.events and not self.history_complete) else -1
        for event_id in self.gaps_before:
            position = self.index.get(event_id)
            if position is not None and position > last:
                last = position
        return last

    def position(self, event_id: EventId | None) -> int | None:
        if event_id is None:
            return None
        return self.index.get(event_id)

    def event(self, event_id: EventId) -> TimelineEvent | None:
        position = self.index.get(event_id)
        return None if position is None else self.events[position]

    @property
    def thread_ids(self) -> tuple[ThreadId, ...]:
        """MAIN first, then every thread with a loaded event, in order of first appearance."""
        return tuple(self.thread_positions)

    def my_receipt(self, receipt_type: ReceiptType, thread_id: ThreadId | None) -> Receipt | None:
        """My receipt for an exact key, the optimistic one if it is further ahead."""
        key = ReceiptKey(self.me, receipt_type, thread_id)
        return _further(self, self.receipts.get(key), self.pending.get(key))

    def read_position(self, thread_id: ThreadId) -> ReadPosition:
        """How far I have read in a thread: the furthest of my unthreaded and threaded
        receipts for it (public or private, confirmed or pending), and my own events in
        it (sending is reading, whatever the server's counts say)."""
        mine = self._my_read_by_thread
        best, unresolved = mine.get(None, _NOTHING_READ)
        threaded, threaded_unresolved = mine.get(thread_id, _NOTHING_READ)
        best = max(best, threaded)
        unresolved = unresolved or threaded_unresolved
        for position in reversed(self.thread_positions.get(thread_id, ())):
            if position <= best:
                break
            if self.events[position].sender == self.me:
                best = position
                break
        return ReadPosition(best, unresolved)

    @cached_property
    def _my_read_by_thread(self) -> Mapping[ThreadId | None, tuple[int, bool]]:
        """For each receipt thread (None: unthreaded) of my receipts: the furthest loaded
        position among them and whether one points at an event not loaded, each key's
        receipt chosen as ``my_receipt`` chooses it (confirmed or pending, the further).
        Worked out once per state: ``read_position`` is asked for every thread."""
        me = self.me
        result: dict[ThreadId | None, tuple[int, bool]] = {}
        keys = [key for key in self.receipts if key.user_id == me]
        keys += [key for key in self.pending if key.user_id == me and key not in self.receipts]
        for key in keys:
            receipt = _further(self, self.receipts.get(key), self.pending.get(key))
            assert receipt is not None
            best, unresolved = result.get(key.thread_id, _NOTHING_READ)
            position = self.index.get(receipt.event_id)
            if position is None:
                unresolved = True
            elif position > best:
                best = position
            result[key.thread_id] = (best, unresolved)
        return result

    def fully_read_event(self) -> EventId | None:
        """``m.fully_read`` (optimistic value first); when absent, my read receipt stands in."""
        candidates = [self.pending_fully_read, self.fully_read]
        known = [(self.index.get(e, -1), e) for e in candidates if e is not None]
        if known:
            return max(known)[1]
        return self.my_furthest_receipt(tuple(ReceiptType), (None, MAIN))

    def my_furthest_receipt(
        self, receipt_types: Iterable[ReceiptType], threads: Iterable[ThreadId | None]
    ) -> EventId | None:
        """The event of whichever of my receipts (of these types, for these thread keys)
        reaches furthest; one that is not loaded counts as behind every loaded one."""
        best: tuple[int, EventId] | None = None
        for receipt_type in receipt_types:
            for thread in threads:
                receipt = self.my_receipt(receipt_type, thread)
                if receipt is None:
                    continue
                candidate = (self.index.get(receipt.event_id, -1), receipt.event_id)
                if best is None or candidate > best:
                    best = candidate
        return None if best is None else best[1]

    def latest_event(self, thread_id: ThreadId | None = None) -> TimelineEvent | None:
        """The latest loaded event of a thread (of the whole room when None)."""
        if thread_id is None:
            return self.events[-1] if self.events else None
        positions = self.thread_positions.get(thread_id, ())
        return self.events[positions[-1]] if positions else None

    def latest_by_others(self, thread_id: ThreadId | None = None) -> TimelineEvent | None:
        """The latest loaded event by someone else: the default target of a receipt."""
        if thread_id is None:
            candidates: Iterable[int] = range(len(self.events) - 1, -1, -1)
        else:
            candidates = reversed(self.thread_positions.get(thread_id, ()))
        for position in candidates:
            event = self.events[position]
            if event.sender != self.me and event.state_key is None:
                return event
        return None

    @property
    def is_space(self) -> bool:
        return self.room_type == SPACE_TYPE

    def display_name_of(self, user_id: UserId) -> str:
        return self.member_names.get(user_id) or user_id

    @property
    def latest_ts(self) -> int:
        return self.events[-1].ts if self.events else 0


_ROOM_FIELDS: Final = tuple(f.name for f in fields(RoomState))
_ROOM_FIELD_SET: Final = frozenset(_ROOM_FIELDS)


def evolve(room: RoomState, updates: Mapping[str, object]) -> RoomState:
    """``dataclasses.replace(room, **updates)`` at a fraction of its cost (a frozen
    dataclass of 27 fields takes ~10 us to replace; a sync makes two copies of each room
    it touches): the fields copied, the derived indexes (cached properties) not. A
    property test holds the two equal."""
    if not updates.keys() <= _ROOM_FIELD_SET:
        unknown = sorted(set(updates) - _ROOM_FIELD_SET)
        raise TypeError(f"RoomState has no field {unknown[0]!r}")
    old = room.__dict__
    state = {name: old[name] for name in _ROOM_FIELDS}
    state.update(updates)
    new = object.__new__(type(room))
    object.__setattr__(new, "__dict__", state)
    return new


def _resolve_thread(event: TimelineEvent, by_id: Mapping[EventId, TimelineEvent]) -> ThreadId:
    """The spec's rule: ``m.thread`` names the root; any other relation inherits the
    thread of its parent. The root must be reached within MAX_RELATION_HOPS relation
    edges in all (a reaction to a thread reply: 2); the rest is MAIN."""
    current = event
    for _ in range(MAX_RELATION_HOPS):
        if current.relates_to is None:
            return MAIN
        if current.rel_type == REL_THREAD:
            # A thread root is in the main timeline; an event cannot root its own thread.
            return MAIN if current.relates_to == current.event_id else current.relates_to
        parent = by_id.get(current.relates_to)
        if parent is None or parent is current:
            return MAIN
        current = parent
    return MAIN


def _further(room: RoomState, a: Receipt | None, b: Receipt | None) -> Receipt | None:
    if a is None or b is None:
        return a or b
    pa, pb = room.index.get(a.event_id), room.index.get(b.event_id)
    if pa is None:
        return b
    if pb is None:
        return a
    return b if pb > pa else a


# ---- changes: each returns a new RoomState ---------------------------------


def add_timeline(
    room: RoomState,
    events: Iterable[TimelineEvent],
    *,
    limited: bool,
    prev_batch: str | None = None,
) -> RoomState:
    """Append events from a sync timeline. ``limited`` means history is missing before
    the first of them; ``prev_batch`` is where it can be fetched from. Duplicates are
    skipped; redactions mark their target."""
    known = room.index
    fresh: list[TimelineEvent] = []
    seen: set[EventId] = set()
    for event in events:
        if event.event_id in known or event.event_id in seen:
            continue
        seen.add(event.event_id)
        fresh.append(event)
    if not fresh:
        return room
    gaps = room.gaps_before
    tokens = room.gap_tokens
    history_complete = room.history_complete
    if not room.events:
        history_complete = not limited
    elif limited:
        gaps = gaps | {fresh[0].event_id}
    if limited and prev_batch:
        tokens = {**tokens, fresh[0].event_id: prev_batch}
    merged = _apply_redactions(room.events + tuple(fresh), fresh)
    room = evolve(room, {"events": merged, "gaps_before": gaps, "history_complete": history_complete, "gap_tokens": tokens})
    return trim_history(room, MAX_LIVE_EVENTS) if len(merged) > MAX_LIVE_EVENTS else room


# A room keeps at most this many events in memory: a sync that would go past it drops
# the oldest (with a gap before the first kept), so no room grows without bound however
# long readmark runs or whatever a server sends. Counts that reach past the cut say
# they are lower bounds.
MAX_LIVE_EVENTS: Final = 3000


def trim_history(room: RoomState, keep: int) -> RoomState:
    """``room`` with only its ``keep`` newest events. History before the first kept
    event is then missing (a gap); a thread stays complete only if none of its events,
    root included, was cut; gap tokens of cut events go."""
    events = room.events
    if len(events) <= keep:
        return room
    cut = len(events) - keep
    dropped, kept = events[:cut], events[cut:]
    kept_ids = {event.event_id for event in kept}
    gaps = frozenset(gap for gap in room.gaps_before if gap in kept_ids) | {kept[0].event_id}
    thread_of = room.thread_of
    touched = {thread_of[event.event_id] for event in dropped} | {event.event_id for event in dropped}
    return replace(
        room,
        events=kept,
        gaps_before=gaps,
        history_complete=False,
        complete_threads=frozenset(t for t in room.complete_threads if t not in touched),
        gap_tokens={event_id: token for event_id, token in room.gap_tokens.items() if event_id in kept_ids},
    )


def replace_events(room: RoomState, replacements: Mapping[EventId, TimelineEvent]) -> RoomState:
    """``room`` with some events replaced in place by new forms of themselves (decrypted,
    say): same IDs, same positions."""
    if not replacements:
        return room
    events = tuple(replacements.get(event.event_id, event) for event in room.events)
    new = replace(room, events=events)
    # Same IDs at the same positions, same relations (decryption never changes them):
    # the indexes derived from them, worked out already, hold for the new room too.
    old_events, index = room.events, room.index
    if all(
        event.event_id == event_id
        and event.rel_type == (old := old_events[index[event_id]]).rel_type
        and event.relates_to == old.relates_to
        for event_id, event in replacements.items()
        if event_id in index
    ):
        derived = room.__dict__
        for name in _DERIVED_FROM_IDS_AND_RELATIONS:
            if name in derived:
                new.__dict__[name] = derived[name]
    return new


def with_events_at(room: RoomState, replacements: Mapping[int, TimelineEvent]) -> RoomState:
    """``room`` with the events at these positions replaced by new forms of themselves
    that keep their IDs and relations (a verdict set, say): the indexes derived from
    them, worked out already, hold for the new room too."""
    if not replacements:
        return room
    events = list(room.events)
    for position, event in replacements.items():
        old = events[position]
        if event.event_id != old.event_id or event.rel_type != old.rel_type or event.relates_to != old.relates_to:
            raise ValueError(f"the event at {position} is {old.event_id}, not {event.event_id} with its relation")
        events[position] = event
    new = evolve(room, {"events": tuple(events)})
    derived = room.__dict__
    for name in _DERIVED_FROM_IDS_AND_RELATIONS:
        if name in derived:
            new.__dict__[name] = derived[name]
    return new


def confirmed_read(room: RoomState) -> dict[ThreadId | None, int]:
    """For each receipt thread of mine (None: unthreaded), the furthest loaded position
    my receipts the server confirmed reach (public or private; pending ones left out,
    and one that points at an event not loaded)."""
    me, index = room.me, room.index
    result: dict[ThreadId | None, int] = {}
    for key, receipt in room.receipts.items():
        if key.user_id == me:
            position = index.get(receipt.event_id)
            if position is not None and position > result.get(key.thread_id, -1):
                result[key.thread_id] = position
    return result


def read_for_good(room: RoomState, covered: Mapping[ThreadId | None, int], position: int) -> bool:
    """Whether the event at ``position`` is behind one of my confirmed receipts
    (``covered``: ``confirmed_read(room)``), for the whole room or its thread: it
    stays read, and the push rules' verdict on it is never counted."""
    if position <= covered.get(None, -1):
        return True
    threaded = covered.get(room.thread_of[room.events[position].event_id])
    return threaded is not None and position <= threaded


def still_unread(room: RoomState, positions: Iterable[int]) -> list[int]:
    """The positions of ``positions`` (in order) that none of my confirmed receipts
    covers: ``not read_for_good(room, confirmed_read(room), position)`` of each, in one
    pass (the sync translation asks it of every message it has just read). A test holds
    the two equal."""
    covered = confirmed_read(room)
    everything = covered.pop(None, -1)
    if not covered:
        return [position for position in positions if position > everything]
    thread_of, events = room.thread_of, room.events
    found = []
    for position in positions:
        if position <= everything:
            continue
        threaded = covered.get(thread_of[events[position].event_id])
        if threaded is None or position > threaded:
            found.append(position)
    return found


# RoomState's cached properties that depend on its events only through their IDs,
# positions and relations (and on fields replace_events does not touch).
_DERIVED_FROM_IDS_AND_RELATIONS: Final = ("index", "thread_of", "thread_positions", "last_gap", "_my_read_by_thread")


def gap_before_latest(room: RoomState) -> EventId | None:
    """The event with the latest gap (missing history) before it, if any."""
    return room.events[room.last_gap].event_id if room.last_gap >= 0 else None


def fill_gap(
    room: RoomState,
    before: EventId,
    older: Iterable[TimelineEvent],
    *,
    next_token: str | None,
    exhausted: bool,
) -> RoomState:
    """Put a page of the history missing before ``before`` in place.

    ``older`` is oldest first. The gap closes when the page reaches an event already
    loaded, or the start of the room (``exhausted``); otherwise it moves to before the
    oldest new event, fetchable from ``next_token``.
    """
    at = room.index.get(before)
    if at is None:
        return room
    page = list(older)
    fresh: list[TimelineEvent] = []
    seen: set[EventId] = set()
    overlap = False
    for event in page:
        if event.event_id in room.index:
            overlap = overlap or event.event_id != before
            continue
        if event.event_id not in seen:
            seen.add(event.event_id)
            fresh.append(event)
    start_gap = at == 0 and not room.history_complete
    gaps = room.gaps_before - {before}
    tokens = {k: v for k, v in room.gap_tokens.items() if k != before}
    history_complete = room.history_complete
    closed = overlap or exhausted
    if closed:
        if start_gap and not overlap:
            history_complete = True
    else:
        oldest = fresh[0].event_id if fresh else before
        if not start_gap:  # a gap at the start of the loaded events is implicit
            gaps = gaps | {oldest}
        if next_token:
            tokens[oldest] = next_token
    events = room.events[:at] + tuple(fresh) + room.events[at:]
    return replace(
        room,
        events=_apply_redactions(events, fresh),
        gaps_before=gaps,
        gap_tokens=tokens,
        history_complete=history_complete,
    )


def backfill(
    room: RoomState,
    events: Iterable[TimelineEvent],
    *,
    complete_thread: ThreadId | None = None,
) -> RoomState:
    """Merge events fetched out of band (a thread's history, a thread root) by timestamp.

    ``complete_thread`` says the fetch returned every event of that thread.
    """
    known = room.index
    merged = list(room.events)
    keys = [event.ts for event in merged]
    fresh: list[TimelineEvent] = []
    for event in sorted(events, key=lambda e: e.ts):
        if event.event_id in known or any(event.event_id == f.event_id for f in fresh):
            continue
        # After any loaded event with the same timestamp: the server's order wins ties.
        at = bisect.bisect_right(keys, event.ts)
        merged.insert(at, event)
        keys.insert(at, event.ts)
        fresh.append(event)
    complete = room.complete_threads
    if complete_thread is not None:
        complete = complete | {complete_thread}
    if not fresh:
        return room if complete is room.complete_threads else replace(room, complete_threads=complete)
    gaps = room.gaps_before
    if room.events and not room.history_complete and merged[0] is not room.events[0]:
        # Older events now sit before the old first one; the history still missing
        # between them becomes an explicit gap.
        gaps = gaps | {room.events[0].event_id}
    return replace(
        room,
        events=_apply_redactions(tuple(merged), fresh),
        complete_threads=complete,
        gaps_before=gaps,
    )


def _apply_redactions(events: tuple[TimelineEvent, ...], fresh: list[TimelineEvent]) -> tuple[TimelineEvent, ...]:
    targets = {event.redacts for event in fresh if event.redacts is not None}
    if not targets:
        return events
    return tuple(
        as_redacted(event) if event.event_id in targets else event for event in events
    )


def apply_receipt(room: RoomState, key: ReceiptKey, receipt: Receipt) -> RoomState:
    """Store a receipt the server reported. It replaces only the same exact key, and
    never moves a key backwards between two loaded events (servers never rewind)."""
    return apply_receipts(room, ((key, receipt),))


def apply_receipts(room: RoomState, items: Iterable[tuple[ReceiptKey, Receipt]]) -> RoomState:
    """Store many receipts the server reported, in order, exactly as ``apply_receipt``
    one at a time would (exact key, never backwards between loaded events, my pending
    receipts cleared once reached), copying each mapping once instead of once per
    receipt: one at a time is quadratic in a big room's initial sync. The same room
    comes back when nothing changed."""
    receipts, pending = merged_receipts(room, items)
    if receipts is None and pending is None:
        return room
    return replace(
        room,
        receipts=room.receipts if receipts is None else receipts,
        pending=room.pending if pending is None else pending,
    )


def merged_receipts(
    room: RoomState, items: Iterable[tuple[ReceiptKey, Receipt]]
) -> tuple[dict[ReceiptKey, Receipt] | None, dict[ReceiptKey, Receipt] | None]:
    """``apply_receipts`` without building the room: the new receipts and pending
    mappings, each None when unchanged (for callers that gather a room's changes into
    one ``replace``)."""
    index = room.index
    merged: dict[ReceiptKey, Receipt] | None = None
    pending = room.pending
    pending_copied = False
    for key, receipt in items:
        current = (room.receipts if merged is None else merged).get(key)
        if current is not None:
            if current.event_id == receipt.event_id:
                continue
            old, new = index.get(current.event_id), index.get(receipt.event_id)
            if old is not None and new is not None and new < old:
                continue
        if merged is None:
            merged = dict(room.receipts)
        merged[key] = receipt
        if pending:
            waiting = pending.get(key)
            if waiting is not None and _reached(room, receipt.event_id, waiting.event_id):
                if not pending_copied:
                    pending = dict(pending)
                    pending_copied = True
                del pending[key]  # type: ignore[attr-defined]
    return merged, pending if pending_copied else None


def _reached(room: RoomState, confirmed: EventId, wanted: EventId) -> bool:
    if confirmed == wanted:
        return True
    a, b = room.index.get(confirmed), room.index.get(wanted)
    return a is not None and b is not None and a >= b


def add_pending(room: RoomState, key: ReceiptKey, receipt: Receipt) -> RoomState:
    """Apply one of my receipts optimistically, before the server confirms it."""
    pending = dict(room.pending)
    pending[key] = receipt
    return replace(room, pending=pending)


def settle_pending(room: RoomState, key: ReceiptKey, event_id: EventId, *, accepted: bool) -> RoomState:
    """The server answered a receipt: keep it as confirmed, or roll the optimistic one back."""
    waiting = room.pending.get(key)
    # Only the answered request itself: a newer one for the same key may be waiting
    # behind it, still unanswered, and must stay pending (a refusal rolls it back).
    answered = waiting if waiting is not None and waiting.event_id == event_id else None
    if answered is not None:
        room = replace(room, pending={k: v for k, v in room.pending.items() if k != key})
    if accepted:
        room = apply_receipt(room, key, answered or Receipt(event_id))
    return room


def set_fully_read(room: RoomState, event_id: EventId) -> RoomState:
    """The server's ``m.fully_read`` account data. Clears a pending marker it reached."""
    pending = room.pending_fully_read
    if pending is not None and _reached(room, event_id, pending):
        pending = None
    return replace(room, fully_read=event_id, pending_fully_read=pending)


def add_pending_fully_read(room: RoomState, event_id: EventId) -> RoomState:
    return replace(room, pending_fully_read=event_id)


def settle_pending_fully_read(room: RoomState, event_id: EventId, *, accepted: bool) -> RoomState:
    if room.pending_fully_read != event_id:
        return room
    room = replace(room, pending_fully_read=None)
    return set_fully_read(room, event_id) if accepted else room


def set_server_counts(
    room: RoomState,
    main: ServerCounts,
    threads: Mapping[ThreadId, ServerCounts] | None,
) -> RoomState:
    """The server's counts from one sync. A thread absent from ``threads`` went to zero."""
    return replace(room, server_main=main, server_threads=dict(threads or {}))
