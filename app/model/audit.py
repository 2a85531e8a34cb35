"""Who sees what I read: for each room, the read position other members see (my public
receipts, per thread) beside the one only I see (private), how far behind the room's
latest messages each is, and warnings where what the server holds does not match the
room's policy and readmark's own record of what it sent.

Built from the account (what the server echoed back in ``m.receipt``: only confirmed
receipts count, never the optimistic ones) and the local record of receipts readmark
sent (``SentReceipt``), by ``readmark audit`` and the TUI's audit screen alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from app.model.events import counts_as_unread
from app.model.ids import MAIN, EventId, RoomId, ThreadId
from app.model.policy import Mode
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState
from app.model.sending import RoomMode


@dataclass(frozen=True, slots=True)
class SentReceipt:
    """One receipt readmark sent and the server accepted, as the receipt log keeps it."""

    ts: int
    room_id: RoomId
    thread_id: ThreadId | None
    receipt_type: ReceiptType
    event_id: EventId


@dataclass(frozen=True, slots=True)
class Position:
    """Where a receipt puts me in one thread: its event (None: no receipt), and how many
    messages by others came after it (None when its event is not loaded)."""

    event_id: EventId | None
    behind: int | None


def describe_position(position: Position | None) -> str:
    """``nothing``, ``up to date``, ``3 behind``, or ``in missing history``."""
    if position is None or position.event_id is None:
        return "nothing"
    if position.behind is None:
        return "in missing history"
    return "up to date" if position.behind == 0 else f"{position.behind} behind"


@dataclass(frozen=True, slots=True)
class ThreadAudit:
    thread_id: ThreadId
    public: Position
    private: Position


@dataclass(frozen=True, slots=True)
class Warning:
    """What the server holds and should not, with the facts it gave."""

    thread_id: ThreadId | None
    event_id: EventId
    ts: int
    text: str


@dataclass(frozen=True, slots=True)
class RoomAudit:
    room_id: RoomId
    title: str
    mode: Mode
    rule: str
    threads: tuple[ThreadAudit, ...]
    warnings: tuple[Warning, ...]

    @property
    def visible(self) -> Position:
        """What other members see of the room as a whole: the main timeline's public position."""
        return next((t.public for t in self.threads if t.thread_id == MAIN), Position(None, None))

    def to_json(self) -> dict:
        return {
            "room_id": self.room_id,
            "name": self.title,
            "receipt_policy": {"mode": self.mode.value, "rule": self.rule},
            "threads": [
                {
                    "thread_id": t.thread_id,
                    "public": {"event_id": t.public.event_id, "behind": t.public.behind},
                    "private": {"event_id": t.private.event_id, "behind": t.private.behind},
                }
                for t in self.threads
            ],
            "warnings": [
                {"thread_id": w.thread_id, "event_id": w.event_id, "ts": w.ts, "text": w.text} for w in self.warnings
            ],
        }


def _confirmed(room: RoomState, receipt_type: ReceiptType, thread: ThreadId | None) -> Receipt | None:
    return room.receipts.get(ReceiptKey(room.me, receipt_type, thread))


def _position(room: RoomState, thread_id: ThreadId, receipts: Iterable[Receipt | None]) -> Position:
    """The furthest of ``receipts`` in this thread, and the messages by others after it."""
    best: tuple[int, EventId] | None = None
    unresolved: EventId | None = None
    for receipt in receipts:
        if receipt is None:
            continue
        at = room.index.get(receipt.event_id)
        if at is None:
            unresolved = unresolved or receipt.event_id
            continue
        if best is None or at > best[0]:
            best = (at, receipt.event_id)
    if best is None:
        return Position(unresolved, None)
    me = room.me
    events = room.events
    behind = sum(
        1 for p in room.thread_positions.get(thread_id, ()) if p > best[0] and counts_as_unread(events[p], me)
    )
    return Position(best[1], behind)


# A receipt readmark sent is echoed in the next sync, seconds later; one still missing
# after this long is worth a warning.
ECHO_GRACE_MS = 120_000


def audit_room(
    room: RoomState, mode: RoomMode, title: str, sent: Sequence[SentReceipt] = (), now_ms: int | None = None
) -> RoomAudit:
    """One room's audit. A warning is raised for each public receipt of mine the server
    holds in a room whose policy is private or none, unless readmark itself sent that
    receipt (the policy was public then): another client of mine sent it. With
    ``now_ms``, also for a receipt readmark sent more than ``ECHO_GRACE_MS`` ago that the
    server's ``m.receipt`` never echoed back (its event is loaded, and my confirmed
    receipt of that type there is still behind it)."""
    threads = []
    for thread_id in room.thread_ids:
        public = _position(room, thread_id, (_confirmed(room, ReceiptType.PUBLIC, None),
                                             _confirmed(room, ReceiptType.PUBLIC, thread_id)))
        private = _position(room, thread_id, (_confirmed(room, ReceiptType.PRIVATE, None),
                                              _confirmed(room, ReceiptType.PRIVATE, thread_id)))
        threads.append(ThreadAudit(thread_id, public, private))
    warnings: list[Warning] = []
    policy = mode.mode
    if policy is not Mode.PUBLIC:
        mine = {(s.thread_id, s.event_id) for s in sent if s.room_id == room.room_id and s.receipt_type is ReceiptType.PUBLIC}
        for key, receipt in room.receipts.items():
            if key.user_id != room.me or key.receipt_type is not ReceiptType.PUBLIC:
                continue
            if (key.thread_id, receipt.event_id) in mine:
                continue
            scope = "unthreaded" if key.thread_id is None else f"thread {key.thread_id}"
            warnings.append(Warning(
                key.thread_id, receipt.event_id, receipt.ts,
                f"a public receipt of yours ({scope}) at {receipt.event_id} that readmark did not send: "
                f"other members see it, though this room is {policy.value.upper()} ({mode.rule})",
            ))
    if now_ms is not None:
        for entry in sent:
            if entry.room_id != room.room_id or now_ms - entry.ts < ECHO_GRACE_MS:
                continue
            at = room.index.get(entry.event_id)
            if at is None:
                continue
            keys = (None, entry.thread_id) if entry.thread_id is not None else (None,)
            reached = max((room.index.get(r.event_id, -1) for r in
                           (_confirmed(room, entry.receipt_type, k) for k in keys) if r is not None), default=-1)
            if reached < at:
                warnings.append(Warning(
                    entry.thread_id, entry.event_id, entry.ts,
                    f"readmark sent a {entry.receipt_type.label} receipt at {entry.event_id} that the server "
                    "has not echoed back in your sync",
                ))
    warnings.sort(key=lambda w: (w.ts, w.event_id))
    return RoomAudit(room.room_id, title, policy, mode.rule, tuple(threads), tuple(warnings))


def audit_rooms(
    rooms: Iterable[RoomState],
    mode_of: Callable[[RoomId], RoomMode],
    title_of: Callable[[RoomState], str],
    sent: Sequence[SentReceipt] = (),
    now_ms: int | None = None,
) -> list[RoomAudit]:
    """The audit of every joined room that is not a space, by title."""
    found = [
        audit_room(room, mode_of(room.room_id), title_of(room), sent, now_ms)
        for room in rooms
        if room.membership == "join" and not room.is_space
    ]
    found.sort(key=lambda a: (not a.warnings, a.title.casefold(), a.room_id))
    return found
