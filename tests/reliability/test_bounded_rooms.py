"""No room grows without bound, whatever a server sends or however long readmark runs.
Seen before: 200,000 events in one room's timeline were all kept (the TUI at 510 MB).
Now one sync yields at most ``MAX_TIMELINE_EVENTS`` events per room (the newest; the
rest are a gap whose count is a labelled lower bound) and a room holds at most
``MAX_LIVE_EVENTS`` in memory (``MAX_EVENTS_PER_ROOM`` in the cache)."""

from __future__ import annotations

import json

import pytest

from app.matrix.translate import MAX_TIMELINE_EVENTS, apply_sync_changes, parse_sync
from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.room import MAX_LIVE_EVENTS
from app.model.unread import thread_unread
from app.store import cache

pytestmark = [pytest.mark.faults]
ROOM = "!big:test"


def message(i: int, **content: object) -> dict:
    return {"type": "m.room.message", "event_id": f"$e{i}", "sender": "@alice:test", "origin_server_ts": 1000 + i,
            "content": {"msgtype": "m.text", "body": f"message {i}", **content}}


def sync(events: list[dict], batch: str, *, limited: bool = False) -> bytes:
    timeline = {"events": events, "limited": limited, "prev_batch": f"before-{batch}"}
    return json.dumps({"next_batch": batch, "rooms": {"join": {ROOM: {"timeline": timeline}}}}).encode()


def test_an_enormous_timeline_keeps_its_newest_events_and_says_the_count_is_a_lower_bound() -> None:
    name = {"type": "m.room.name", "state_key": "", "event_id": "$name", "sender": "@alice:test",
            "origin_server_ts": 999, "content": {"name": "Firehose"}}
    events = [name] + [message(i) for i in range(200_000)]
    account, _ = apply_sync_changes(AccountState("@me:test"), parse_sync(sync(events, "s1")), initial=True)
    room = account.rooms[ROOM]
    assert len(room.events) == MAX_TIMELINE_EVENTS
    assert room.events[-1].event_id == "$e199999" and room.events[0].event_id == f"$e{200_000 - MAX_TIMELINE_EVENTS}"
    counts = thread_unread(room, MAIN)
    assert counts.unread == MAX_TIMELINE_EVENTS and counts.lower_bound
    assert room.name == "Firehose"  # state in the cut head still names the room
    # The gap cannot be paged from the server's prev_batch: it starts before the cut.
    assert room.gap_tokens == {} and not room.history_complete


def test_a_room_stays_bounded_over_a_long_run_of_syncs() -> None:
    account = AccountState("@me:test")
    batch = 0
    for start in range(0, 10_000, 500):
        batch += 1
        account, _ = apply_sync_changes(account, parse_sync(sync([message(i) for i in range(start, start + 500)], f"s{batch}")))
    room = account.rooms[ROOM]
    assert len(room.events) == MAX_LIVE_EVENTS
    assert room.events[-1].event_id == "$e9999" and not room.history_complete
    assert thread_unread(room, MAIN).lower_bound
    # The cache keeps fewer, the newest.
    stored = cache.decode_room(ROOM, "@me:test", cache.encode_room(room))
    assert len(stored.events) == cache.MAX_EVENTS_PER_ROOM and stored.events[-1].event_id == "$e9999"
