"""Concise builders for model tests: events and rooms from short descriptions."""

from __future__ import annotations

from collections.abc import Iterable

from app.model.events import REL_THREAD, TimelineEvent
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, add_timeline, apply_receipt

ME = "@me:test"
ALICE = "@alice:test"
BOB = "@bob:test"
ROOM = "!room:test"

_ts = iter(range(1_000, 10**9, 1_000))


def msg(event_id: str, sender: str = ALICE, body: str | None = None, ts: int | None = None, **kw) -> TimelineEvent:
    return TimelineEvent(
        event_id=event_id,
        sender=sender,
        ts=ts if ts is not None else next(_ts),
        type=kw.pop("type", "m.room.message"),
        body=body if body is not None else event_id,
        **kw,
    )


def reply(event_id: str, root: str, sender: str = ALICE, **kw) -> TimelineEvent:
    return msg(event_id, sender, rel_type=REL_THREAD, relates_to=root, **kw)


def reaction(event_id: str, target: str, sender: str = ALICE) -> TimelineEvent:
    return msg(event_id, sender, type="m.reaction", rel_type="m.annotation", relates_to=target)


def edit(event_id: str, target: str, sender: str = ALICE) -> TimelineEvent:
    return msg(event_id, sender, rel_type="m.replace", relates_to=target)


def room(*events: TimelineEvent, limited: bool = False, me: str = ME) -> RoomState:
    return add_timeline(RoomState(ROOM, me), events, limited=limited)


def with_receipts(state: RoomState, *receipts: tuple[str, ReceiptType, str | None]) -> RoomState:
    """(event_id, type, thread) triples of my receipts, confirmed by the server."""
    for event_id, receipt_type, thread in receipts:
        state = apply_receipt(state, ReceiptKey(state.me, receipt_type, thread), Receipt(event_id))
    return state


def spec_dag() -> RoomState:
    """The spec's threaded-DAG example: A and B are roots; thread A is C, E, G, H;
    thread B is D, F; I is in the main timeline. Topological order A..I."""
    return room(
        msg("$A"),
        msg("$B"),
        reply("$C", "$A"),
        reply("$D", "$B"),
        reply("$E", "$A"),
        reply("$F", "$B"),
        reply("$G", "$A"),
        reply("$H", "$A"),
        msg("$I"),
    )


def ids(events: Iterable[TimelineEvent]) -> list[str]:
    return [e.event_id for e in events]
