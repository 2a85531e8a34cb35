"""What a read clears, said before it is sent: for one key (``r``, ``R``) on the
selection, and for a bulk read of many rooms (a space, the direct messages, every room,
the rooms shown), whose dry run lists every room with what its receipt clears.

A bulk read sends one unthreaded receipt per room, on its latest event by someone else,
in the room's own mode. Such a receipt reads every thread up to there, and what comes
after it is mine or state, which no count includes: it clears the room's whole count
(``clears_all``), so a dry run of a thousand rooms costs a thousand looks at memoised
counts. A single key's receipt can clear less (``r`` up to the timeline's cursor): its
preview applies the planned request to a copy of the room and compares the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from app.model.events import ALERT_HIGHLIGHT, counts_as_unread
from app.model.ids import MAIN, EventId, RoomId, ThreadId
from app.model.plan import ActionKind, ReceiptAction, ReceiptRequest, Refusal, Request, apply_optimistic, plan
from app.model.receipts import ReceiptType
from app.model.room import RoomState
from app.model.unread import room_unread, threads_unread


@dataclass(frozen=True, slots=True)
class Clears:
    """What one receipt (or a bulk read) takes off the counts."""

    messages: int = 0
    threads: int = 0
    mentions: int = 0
    # Of those mentions, the ones never on screen here.
    unseen_mentions: int = 0
    # A count it clears is a lower bound (history missing): more may go.
    lower_bound: bool = False
    # A marked-unread flag it clears (a receipt clears it, the spec says).
    flags: int = 0

    def __add__(self, other: Clears) -> Clears:
        return Clears(
            self.messages + other.messages,
            self.threads + other.threads,
            self.mentions + other.mentions,
            self.unseen_mentions + other.unseen_mentions,
            self.lower_bound or other.lower_bound,
            self.flags + other.flags,
        )

    @property
    def nothing(self) -> bool:
        return not (self.messages or self.threads or self.mentions or self.flags)


NOTHING = Clears()


def _unseen(highlights: Iterable[EventId], seen: Collection[EventId]) -> int:
    return sum(1 for event_id in highlights if event_id not in seen)


def _unread_highlights(room: RoomState) -> list[EventId]:
    """The unread events the push rules highlight for."""
    found = []
    me = room.me
    for event in room.events:
        if event.alert == ALERT_HIGHLIGHT and counts_as_unread(event, me):
            position = room.index[event.event_id]
            if position > room.read_position(room.thread_of[event.event_id]).index:
                found.append(event.event_id)
    return found


def clears_all(room: RoomState, seen: Collection[EventId] = ()) -> Clears:
    """What an unthreaded receipt on the room's latest event by someone else clears:
    all of its counts (see the module docstring; a property test holds it to
    ``clears_of``)."""
    counts = room_unread(room)
    if not counts.has_unread:
        return NOTHING
    unseen = _unseen(_unread_highlights(room), seen) if counts.local_highlights else 0
    return Clears(
        counts.unread,
        counts.unread_threads,
        counts.local_highlights,
        unseen,
        counts.lower_bound and any(t.lower_bound and t.unread for t in threads_unread(room).values()),
        int(counts.marked_unread),
    )


def clears_thread(room: RoomState, thread_id: ThreadId, seen: Collection[EventId] = ()) -> Clears:
    """What a threaded receipt on a thread's latest event by someone else clears: the
    thread's whole count, as ``clears_all`` for the room (a property test holds it to
    ``clears_of``)."""
    unread = threads_unread(room).get(thread_id)
    if unread is None or not unread.unread:
        return NOTHING
    thread_of = room.thread_of
    highlights = [e for e in _unread_highlights(room) if thread_of[e] == thread_id] if unread.local_highlights else []
    return Clears(
        unread.unread,
        int(thread_id != MAIN),
        unread.local_highlights,
        _unseen(highlights, seen),
        unread.lower_bound and unread.unread > 0,
        int(room.marked_unread),
    )


def clears_of(room: RoomState, request: Request, seen: Collection[EventId] = ()) -> Clears:
    """What ``request`` takes off ``room``'s counts: the counts before it, less those
    after it is applied (as it will be, optimistically, when sent)."""
    after = apply_optimistic(room, request)
    before_counts, after_counts = room_unread(room), room_unread(after)
    before_threads, after_threads = threads_unread(room), threads_unread(after)
    threads = sum(
        1
        for thread_id, unread in before_threads.items()
        if thread_id != MAIN and unread.unread > 0
        and (after_threads.get(thread_id) is None or after_threads[thread_id].unread == 0)
    )
    cleared = set(_unread_highlights(room)) - set(_unread_highlights(after))
    flag = int(before_counts.marked_unread and request.receipt_type is not None)
    return Clears(
        before_counts.unread - after_counts.unread,
        threads,
        before_counts.local_highlights - after_counts.local_highlights,
        _unseen(cleared, seen),
        any(
            unread.lower_bound and unread.unread > (after_threads[t].unread if t in after_threads else 0)
            for t, unread in before_threads.items()
        ),
        flag,
    )


@dataclass(frozen=True, slots=True)
class RoomRead:
    """One room of a bulk read: the receipt it sends (or why none), and what it clears."""

    room_id: RoomId
    title: str
    receipt_type: ReceiptType
    result: Request | Refusal
    clears: Clears

    @property
    def request(self) -> Request | None:
        return None if isinstance(self.result, Refusal) else self.result


@dataclass(frozen=True, slots=True)
class BulkPlan:
    """A dry run: every room in scope with unread, what each sends and clears."""

    scope: str
    rooms: tuple[RoomRead, ...]
    # Rooms flagged unread with nothing left to read: the flag is cleared, no receipt.
    unflag: tuple[RoomId, ...] = ()

    @property
    def sending(self) -> tuple[RoomRead, ...]:
        return tuple(r for r in self.rooms if r.request is not None)

    @property
    def refused(self) -> tuple[RoomRead, ...]:
        return tuple(r for r in self.rooms if r.request is None)

    @property
    def clears(self) -> Clears:
        total = NOTHING
        for room in self.sending:
            total = total + room.clears
        return total

    def clears_in(self, room_ids: Collection[RoomId]) -> Clears:
        """What the receipts of ``room_ids`` clear (the rooms the server took, when
        others were refused): a report never counts a room that was not read."""
        total = NOTHING
        for room in self.sending:
            if room.room_id in room_ids:
                total = total + room.clears
        return total

    @property
    def rooms_cleared(self) -> int:
        return len(self.sending) + len(self.unflag)

    def count(self, receipt_type: ReceiptType) -> int:
        return sum(1 for r in self.sending if r.receipt_type is receipt_type)

    def to_json(self) -> dict:
        """The dry run as ``readmark mark --dry-run --json`` prints it."""
        total = self.clears
        return {
            "scope": self.scope,
            "rooms": [
                {
                    "room_id": r.room_id,
                    "name": r.title,
                    "receipt": r.receipt_type.value,
                    "event_id": r.request.event_id if isinstance(r.request, ReceiptRequest) else None,
                    "refused": r.result.reason if isinstance(r.result, Refusal) else None,
                    "messages": r.clears.messages,
                    "threads": r.clears.threads,
                    "mentions": r.clears.mentions,
                    "lower_bound": r.clears.lower_bound,
                    "marked_unread": bool(r.clears.flags),
                }
                for r in self.rooms
            ],
            "unflag": list(self.unflag),
            "total": {
                "rooms": len(self.sending),
                "public": self.count(ReceiptType.PUBLIC),
                "private": self.count(ReceiptType.PRIVATE),
                "refused": len(self.refused),
                "messages": total.messages,
                "threads": total.threads,
                "mentions": total.mentions,
                "lower_bound": total.lower_bound,
            },
        }


def room_receipt(room: RoomState, receipt_type: ReceiptType) -> Request | Refusal:
    """``plan``'s answer for an unthreaded receipt on the room's latest event by
    someone else, without its steps when the room has unread messages: then that
    event lies after every receipt of mine (an unread message does, and it is at or
    before the latest one by someone else), so nothing refuses it. A property test
    holds the two equal."""
    if room_unread(room).unread:
        latest = room.latest_by_others(None)
        if latest is not None:
            return ReceiptRequest(room.room_id, receipt_type, latest.event_id, None)
    return plan(room, ReceiptAction(ActionKind.UNTHREADED, receipt_type))


def bulk_plan(
    scope: str,
    rooms: Sequence[RoomState],
    refuse: Callable[[RoomState, ReceiptAction], Refusal | None],
    mode_of: Callable[[RoomId], ReceiptType],
    title_of: Callable[[RoomState], str],
    seen: Collection[EventId] = (),
) -> BulkPlan:
    """The dry run of reading ``rooms`` (in the order given): each room with unread (or
    flagged unread) gets an unthreaded receipt in its own mode, unless ``refuse`` (the
    core's rules: a private room stays private) says no; planned as ``plan`` would."""
    reads: list[RoomRead] = []
    unflag: list[RoomId] = []
    for room in rooms:
        counts = room_unread(room)
        if room.membership != "join" or not counts.has_unread:
            continue
        mode = mode_of(room.room_id)
        result: Request | Refusal | None = refuse(room, ReceiptAction(ActionKind.UNTHREADED, mode))
        if result is None:
            result = room_receipt(room, mode)
        if isinstance(result, Refusal):
            if result.code == "already-read" and room.marked_unread and not counts.unread:
                unflag.append(room.room_id)
                continue
            clears = NOTHING
        else:
            clears = clears_all(room, seen)
        reads.append(RoomRead(room.room_id, title_of(room), mode, result, clears))
    return BulkPlan(scope, tuple(reads), tuple(unflag))


def describe_clears(clears: Clears, *, rooms: int | None = None) -> str:
    """``4 threads, 23 msgs, 2 mentions (1 unseen)``, after ``3 rooms`` when given;
    "nothing" when it clears nothing."""
    parts = []
    if clears.threads:
        parts.append(f"{clears.threads} thread{'s' if clears.threads != 1 else ''}")
    if clears.messages:
        plus = "+" if clears.lower_bound else ""
        parts.append(f"{clears.messages}{plus} msg{'s' if clears.messages != 1 else ''}")
    if clears.mentions:
        mention = f"{clears.mentions} mention{'s' if clears.mentions != 1 else ''}"
        if clears.unseen_mentions:
            mention += f" ({clears.unseen_mentions} unseen)"
        parts.append(mention)
    if clears.flags and not clears.messages:
        parts.append("marked unread" if clears.flags == 1 else f"{clears.flags} marked unread")
    if not parts:
        return "nothing"
    if rooms is not None:
        parts.insert(0, f"{rooms} room{'s' if rooms != 1 else ''}")
    return ", ".join(parts)
