"""Words for what the panes show and what a key did: times, titles, and receipts in
the terms a person reads in one glance. Pure functions, no Textual.
"""

from __future__ import annotations

import time
from datetime import datetime

from app.model.edits import latest_text
from app.model.ids import MAIN, ThreadId, UserId
from app.model.plan import FullyReadRequest, ReceiptRequest, Refusal, Request
from app.model.receipts import ReceiptType
from app.model.room import RoomState
from app.model.summary import room_title

TITLE_WIDTH = 40
# The widest ``count_text``: a count column five cells wide always keeps a space before
# its count, so two neighbouring counts never run together.
COUNT_MAX_CELLS = 4


def local_time(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000)


def clock(ts_ms: int) -> str:
    """``14:02`` in local time."""
    return local_time(ts_ms).strftime("%H:%M")


def day(ts_ms: int) -> str:
    """``Tue 24 Nov 2026`` in local time: the timeline's day headers."""
    return local_time(ts_ms).strftime("%a %d %b %Y")


def now() -> float:
    """The wall clock, in one place so tests can pin it."""
    return time.time()


def when(ts_ms: int) -> str:
    """``14:02`` for today, ``24 Nov`` before that; empty for no activity."""
    if ts_ms <= 0:
        return ""
    moment = local_time(ts_ms)
    today = datetime.fromtimestamp(now()).date()
    if moment.date() == today:
        return moment.strftime("%H:%M")
    return moment.strftime("%d %b")


def count_text(count: int, lower_bound: bool = False) -> str:
    """A count as every pane shows it, in at most ``COUNT_MAX_CELLS`` cells: as it is up
    to ``9999``, then ``10k`` to ``99k``, then ``99k+``; ``+`` marks a lower bound
    (``20+``, ``12k+``). Thousands are rounded down: a count never reads more than it is."""
    count = max(count, 0)
    plus = "+" if lower_bound else ""
    if count < 1000 or (count < 10_000 and not lower_bound):
        return f"{count}{plus}"
    if count < 100_000:
        return f"{count // 1000}k{plus}"
    return "99k+"


def one_line(text: str, width: int = TITLE_WIDTH) -> str:
    """The first line of a body, whitespace collapsed, cut to ``width`` with an ellipsis."""
    line = " ".join(text.split())
    if len(line) > width:
        return line[: max(width - 1, 0)] + "…"
    return line


def thread_title(room: RoomState, thread_id: ThreadId | None) -> str:
    """``Main timeline``, the root's first line (as last edited), or the root's ID when it
    is not loaded."""
    if thread_id is None:
        return "whole room"
    if thread_id == MAIN:
        return "Main timeline"
    root = room.event(thread_id)
    if root is None:
        return f"thread {thread_id[:12]}"
    if root.redacted:
        return "(deleted message)"
    return one_line(latest_text(room, root)) or root.type


def display_name(room: RoomState, user_id: UserId) -> str:
    name = room.display_name_of(user_id)
    if name == user_id and user_id.startswith("@"):
        # A bare user ID reads better as its localpart.
        return user_id[1:].split(":", 1)[0]
    return name


def initials(name: str) -> str:
    """Two letters for a reader marker: ``Alice Smith`` -> ``AS``, ``bob`` -> ``bo``."""
    words = [w for w in name.replace("_", " ").replace(".", " ").split() if w]
    if len(words) >= 2:
        return (words[0][0] + words[1][0]).upper()
    return (words[0][:2] if words else "?")


def mode_word(receipt_type: ReceiptType) -> str:
    """``PRIVATE`` or ``PUBLIC``: the status bar's loud form."""
    return receipt_type.label.upper()


def event_time(room: RoomState, event_id: str) -> str:
    event = room.event(event_id)
    return clock(event.ts) if event is not None else "an event not loaded"


def describe_request(room: RoomState, request: Request) -> str:
    """What a request does, in words: ``private receipt, thread "Deploy plan", up to 14:02``."""
    at = event_time(room, request.event_id)
    if isinstance(request, FullyReadRequest):
        text = f'fully-read marker, room "{one_line(room_title(room), 30)}", at {at}'
        if request.receipt_type is not None:
            text += f", with a {request.receipt_type.label} receipt"
        return text
    where = _scope(room, request)
    return f"{request.receipt_type.label} receipt, {where}, up to {at}"


def _scope(room: RoomState, request: ReceiptRequest) -> str:
    if request.thread_id is None:
        return f'whole room "{one_line(room_title(room), 30)}"'
    if request.thread_id == MAIN:
        return f'main timeline of "{one_line(room_title(room), 30)}"'
    return f'thread "{one_line(thread_title(room, request.thread_id), 30)}"'


def describe_refusal(refusal: Refusal) -> str:
    return f"nothing sent: {refusal.reason}"
