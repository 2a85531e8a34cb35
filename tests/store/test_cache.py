"""The SQLite read-state cache: exact round trips, incremental writes, bounded size, and
discarding anything unreadable without raising."""

from __future__ import annotations

import dataclasses
from contextlib import closing
import json
import logging
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import paths
from app.model.account import AccountState
from app.model.events import Membership, MsgType, TimelineEvent
from app.model.names import NameInputs
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RECEIPT_MODES, PowerLevels, RoomState, ServerCounts, SpaceChild, SpaceParent, add_pending, add_timeline
from app.model.unread import threads_unread
from app.store import cache
from app.store.cache import (
    MAX_EVENTS_PER_ROOM,
    SCHEMA_VERSION,
    CacheCorrupt,
    CacheError,
    cache_path,
    decode_room,
    delete_cache,
    encode_room,
    load_account,
    load_rooms,
    load_summaries,
    room_fields,
    save_account,
)

ME = "@me:test"
OTHER = "@alice:test"


def message(event_id: str, sender: str = OTHER, ts: int = 1, **fields: object) -> TimelineEvent:
    return TimelineEvent(event_id, sender, ts, "m.room.message", event_id, **fields)  # type: ignore[arg-type]


def sample_room(room_id: str = "!a:test", count: int = 3, name: str = "A room") -> RoomState:
    room = add_timeline(
        RoomState(room_id, ME, name=name),
        [message(f"${room_id[1:3]}{i}", ts=i) for i in range(count)],
        limited=True,
    )
    first = room.events[0].event_id
    return replace(
        room,
        receipts={
            ReceiptKey(ME, ReceiptType.PRIVATE, None): Receipt(first, 5),
            ReceiptKey(OTHER, ReceiptType.PUBLIC, "main"): Receipt(first, 6),
        },
        fully_read=first,
        server_main=ServerCounts(2, 1),
        server_threads={first: ServerCounts(1, 0)},
        name_inputs=NameInputs(name, None, (OTHER,), 2, 0),
        member_names={OTHER: "Alice"},
    )


def sample_account(rooms: int = 3) -> AccountState:
    return AccountState(ME, {f"!r{i}:test": sample_room(f"!r{i}:test") for i in range(rooms)}, next_batch="s1_2")


def assert_same(loaded: AccountState | None, expected: AccountState) -> None:
    assert loaded is not None
    assert loaded.user_id == expected.user_id
    assert loaded.next_batch == expected.next_batch
    assert set(loaded.rooms) == set(expected.rooms)
    for room_id, room in expected.rooms.items():
        assert room_fields(loaded.rooms[room_id]) == room_fields(room)


# ---- round trips -----------------------------------------------------------------


def test_the_cache_lives_in_the_platformdirs_cache_dir(xdg_dirs) -> None:
    save_account(sample_account())
    assert cache_path() == paths.cache_dir() / "readmark.sqlite3"
    assert cache_path().is_relative_to(xdg_dirs.cache)
    assert cache_path().exists()


def test_round_trip_is_exact() -> None:
    account = sample_account()
    save_account(account)
    assert_same(load_account(ME), account)


def test_the_rooms_m_direct_named_round_trip() -> None:
    account = replace(sample_account(), direct_rooms=frozenset({"!r1:test", "!not-joined:test"}))
    save_account(account)
    loaded = load_account(ME)
    assert loaded is not None and loaded.direct_rooms == account.direct_rooms
    save_account(replace(account, direct_rooms=None), changed_room_ids=())
    assert load_account(ME).direct_rooms is None  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["[", "{}", '["no room"]', "[5]"])
def test_bad_direct_rooms_discard_the_cache(text: str) -> None:
    save_account(sample_account())
    with closing(sqlite3.connect(cache_path())) as db, db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'direct_rooms'", (text,))
    assert load_account(ME) is None
    assert not cache_path().exists()


def test_no_cache_gives_none_without_creating_a_file() -> None:
    assert load_account(ME) is None
    assert not cache_path().exists()


def test_pending_receipts_are_not_cached() -> None:
    room = sample_room()
    room = add_pending(room, ReceiptKey(ME, ReceiptType.PUBLIC, "main"), Receipt(room.events[-1].event_id))
    save_account(AccountState(ME, {room.room_id: room}))
    loaded = load_account(ME)
    assert loaded is not None
    assert dict(loaded.rooms[room.room_id].pending) == {}
    assert room_fields(loaded.rooms[room.room_id]) == room_fields(room)


def test_counts_survive_the_round_trip() -> None:
    room = sample_room(count=5)
    save_account(AccountState(ME, {room.room_id: room}))
    loaded = load_account(ME)
    assert loaded is not None
    assert threads_unread(loaded.rooms[room.room_id]) == threads_unread(room)


_text = st.text(max_size=12)  # any code point, lone surrogates and controls included
_ids = st.text(min_size=1, max_size=8)
_opt = st.none() | _ids


@st.composite
def rooms(draw: st.DrawFn) -> RoomState:
    event_ids = draw(st.lists(_ids, unique=True, max_size=8))
    events = tuple(
        TimelineEvent(
            event_id=event_id,
            sender=draw(_ids),
            ts=draw(st.integers(min_value=-(2**63), max_value=2**63)),
            type=draw(_ids),
            body=draw(_text),
            rel_type=draw(st.none() | st.sampled_from(["m.thread", "m.replace", "m.annotation", "x"])),
            relates_to=draw(st.none() | st.sampled_from(event_ids) | _ids),
            state_key=draw(st.none() | _text),
            redacted=draw(st.booleans()),
            redacts=draw(_opt),
            thread_reply_count=draw(st.none() | st.integers(min_value=0, max_value=10**6)),
            msgtype=draw(st.none() | st.sampled_from(list(MsgType))),
            membership=draw(st.none() | st.sampled_from(list(Membership))),
            member_name=draw(_text),
            key=draw(_text),
        )
        for event_id in event_ids
    )
    receipt_keys = st.builds(
        ReceiptKey, _ids, st.sampled_from(list(ReceiptType)), st.none() | st.just("main") | _ids
    )
    return RoomState(
        room_id=draw(_ids),
        me=ME,
        name=draw(_text),
        membership=draw(st.sampled_from(["join", "invite"])),
        is_direct=draw(st.booleans()),
        events=events,
        gaps_before=frozenset(draw(st.lists(st.sampled_from(event_ids), max_size=3)) if event_ids else []),
        history_complete=draw(st.booleans()),
        complete_threads=frozenset(draw(st.lists(_ids, max_size=3))),
        receipts=draw(st.dictionaries(receipt_keys, st.builds(Receipt, _ids, st.integers()), max_size=4)),
        fully_read=draw(_opt),
        server_main=draw(st.builds(ServerCounts, st.integers(0, 999), st.integers(0, 999))),
        server_threads=draw(
            st.dictionaries(_ids, st.builds(ServerCounts, st.integers(0, 99), st.integers(0, 99)), max_size=3)
        ),
        marked_unread=draw(st.booleans()),
        name_inputs=draw(
            st.builds(NameInputs, _opt, _opt, st.lists(_ids, max_size=5).map(tuple), st.integers(0, 99), st.integers(0, 99))
        ),
        member_names=draw(st.dictionaries(_ids, _text, max_size=4)),
        encrypted=draw(st.booleans()),
        power=draw(st.builds(
            PowerLevels, st.integers(-100, 100), st.integers(-100, 100),
            st.dictionaries(_ids, st.integers(-100, 100), max_size=3), st.frozensets(_ids, max_size=2),
            st.integers(-100, 100),
        )),
        room_type=draw(st.none() | st.just("m.space") | _ids),
        space_children=draw(st.dictionaries(_ids, st.builds(SpaceChild, _opt, st.integers()), max_size=4)),
        space_parents=draw(st.dictionaries(_ids, st.builds(SpaceParent, _ids, st.booleans()), max_size=3)),
        join_rule=draw(st.none() | st.sampled_from(["public", "invite", "knock"]) | _ids),
        history_visibility=draw(st.none() | st.sampled_from(["shared", "world_readable"]) | _ids),
        receipt_override=draw(st.none() | st.sampled_from(RECEIPT_MODES)),
        marked_unread_stable=draw(st.booleans()),
    )


@settings(max_examples=200, deadline=None)
@given(room=rooms())
def test_encoding_round_trips_any_room(room: RoomState) -> None:
    assert room_fields(decode_room(room.room_id, ME, encode_room(room))) == room_fields(room)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=st.lists(rooms(), max_size=4), next_batch=st.none() | st.text(min_size=1, max_size=10))
def test_database_round_trips_any_account(tmp_path: Path, generated: list[RoomState], next_batch: str | None) -> None:
    path = tmp_path / "fuzz.sqlite3"
    account = AccountState(ME, {room.room_id: room for room in generated}, next_batch=next_batch)
    save_account(account, path=path)
    assert_same(load_account(ME, path=path), account)
    delete_cache(path)


def _space_room() -> RoomState:
    """A space with every space fact set, and a parent of its own."""
    return replace(
        sample_room("!space:test", name="A space"),
        room_type="m.space",
        space_children={"!a:test": SpaceChild("a", 5), "!b:test": SpaceChild(None, 0), "!c:test": SpaceChild(" ~", -1)},
        space_parents={"!outer:test": SpaceParent(OTHER, True), "!other:test": SpaceParent(ME, False)},
        power=PowerLevels(0, 50, {OTHER: 100}, frozenset({OTHER}), space_child=75),
    )


def test_a_spaces_facts_round_trip() -> None:
    room = _space_room()
    restored = decode_room(room.room_id, ME, encode_room(room))
    assert room_fields(restored) == room_fields(room)
    assert restored.is_space and restored.power.space_child == 75
    assert restored.space_children["!a:test"] == SpaceChild("a", 5)
    assert restored.space_parents["!outer:test"] == SpaceParent(OTHER, True)
    save_account(AccountState(ME, {room.room_id: room}))
    assert_same(load_account(ME), AccountState(ME, {room.room_id: room}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (16, [0, 50, {}, []]),  # the power levels of schema 5: no space_child
        (16, [0, 50, {}, [], "75"]),
        (16, [0, 50, {}, [], 75, 1]),
        (17, 7),
        (17, ["m.space"]),
        (18, [["!a:test", "a", 5]]),
        (18, {"!a:test": ["a"]}),
        (18, {"!a:test": ["a", 5, 6]}),
        (18, {"!a:test": [7, 5]}),
        (18, {"!a:test": ["a", "5"]}),
        (18, {"!a:test": {"order": "a", "ts": 5}}),
        (19, None),
        (19, {"!outer:test": [OTHER, "yes"]}),
        (19, {"!outer:test": [None, True]}),
        (19, {"!outer:test": OTHER}),
    ],
)
def test_a_bad_space_fact_raises_cache_corrupt_and_discards_the_cache(field: int, value: object) -> None:
    _assert_a_bad_field_discards(_space_room(), field, value)


def test_a_room_row_of_schema_5_raises_cache_corrupt() -> None:
    row = json.loads(encode_room(_space_room()))
    with pytest.raises(CacheCorrupt):
        decode_room("!space:test", ME, json.dumps(row[:17]).encode())


def _policy_room(mode: str | None = "none") -> RoomState:
    """A room with the receipt policy's facts set."""
    return replace(
        sample_room("!policy:test", name="Policy"),
        join_rule="public",
        history_visibility="world_readable",
        receipt_override=mode,
    )


@pytest.mark.parametrize("mode", [*RECEIPT_MODES, None])
def test_a_rooms_policy_facts_round_trip(mode: str | None) -> None:
    room = _policy_room(mode)
    restored = decode_room(room.room_id, ME, encode_room(room))
    assert room_fields(restored) == room_fields(room)
    assert (restored.join_rule, restored.history_visibility, restored.receipt_override) == (
        "public", "world_readable", mode
    )
    save_account(AccountState(ME, {room.room_id: room}))
    assert_same(load_account(ME), AccountState(ME, {room.room_id: room}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (20, 7),
        (20, ["public"]),
        (21, {"history_visibility": "shared"}),
        (21, True),
        (22, "loud"),
        (22, ""),
        (22, 0),
        (22, ["none"]),
        (22, {"mode": "none"}),
    ],
)
def test_a_bad_policy_fact_raises_cache_corrupt_and_discards_the_cache(field: int, value: object) -> None:
    _assert_a_bad_field_discards(_policy_room(), field, value)


def _assert_a_bad_field_discards(room, field: int, value: object) -> None:  # noqa: ANN001 - a RoomState
    """A room row with ``value`` at ``field`` raises CacheCorrupt, and a cache holding it
    is discarded whole on load."""
    row = json.loads(encode_room(room))
    row[field] = value
    data = json.dumps(row).encode()
    with pytest.raises(CacheCorrupt):
        decode_room(room.room_id, ME, data)
    save_account(AccountState(ME, {room.room_id: room}))
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE rooms SET data = ? WHERE room_id = ?", (data, room.room_id))
    assert load_account(ME) is None
    assert not cache_path().exists()


def test_a_room_row_of_schema_6_raises_cache_corrupt() -> None:
    row = json.loads(encode_room(_policy_room()))
    with pytest.raises(CacheCorrupt):
        decode_room("!policy:test", ME, json.dumps(row[:20]).encode())


def test_a_room_row_of_schema_7_raises_cache_corrupt_and_a_bad_stable_flag_discards() -> None:
    """Schema 7 did not say whether the account data held the stable m.marked_unread."""
    room = replace(_policy_room(), marked_unread=True, marked_unread_stable=True)
    row = json.loads(encode_room(room))
    assert row[23] is True
    with pytest.raises(CacheCorrupt):
        decode_room(room.room_id, ME, json.dumps(row[:23]).encode())
    _assert_a_bad_field_discards(room, 23, 1)


# ---- incremental writes ------------------------------------------------------------


def _raw_row(room_id: str) -> bytes:
    with sqlite3.connect(cache_path()) as db:
        return db.execute("SELECT data FROM rooms WHERE room_id = ?", (room_id,)).fetchone()[0]


def _plant(room_id: str, room: RoomState) -> None:
    """Overwrite a row behind the cache's back: if a later save rewrites it, the plant is gone."""
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE rooms SET data = ? WHERE room_id = ?", (encode_room(room), room_id))


def test_only_changed_rooms_are_written() -> None:
    account = sample_account(3)
    save_account(account)
    planted = replace(account.rooms["!r1:test"], name="planted")
    _plant("!r1:test", planted)

    changed = replace(account.rooms["!r0:test"], name="renamed")
    account = replace(account.with_room(changed), next_batch="s2")
    save_account(account, changed_room_ids=["!r0:test"])

    loaded = load_account(ME)
    assert loaded is not None
    assert loaded.next_batch == "s2"
    assert loaded.rooms["!r0:test"].name == "renamed"
    assert loaded.rooms["!r1:test"].name == "planted"  # not rewritten
    assert loaded.rooms["!r2:test"].name == "A room"


def test_a_full_save_rewrites_everything() -> None:
    account = sample_account(2)
    save_account(account)
    _plant("!r1:test", replace(account.rooms["!r1:test"], name="planted"))
    save_account(account)
    assert_same(load_account(ME), account)


def test_a_removed_room_is_deleted() -> None:
    account = sample_account(3)
    save_account(account)
    rooms = dict(account.rooms)
    del rooms["!r2:test"]
    account = replace(account, rooms=rooms)
    save_account(account, changed_room_ids=["!r2:test"])
    assert_same(load_account(ME), account)


def test_a_removed_room_the_caller_forgot_is_deleted_too() -> None:
    account = sample_account(3)
    save_account(account)
    rooms = dict(account.rooms)
    del rooms["!r2:test"]
    rooms["!r0:test"] = replace(rooms["!r0:test"], name="changed")
    account = replace(account, rooms=rooms)
    save_account(account, changed_room_ids=["!r0:test"])
    assert_same(load_account(ME), account)
    # And the row count kept in meta is right again: the next incremental save is plain.
    save_account(account, changed_room_ids=[])
    assert_same(load_account(ME), account)


def test_an_incremental_save_over_no_cache_writes_everything() -> None:
    account = sample_account(3)
    save_account(account, changed_room_ids=["!r0:test"])
    assert_same(load_account(ME), account)


def test_an_incremental_save_over_another_users_cache_writes_everything() -> None:
    save_account(replace(sample_account(2), user_id="@someone:else"))
    account = sample_account(3)
    save_account(account, changed_room_ids=["!r0:test"])
    assert_same(load_account(ME), account)


# ---- bounded size ----------------------------------------------------------------------


def test_events_are_capped_with_a_gap_before_the_newest_kept() -> None:
    total = MAX_EVENTS_PER_ROOM + 40
    room = add_timeline(RoomState("!big:test", ME), [message(f"$e{i}", ts=i) for i in range(total)], limited=False)
    assert room.history_complete
    save_account(AccountState(ME, {room.room_id: room}))
    loaded = load_account(ME)
    assert loaded is not None
    kept = loaded.rooms[room.room_id]
    assert [e.event_id for e in kept.events] == [f"$e{i}" for i in range(40, total)]
    assert not kept.history_complete
    assert "$e40" in kept.gaps_before
    assert threads_unread(kept)["main"].lower_bound


def test_capping_drops_complete_threads_that_lost_events() -> None:
    events = [message("$root", ts=0)]
    events += [message(f"$t{i}", ts=1 + i, rel_type="m.thread", relates_to="$root") for i in range(3)]
    events += [message(f"$e{i}", ts=10 + i) for i in range(MAX_EVENTS_PER_ROOM)]
    room = replace(
        add_timeline(RoomState("!big:test", ME), events, limited=False),
        complete_threads=frozenset({"$root", "$other"}),
    )
    loaded = decode_room(room.room_id, ME, encode_room(room))
    assert loaded.complete_threads == frozenset({"$other"})
    assert len(loaded.events) == MAX_EVENTS_PER_ROOM


# ---- discarding what cannot be read --------------------------------------------------


def _write(content: bytes) -> None:
    cache_path().parent.mkdir(parents=True, exist_ok=True)
    cache_path().write_bytes(content)


def test_a_corrupt_file_is_discarded_and_replaced(caplog: pytest.LogCaptureFixture) -> None:
    _write(b"this is not a database at all" * 100)
    with caplog.at_level(logging.WARNING, logger="app.store.cache"):
        assert load_account(ME) is None
    assert not cache_path().exists()
    assert "discarding the cache" in caplog.text
    account = sample_account()
    save_account(account)
    assert_same(load_account(ME), account)


def test_saving_over_a_corrupt_file_replaces_it() -> None:
    _write(b"\x00garbage" * 1000)
    account = sample_account()
    save_account(account, changed_room_ids=["!r0:test"])
    assert_same(load_account(ME), account)


def test_a_truncated_file_is_discarded() -> None:
    account = AccountState(ME, {f"!r{i}:test": sample_room(f"!r{i}:test", count=200) for i in range(20)}, "s")
    save_account(account)
    data = cache_path().read_bytes()
    assert len(data) > 64 * 1024
    _write(data[: len(data) // 2])
    assert load_account(ME) is None
    assert not cache_path().exists()


def test_a_malformed_room_row_discards_the_cache() -> None:
    save_account(sample_account())
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE rooms SET data = ? WHERE room_id = '!r1:test'", (b'["only", "three", 1]',))
    assert load_account(ME) is None
    assert not cache_path().exists()


def _facts_room() -> RoomState:
    """One event of each msgtype and each membership, and a reaction with its key."""
    events = [message(f"$m{i}", msgtype=kind) for i, kind in enumerate(MsgType)]
    events += [
        TimelineEvent(f"$j{i}", OTHER, 1, "m.room.member", state_key=OTHER, membership=change, member_name="Alice")
        for i, change in enumerate(Membership)
    ]
    events.append(TimelineEvent("$r", OTHER, 1, "m.reaction", rel_type="m.annotation", relates_to="$m0", key="🎂"))
    return add_timeline(RoomState("!facts:test", ME), events, limited=False)


def test_events_facts_round_trip_as_their_enums() -> None:
    room = _facts_room()
    save_account(AccountState(ME, {room.room_id: room}))
    loaded = load_account(ME)
    assert loaded is not None
    assert room_fields(loaded.rooms[room.room_id]) == room_fields(room)
    events = loaded.rooms[room.room_id].events
    assert [e.msgtype for e in events[: len(MsgType)]] == list(MsgType)
    assert all(type(e.msgtype) is MsgType for e in events[: len(MsgType)])
    assert [e.membership for e in events[len(MsgType) : -1]] == list(Membership)
    assert all(type(e.membership) is Membership for e in events[len(MsgType) : -1])
    assert (events[-1].key, events[-1].member_name, events[-2].member_name) == ("🎂", "", "Alice")


def test_an_event_row_holds_every_field_of_an_event() -> None:
    """A new TimelineEvent field must reach the cache, and with it a new SCHEMA_VERSION.
    All but ``undecryptable``: why an event could not be decrypted is found again after a
    restart, when decryption is tried again."""
    (event,) = json.loads(encode_room(add_timeline(RoomState("!a:test", ME), [message("$a")], limited=False)))[3]
    assert len(event) == len(dataclasses.fields(TimelineEvent)) - 1 == 17
    assert SCHEMA_VERSION == 8


def test_a_decrypted_event_reaches_the_disk_as_its_ciphertext_only() -> None:
    ciphertext = '{"algorithm":"m.megolm.v1.aes-sha2","ciphertext":"AwgAEnAC","session_id":"S","sender_key":"K"}'
    decrypted = TimelineEvent("$e", "@alice:test", 5, "m.room.message", "the launch code is 1234",
                              rel_type="m.thread", relates_to="$root", msgtype=MsgType.TEXT, member_name="Alice",
                              key="", ciphertext=ciphertext)
    reaction = TimelineEvent("$r", "@alice:test", 6, "m.reaction", rel_type="m.annotation", relates_to="$e",
                             key="🤫", ciphertext=ciphertext, undecryptable="")
    room = add_timeline(RoomState("!a:test", ME, encrypted=True), [decrypted, reaction], limited=False)
    data = encode_room(room)
    assert b"launch code" not in data and "🤫".encode() not in data and b"Alice" not in data
    restored = decode_room("!a:test", ME, data)
    assert restored.encrypted
    first, second = restored.events
    assert (first.type, first.body, first.msgtype, first.ciphertext) == ("m.room.encrypted", "", None, ciphertext)
    assert (first.rel_type, first.relates_to) == ("m.thread", "$root")  # cleartext: kept
    assert (second.type, second.key, second.rel_type, second.relates_to) == ("m.room.encrypted", "", "m.annotation", "$e")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (11, "m.image"),  # the wire's name, not the model's
        (11, "IMAGE"),
        (11, 3),
        (11, ["image"]),
        (12, "joined"),
        (12, {"join": 1}),
        (13, None),
        (13, 7),
        (14, None),
        (14, ["🎂"]),
    ],
)
def test_an_event_with_a_bad_fact_discards_the_cache(field: int, value: object) -> None:
    room = _facts_room()
    save_account(AccountState(ME, {room.room_id: room}))
    row = json.loads(_raw_row(room.room_id))
    row[3][0][field] = value
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE rooms SET data = ? WHERE room_id = ?", (json.dumps(row).encode(), room.room_id))
    assert load_account(ME) is None
    assert not cache_path().exists()


def test_a_cache_of_event_texts_is_discarded_once_then_rewritten(caplog: pytest.LogCaptureFixture) -> None:
    """A cache written before events kept facts (schema 3: events of 11 fields, their
    English text in ``body``) is discarded, and the next save writes schema 4 in full."""
    account = sample_account(2)
    save_account(account)
    with sqlite3.connect(cache_path()) as db:
        for room_id, data in db.execute("SELECT room_id, data FROM rooms").fetchall():
            row = json.loads(data)
            row[3] = [event[:11] for event in row[3]]
            db.execute("UPDATE rooms SET data = ? WHERE room_id = ?", (json.dumps(row).encode(), room_id))
        db.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    assert load_summaries(ME) is None  # no preview from it either
    with caplog.at_level(logging.WARNING, logger="app.store.cache"):
        assert load_account(ME) is None
    assert f"schema version 3, this readmark uses {SCHEMA_VERSION}" in caplog.text
    assert not cache_path().exists()
    save_account(account, changed_room_ids=["!r0:test"])  # an incremental save over nothing: all of it
    assert_same(load_account(ME), account)


def test_an_old_event_shape_under_the_new_version_discards_the_cache() -> None:
    save_account(sample_account())
    row = json.loads(_raw_row("!r1:test"))
    row[3] = [event[:11] for event in row[3]]
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE rooms SET data = ? WHERE room_id = '!r1:test'", (json.dumps(row).encode(),))
    assert load_account(ME) is None
    assert not cache_path().exists()


def test_a_row_with_wrong_types_discards_the_cache() -> None:
    save_account(sample_account())
    row = _raw_row("!r1:test").replace(b'"m.room.message"', b"42", 1)
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE rooms SET data = ? WHERE room_id = '!r1:test'", (row,))
    assert load_account(ME) is None


def test_an_older_schema_is_discarded(caplog: pytest.LogCaptureFixture) -> None:
    save_account(sample_account())
    with sqlite3.connect(cache_path()) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION - 1),))
    with caplog.at_level(logging.WARNING, logger="app.store.cache"):
        assert load_account(ME) is None
    assert "schema version" in caplog.text
    assert not cache_path().exists()


def test_a_database_without_our_tables_is_discarded() -> None:
    cache_path().parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(cache_path()) as db:
        db.execute("CREATE TABLE something (x)")
    assert load_account(ME) is None
    assert not cache_path().exists()


def test_another_users_cache_is_discarded() -> None:
    save_account(sample_account())
    assert load_account("@intruder:test") is None
    assert not cache_path().exists()
    assert load_account(ME) is None


def test_the_cache_of_another_login_of_the_same_user_is_discarded(caplog: pytest.LogCaptureFixture) -> None:
    """A new login starts from a fresh sync: the old one's token and rooms may belong to a
    homeserver that is gone (wiped and set up again under the same user ID)."""
    account = sample_account(2)
    save_account(account, device_id="OLD")
    assert_same(load_account(ME, device_id="OLD"), account)
    assert load_summaries(ME, device_id="NEW") is None  # never discards: load_account decides
    assert load_rooms(ME, ["!r0:test"], device_id="NEW") == {}
    assert cache_path().exists()
    with caplog.at_level(logging.WARNING, logger="app.store.cache"):
        assert load_account(ME, device_id="NEW") is None
    assert "another login" in caplog.text
    assert not cache_path().exists()


def test_a_cache_without_its_login_is_discarded_by_a_caller_that_names_one() -> None:
    """Caches written before the login was recorded: discarded once, at the first start."""
    save_account(sample_account(2))
    assert load_account(ME, device_id="DEV") is None
    assert not cache_path().exists()


def test_an_incremental_save_by_another_login_writes_everything() -> None:
    save_account(sample_account(3), device_id="OLD")
    rooms = {f"!r{i}:test": sample_room(f"!r{i}:test", count=1, name="Seen by the new login") for i in range(3)}
    account = AccountState(ME, rooms, next_batch="s_new")
    save_account(account, changed_room_ids=["!r0:test"], device_id="NEW")
    assert_same(load_account(ME, device_id="NEW"), account)  # no room left as the old login saw it


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(max_size=4096), keep=st.integers(min_value=0, max_value=100_000))
def test_loading_never_raises(tmp_path: Path, garbage: bytes, keep: int) -> None:
    path = tmp_path / "fuzz.sqlite3"
    save_account(sample_account(), path=path)
    data = path.read_bytes()
    path.write_bytes(data[:keep] + garbage)
    result = load_account(ME, path=path)
    assert result is None or isinstance(result, AccountState)
    delete_cache(path)


def test_delete_cache_removes_every_file() -> None:
    save_account(sample_account())
    delete_cache()
    assert not list(cache_path().parent.glob("readmark.sqlite3*"))
    delete_cache()  # nothing left: still fine


def test_an_unwritable_place_raises_cache_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(CacheError) as caught:
        save_account(sample_account(), path=blocker / "readmark.sqlite3")
    assert isinstance(caught.value, OSError)
    assert "could not write the cache" in str(caught.value)


def _recorded_accounts() -> list[AccountState]:
    """The accounts the recorded syncs of tests/matrix/recorded translate into, step by step."""
    from app.matrix.translate import apply_sync, parse_sync

    recorded = Path(__file__).parent.parent / "matrix" / "recorded"
    accounts = []
    for scenario in ("threads", "gap"):
        labels = json.loads((recorded / f"{scenario}.labels.json").read_text(encoding="utf-8"))
        account = AccountState(labels["users"]["me"])
        for step in sorted(recorded.glob(f"{scenario}.[0-9][0-9]-*.json")):
            account = apply_sync(account, parse_sync(step.read_bytes()))
            accounts.append(account)
    return accounts


def test_recorded_accounts_round_trip_exactly_incrementally_saved() -> None:
    accounts = _recorded_accounts()
    assert len(accounts) == 5
    previous: AccountState | None = None
    for account in accounts:
        if previous is None or previous.user_id != account.user_id:
            save_account(account)
        else:
            changed = {r for r in account.rooms if previous.rooms.get(r) is not account.rooms[r]}
            changed |= set(previous.rooms) - set(account.rooms)
            save_account(account, changed_room_ids=changed)
        assert_same(load_account(account.user_id), account)
        previous = account


def test_a_locked_cache_is_kept_not_discarded(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    account = sample_account()
    save_account(account)
    monkeypatch.setattr(cache, "_CONNECT_TIMEOUT", 0.05)
    holder = sqlite3.connect(cache_path(), isolation_level=None)
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        with caplog.at_level(logging.WARNING, logger="app.store.cache"):
            assert load_account(ME) is None
        assert "could not be read" in caplog.text
        assert cache_path().exists()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_same(load_account(ME), account)
