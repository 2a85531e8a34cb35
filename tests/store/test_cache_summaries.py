"""The room summaries the cache keeps beside each room (schema 3): what the rooms pane
paints before the rooms are decoded. A stored summary must be exactly the summary of
the room ``load_account`` gives back, whatever the room held that is not stored."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.model.account import AccountState
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import add_pending, add_timeline
from app.model.summary import RoomSort, summarize, summary_sort_key
from app.model.unread import room_unread
from app.store import cache
from app.store.cache import (
    MAX_EVENTS_PER_ROOM,
    SCHEMA_VERSION,
    cache_path,
    load_account,
    load_rooms,
    load_summaries,
    save_account,
)
from tests.store.test_cache import (
    ME,
    message,
    rooms,
    sample_account,
    sample_room,
)


def _by_id(summaries):  # noqa: ANN001, ANN202
    return {summary.room_id: summary for summary in summaries}


def test_summaries_are_those_of_the_loaded_rooms() -> None:
    account = sample_account(4)
    save_account(account)
    loaded = load_account(ME)
    assert loaded is not None
    summaries = load_summaries(ME)
    assert summaries is not None
    assert _by_id(summaries) == {room_id: summarize(room) for room_id, room in loaded.rooms.items()}
    # Not a vacuous comparison: the sample rooms have unread messages and a title.
    some = summaries[0]
    assert some.unread.unread > 0 and some.title == "A room" and some.latest_ts > 0


def test_a_pending_receipt_does_not_count_in_the_stored_summary() -> None:
    room = sample_room(count=5)
    read = add_pending(room, ReceiptKey(ME, ReceiptType.PRIVATE, None), Receipt(room.events[-1].event_id))
    assert room_unread(read).unread == 0 < room_unread(room).unread
    save_account(AccountState(ME, {room.room_id: read}))
    (summary,) = load_summaries(ME) or []
    # The cache does not keep pending receipts (the queue does): the stored summary is
    # that of the room without them, as load_account gives it back.
    assert summary == summarize(room)
    assert summary.unread.unread == room_unread(room).unread


def test_a_room_cut_to_the_event_cap_is_summarised_as_cut() -> None:
    room = add_timeline(
        sample_room(count=1),
        [message(f"$m{i}", ts=10 + i) for i in range(MAX_EVENTS_PER_ROOM + 20)],
        limited=False,
    )
    save_account(AccountState(ME, {room.room_id: room}))
    (summary,) = load_summaries(ME) or []
    loaded = load_account(ME)
    assert loaded is not None
    assert summary == summarize(loaded.rooms[room.room_id])
    # Cut: the count is a lower bound now, and not the in-memory room's count.
    assert summary.unread.lower_bound
    assert summary.unread.unread == MAX_EVENTS_PER_ROOM


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=st.lists(rooms(), max_size=4), pending=st.booleans())
def test_any_room_stores_the_summary_it_loads_with(tmp_path: Path, generated, pending: bool) -> None:  # noqa: ANN001
    path = tmp_path / "fuzz.sqlite3"
    if pending:
        generated = [
            add_pending(room, ReceiptKey(ME, ReceiptType.PUBLIC, None), Receipt(room.events[-1].event_id))
            if room.events
            else room
            for room in generated
        ]
    account = AccountState(ME, {room.room_id: room for room in generated})
    save_account(account, path=path)
    loaded = load_account(ME, path=path)
    assert loaded is not None
    summaries = load_summaries(ME, path=path)
    expected = {room_id: summarize(room) for room_id, room in loaded.rooms.items()}
    if summaries is None:
        # Only a number past SQLite's 64-bit integers keeps a summary out of the cache.
        numbers = [n for s in expected.values() for n in cache.encode_summary(s) if type(n) is int]
        assert any(not -(2**63) <= n < 2**63 for n in numbers)
    else:
        assert _by_id(summaries) == expected
    cache.delete_cache(path)


def test_an_incremental_save_updates_the_changed_rooms_summary() -> None:
    account = sample_account(3)
    save_account(account)
    room = account.rooms["!r1:test"]
    read = replace(
        room, receipts={**room.receipts, ReceiptKey(ME, ReceiptType.PRIVATE, None): Receipt(room.events[-1].event_id, 9)}
    )
    assert room_unread(read).unread == 0 < room_unread(room).unread
    save_account(account.with_room(read), changed_room_ids=[read.room_id])
    summaries = _by_id(load_summaries(ME) or [])
    assert summaries[read.room_id].unread.unread == 0
    assert summaries["!r0:test"].unread.unread == room_unread(account.rooms["!r0:test"]).unread


def test_no_cache_another_user_or_another_schema_gives_no_summaries_and_keeps_the_file() -> None:
    assert load_summaries(ME) is None
    save_account(sample_account())
    assert load_summaries("@intruder:test") is None
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    assert load_summaries(ME) is None
    # Deciding what to do with a bad file is load_account's: the preview only reads.
    assert cache_path().exists()


def test_a_damaged_summary_gives_no_summaries() -> None:
    save_account(sample_account())
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE summaries SET latest_ts = 'soon' WHERE room_id = '!r1:test'")
    assert load_summaries(ME) is None


def test_load_rooms_decodes_only_the_rooms_asked_for() -> None:
    account = sample_account(3)
    save_account(account)
    rooms_loaded = load_rooms(ME, ["!r2:test", "!missing:test"])
    assert set(rooms_loaded) == {"!r2:test"}
    assert cache.room_fields(rooms_loaded["!r2:test"]) == cache.room_fields(account.rooms["!r2:test"])
    assert load_rooms("@intruder:test", ["!r2:test"]) == {}


def test_a_count_past_sqlite_integers_stores_the_room_but_no_preview() -> None:
    account = sample_account(2)
    room = account.rooms["!r1:test"]
    hostile = replace(room, server_main=replace(room.server_main, notifications=2**70))
    save_account(account.with_room(hostile))
    assert load_summaries(ME) is None
    loaded = load_account(ME)
    assert loaded is not None and loaded.rooms["!r1:test"].server_main.notifications == 2**70
    # Back in range: the preview is back.
    save_account(account, changed_room_ids=["!r1:test"])
    assert len(load_summaries(ME) or []) == 2


def test_summaries_written_under_other_rules_are_not_shown_and_are_rewritten() -> None:
    account = sample_account(3)
    save_account(account)
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'summary_version'")
        # What an older readmark might have counted.
        db.execute("UPDATE summaries SET unread = 99")
    assert load_summaries(ME) is None
    assert load_account(ME) is not None  # the rooms themselves are still good
    # The next save, even an incremental one of one room, rewrites every summary.
    save_account(account, changed_room_ids=["!r0:test"])
    summaries = _by_id(load_summaries(ME) or [])
    assert set(summaries) == set(account.rooms)
    assert all(s.unread.unread != 99 for s in summaries.values())


def test_ties_sort_by_room_id_whatever_order_the_rooms_come_in() -> None:
    rooms = [replace(sample_room(f"!{c}:test", count=1), name="General") for c in "zma"]
    keys = [summary_sort_key(summarize(room), RoomSort.ACTIVITY) for room in rooms]
    # Same name, activity and counts: only the room ID tells them apart, so no two keys
    # are equal and the order is the same whatever order the rooms came in.
    assert len(set(keys)) == 3
    assert [key[-1] for key in sorted(keys)] == ["!a:test", "!m:test", "!z:test"]
