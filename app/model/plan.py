"""Receipt planning: turn what the user asked for into the exact request to send, or a
refusal with a reason the UI can show. Then apply a planned request optimistically, and
settle it when the server answers.

The rules: receipts go only to loaded events; a threaded receipt only to an event of
that thread; never to my own event (the latest event by someone else before it is
used instead); never backwards or to where I have already read, since servers ignore
that; and ``m.fully_read`` only forwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.model.ids import MAIN, EventId, RoomId, ThreadId
from app.model.receipts import FULLY_READ, Receipt, ReceiptKey, ReceiptType
from app.model.room import (
    RoomState,
    add_pending,
    add_pending_fully_read,
    settle_pending,
    settle_pending_fully_read,
)


class ActionKind(str, Enum):
    THREADED = "threaded"
    UNTHREADED = "unthreaded"
    FULLY_READ = "fully_read"


@dataclass(frozen=True, slots=True)
class ReceiptAction:
    """What the user asked for. ``event_id`` None means the default target: the latest
    event by someone else (the latest event at all for the fully-read marker)."""

    kind: ActionKind
    receipt_type: ReceiptType = ReceiptType.PRIVATE
    thread_id: ThreadId | None = None
    event_id: EventId | None = None
    # For FULLY_READ: also move my (unthreaded) read receipt in the same request.
    with_receipt: bool = False


@dataclass(frozen=True, slots=True)
class ReceiptRequest:
    """``POST /rooms/{room_id}/receipt/{receipt_type}/{event_id}``; ``thread_id`` None
    means an unthreaded receipt (body ``{}``)."""

    room_id: RoomId
    receipt_type: ReceiptType
    event_id: EventId
    thread_id: ThreadId | None

    def key(self, user_id: str) -> ReceiptKey:
        return ReceiptKey(user_id, self.receipt_type, self.thread_id)

    @property
    def scope(self) -> str:
        if self.thread_id is None:
            return "whole room"
        return "main timeline" if self.thread_id == MAIN else "thread"


@dataclass(frozen=True, slots=True)
class FullyReadRequest:
    """``POST /rooms/{room_id}/read_markers`` with ``m.fully_read`` at ``event_id``, and
    optionally an unthreaded receipt of ``receipt_type`` at ``receipt_event_id``: the
    latest event by someone else up to the marker (never my own)."""

    room_id: RoomId
    event_id: EventId
    receipt_type: ReceiptType | None = None
    receipt_event_id: EventId | None = None

    def __post_init__(self) -> None:
        if (self.receipt_type is None) != (self.receipt_event_id is None):
            raise ValueError("a fully-read request's receipt needs both a type and an event")


Request = ReceiptRequest | FullyReadRequest


def request_key(request: Request) -> tuple[str, str, str]:
    """Requests with the same key coalesce: planning only moves receipts forwards, so the
    newest request for a key is the furthest and covers an older one not yet sent. One
    key per (room, receipt type, thread or unthreaded), and per room for the fully-read
    marker, with or without its receipt (a newer marker must never swallow an older
    request's receipt)."""
    if isinstance(request, FullyReadRequest):
        receipt = request.receipt_type.value if request.receipt_type is not None else ""
        return (request.room_id, FULLY_READ, receipt)
    thread = "\x00unthreaded" if request.thread_id is None else request.thread_id
    return (request.room_id, request.receipt_type.value, thread)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why nothing is sent: a stable ``code``, and a ``reason`` to show the user."""

    code: str
    reason: str


def plan(room: RoomState, action: ReceiptAction) -> Request | Refusal:
    if action.kind is ActionKind.FULLY_READ:
        return _plan_fully_read(room, action)
    thread = action.thread_id if action.kind is ActionKind.THREADED else None
    if action.kind is ActionKind.THREADED:
        if thread is None:
            return Refusal("no-thread", "a threaded receipt needs a thread (main or a root event)")
        if thread != MAIN and thread not in room.thread_positions:
            return Refusal("unknown-thread", f"no thread {thread} is loaded in this room")
    target = _target(room, thread, action.event_id)
    if isinstance(target, Refusal):
        return target
    current = _current_position(room, action.receipt_type, thread)
    if room.index[target] <= current:
        return Refusal("already-read", f"already read up to there ({action.receipt_type.label} receipt)")
    return ReceiptRequest(room.room_id, action.receipt_type, target, thread)


def _target(room: RoomState, thread: ThreadId | None, event_id: EventId | None) -> EventId | Refusal:
    where = "this room" if thread is None else ("the main timeline" if thread == MAIN else "this thread")
    if event_id is None:
        latest = room.latest_by_others(thread)
        if latest is None:
            return Refusal("nothing-to-read", f"no event by someone else in {where}")
        return latest.event_id
    position = room.index.get(event_id)
    if position is None:
        return Refusal("unknown-event", f"event {event_id} is not loaded in this room")
    if thread is not None and room.thread_of[event_id] != thread:
        return Refusal("wrong-thread", f"event {event_id} is not in {where}")
    if room.events[position].sender != room.me:
        return event_id
    # My own event: sending it already told the server; aim at the latest event by
    # someone else at or before it instead.
    positions = range(position, -1, -1) if thread is None else reversed(room.thread_positions[thread])
    for candidate in positions:
        if candidate > position:
            continue
        event = room.events[candidate]
        if event.sender != room.me and event.state_key is None:
            return event.event_id
    return Refusal("own-event", f"only your own messages up to there in {where}")


def _current_position(room: RoomState, receipt_type: ReceiptType, thread: ThreadId | None) -> int:
    """How far this scope is already read for a receipt of this type.

    A public receipt may lag behind the private one and catching it up is worth sending,
    so for PUBLIC only public receipts count (the unthreaded one, and the thread's own).
    A private receipt tells nobody anything new once any receipt of mine reaches there
    (the server reads up to the further of the two), so for PRIVATE both types count.
    My own messages do not: Synapse does not lower its counts for them, and a receipt
    clears the badges other devices show.
    """
    types = (receipt_type,) if receipt_type is ReceiptType.PUBLIC else tuple(ReceiptType)
    best = -1
    for each in types:
        for key_thread in {None, thread}:
            receipt = room.my_receipt(each, key_thread)
            if receipt is not None:
                best = max(best, room.index.get(receipt.event_id, -1))
    return best


def _plan_fully_read(room: RoomState, action: ReceiptAction) -> FullyReadRequest | Refusal:
    if action.event_id is None:
        latest = room.latest_event()
        if latest is None:
            return Refusal("nothing-to-read", "this room has no loaded events")
        target = latest.event_id
    else:
        if action.event_id not in room.index:
            return Refusal("unknown-event", f"event {action.event_id} is not loaded in this room")
        target = action.event_id
    position = room.index[target]
    current = max(
        (room.index.get(e, -1) for e in (room.fully_read, room.pending_fully_read) if e is not None),
        default=-1,
    )
    if position <= current:
        if position == current:
            return Refusal("already-read", "the fully-read marker is already there")
        return Refusal("backwards", "the fully-read marker only moves forwards")
    if action.with_receipt:
        receipt_target = _target(room, None, target)
        if not isinstance(receipt_target, Refusal) and room.index[receipt_target] > _current_position(
            room, action.receipt_type, None
        ):
            return FullyReadRequest(room.room_id, target, action.receipt_type, receipt_target)
    return FullyReadRequest(room.room_id, target)


def covered(room: RoomState, request: Request) -> bool:
    """Whether everything ``request`` would tell the server is already told or on its
    way in ``room`` (a request planned by another process on an older view of the room
    can be): then it need not be sent. An event not loaded here is never covered."""
    if isinstance(request, FullyReadRequest):
        position = room.index.get(request.event_id)
        marker = max(
            (room.index.get(e, -1) for e in (room.fully_read, room.pending_fully_read) if e is not None),
            default=-1,
        )
        if position is None or position > marker:
            return False
        if request.receipt_type is None or request.receipt_event_id is None:
            return True
        receipt_at = room.index.get(request.receipt_event_id)
        return receipt_at is not None and receipt_at <= _current_position(room, request.receipt_type, None)
    position = room.index.get(request.event_id)
    return position is not None and position <= _current_position(room, request.receipt_type, request.thread_id)


def apply_optimistic(room: RoomState, request: Request, ts: int = 0) -> RoomState:
    """Counts change at once: the request is held as pending until the server answers."""
    if isinstance(request, FullyReadRequest):
        room = add_pending_fully_read(room, request.event_id)
        if request.receipt_type is not None and request.receipt_event_id is not None:
            key = ReceiptKey(room.me, request.receipt_type, None)
            room = add_pending(room, key, Receipt(request.receipt_event_id, ts))
        return room
    return add_pending(room, request.key(room.me), Receipt(request.event_id, ts))


def settle(room: RoomState, request: Request, *, accepted: bool) -> RoomState:
    """The server accepted (keep) or refused (roll back) a request."""
    if isinstance(request, FullyReadRequest):
        room = settle_pending_fully_read(room, request.event_id, accepted=accepted)
        if request.receipt_type is not None and request.receipt_event_id is not None:
            key = ReceiptKey(room.me, request.receipt_type, None)
            room = settle_pending(room, key, request.receipt_event_id, accepted=accepted)
        return room
    return settle_pending(room, request.key(room.me), request.event_id, accepted=accepted)
