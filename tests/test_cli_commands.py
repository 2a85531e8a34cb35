"""`readmark status` and `readmark mark` against the real Synapse, as a script uses them."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.matrix.session import save_session
from app.model.ids import MAIN

from tests.matrix.helpers import session_of

pytestmark = pytest.mark.synapse


@pytest.fixture
def seeded(make_actor):
    me, alice = make_actor("me"), make_actor("alice")
    # Public, not by invite: Synapse counts an invite's notification once its 30 s rotation
    # runs, in a room with no receipt of mine (see tests/matrix/record_sync.py).
    room = alice.create_room("Ops", preset="public_chat", alias_localpart=f"ops-{me.user_id[4:14]}")
    me.join(room)
    root = alice.send_text(room, "Deploy plan for Friday")
    replies = [alice.send_thread_reply(room, root, f"step {i}") for i in range(3)]
    alice.send_text(room, "lunch?", mentions=[me.user_id])
    last = alice.send_text(room, "anyone?")
    other = alice.create_room("Elsewhere", invite=[me.user_id])
    me.join(other)
    elsewhere = alice.send_text(other, "hi")
    save_session(session_of(me))
    return me, alice, room, root, replies, last, elsewhere


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_json_counts_equal_the_seed_and_synapse(seeded, capsys) -> None:
    me, alice, room, root, replies, last, elsewhere = seeded
    def settled_counts():
        counts = me.unread_counts(room)
        return counts if counts[0] == 3 and counts[2].get(root, (0, 0))[0] == 3 else None

    notifications, highlights, per_thread = me.wait_for(settled_counts)
    code, out, err = run(capsys, "status", "--json")
    assert code == 0 and err == ""
    document = json.loads(out)
    assert document["user_id"] == me.user_id
    ops = next(r for r in document["rooms"] if r["room_id"] == room)
    assert ops["name"] == "Ops"
    assert (ops["unread"], ops["unread_is_lower_bound"]) == (6, False)
    assert ops["highlights"] == highlights == 1
    threads = {t["thread_id"]: t for t in ops["threads"]}
    assert threads[MAIN]["unread"] == notifications == 3
    assert threads[root]["unread"] == per_thread[root][0] == 3
    assert threads[root]["root_preview"] == "Deploy plan for Friday"
    assert threads[root]["latest_event_id"] == replies[-1]
    assert threads[MAIN]["my_receipt"] == {"public": None, "private": None}
    assert [r["room_id"] for r in document["rooms"]][:1] == [room]  # highlights sort first


def test_mark_defaults_to_a_private_threaded_receipt_on_main(seeded, capsys) -> None:
    me, alice, room, root, replies, last, elsewhere = seeded
    code, out, err = run(capsys, "mark", room)
    assert (code, err) == (0, "")
    assert "private receipt" in out and last in out
    mine = me.wait_for(lambda: me.room_receipts(room).get(last, {}).get("m.read.private", {}).get(me.user_id))
    assert mine["thread_id"] == MAIN
    witness = alice.room_receipts(room)
    assert me.user_id not in json.dumps(witness)
    code, out, _ = run(capsys, "status", "--json")
    ops = next(r for r in json.loads(out)["rooms"] if r["room_id"] == room)
    main_thread = next(t for t in ops["threads"] if t["thread_id"] == MAIN)
    assert main_thread["unread"] == 0 and main_thread["my_receipt"]["private"] == last


def test_mark_public_in_a_thread_by_alias_then_unthreaded_then_fully_read(seeded, capsys) -> None:
    me, alice, room, root, replies, last, elsewhere = seeded
    alias = f"#ops-{me.user_id[4:14]}:{me.user_id.split(':', 1)[1]}"
    code, out, err = run(capsys, "mark", alias, "--public", "--thread", root)
    assert (code, err) == (0, ""), err
    seen = alice.wait_for(lambda: alice.room_receipts(room).get(replies[-1], {}).get("m.read", {}).get(me.user_id))
    assert seen["thread_id"] == root

    code, out, err = run(capsys, "mark", room, "--public", "--unthreaded")
    assert (code, err) == (0, "")
    seen = alice.wait_for(lambda: alice.room_receipts(room).get(last, {}).get("m.read", {}).get(me.user_id))
    assert "thread_id" not in seen

    code, out, err = run(capsys, "mark", room, "--fully-read", "--event", replies[0])
    assert (code, err) == (0, "")
    assert me.wait_for(lambda: me.fully_read(room) == replies[0])
    code, out, err = run(capsys, "mark", room, "--fully-read", "--event", root)
    assert code == 1 and "only moves forwards" in err


@pytest.mark.parametrize(
    ("argv", "message", "exit_code"),
    [
        (("mark", "{room}", "--thread", "{root}", "--event", "{last}"), "is not in this thread", 1),
        (("mark", "{room}", "--event", "{elsewhere}"), "is not in", 1),
        (("mark", "#nope-nothing:localhost"), "does not resolve", 1),
        (("mark", "!notjoined:localhost"), "not joined", 1),
        (("mark", "{room}", "--thread", "$not-a-thread"), "is not in", 1),
        (("mark", "{room}", "--thread", "main", "--unthreaded"), "not allowed with", 2),
        (("mark", "lobby"), "not a room ID", 2),
    ],
)
def test_bad_mark_arguments_send_nothing(seeded, capsys, argv, message, exit_code) -> None:
    me, alice, room, root, replies, last, elsewhere = seeded
    values = {"room": room, "root": root, "last": last, "elsewhere": elsewhere}
    code, out, err = run(capsys, *(a.format(**values) for a in argv))
    assert code == exit_code and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert me.user_id not in json.dumps(me.room_receipts(room))


def test_mark_a_thread_that_lies_beyond_the_sync_window(make_actor, capsys) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Busy", invite=[me.user_id])
    me.join(room)
    root = alice.send_text(room, "an old thread")
    replies = [alice.send_thread_reply(room, root, f"reply {i}") for i in range(2)]
    for i in range(35):
        alice.send_text(room, f"chatter {i}")
    save_session(session_of(me))
    code, out, err = run(capsys, "mark", room, "--public", "--thread", root)
    assert (code, err) == (0, ""), err
    seen = alice.wait_for(lambda: alice.room_receipts(room).get(replies[-1], {}).get("m.read", {}).get(me.user_id))
    assert seen["thread_id"] == root


def test_mark_fully_read_alone_needs_no_private_receipt_support(seeded, capsys) -> None:
    me, alice, room, root, replies, last, elsewhere = seeded
    code, out, err = run(capsys, "mark", room, "--fully-read", "--event", replies[-1])
    assert (code, err) == (0, "")
    assert "receipt" not in out
    assert me.wait_for(lambda: me.fully_read(room) == replies[-1])


def test_status_from_a_cache_without_a_token_lists_only_the_rooms_the_server_lists(seeded, capsys) -> None:
    """A cache with rooms but no sync token (the app's sync was refused, then it quit):
    the initial sync the command makes drops the rooms it does not list, for good."""
    from dataclasses import replace

    from app.matrix.sync_filter import sync_filter
    from app.matrix.translate import apply_sync, parse_sync
    from app.model.account import AccountState
    from app.store import cache

    me, alice, room, root, replies, last, elsewhere = seeded
    account = apply_sync(AccountState(me.user_id), parse_sync(me.sync(filter=sync_filter())))
    ghost = "!gone:localhost"
    rooms = {**account.rooms, ghost: replace(account.rooms[room], room_id=ghost)}
    cache.save_account(replace(account, rooms=rooms, next_batch=None), device_id=me.device_id)
    code, out, err = run(capsys, "status", "--json")
    assert code == 0, err
    listed = {r["room_id"] for r in json.loads(out)["rooms"]}
    assert room in listed and ghost not in listed
    stored = cache.load_account(me.user_id, device_id=me.device_id)
    assert stored is not None and ghost not in stored.rooms and stored.next_batch


def _flag_of(actor, room_id: str, event_type: str = "m.marked_unread") -> bool | None:
    """What another client of mine reads of the room's marked-unread flag."""
    from app.devserver.actor import MatrixHttpError

    try:
        content = actor.request("GET", f"/_matrix/client/v3/user/{actor.user_id}/rooms/{room_id}/account_data/{event_type}")
    except MatrixHttpError as error:
        if error.status == 404:
            return None
        raise
    return content.get("unread")


def test_mark_clears_the_marked_unread_flag_its_receipt_reads(seeded, capsys) -> None:
    """A room flagged unread by another client of mine (stable type in one room, Famedly's
    unstable one in the other): the fully-read marker alone keeps the flag; a receipt
    clears it on the server, where another client sees it, and in status --json."""
    me, alice, room, root, replies, last, elsewhere = seeded

    def flags() -> dict[str, bool]:
        code, out, err = run(capsys, "status", "--json")
        assert code == 0, err
        return {r["room_id"]: r["marked_unread"] for r in json.loads(out)["rooms"]}

    (other,) = set(flags()) - {room}
    account_data = f"/_matrix/client/v3/user/{me.user_id}/rooms"
    me.request("PUT", f"{account_data}/{room}/account_data/m.marked_unread", {"unread": True})
    me.request("PUT", f"{account_data}/{other}/account_data/com.famedly.marked_unread", {"unread": True})
    assert flags() == {room: True, other: True}
    code, out, err = run(capsys, "mark", room, "--fully-read", "--event", replies[0])
    assert (code, err) == (0, "") and "marked-unread" not in out
    assert _flag_of(me, room) is True
    code, out, err = run(capsys, "mark", room)
    assert (code, err) == (0, "")
    assert out.strip().endswith("in Ops; marked-unread flag cleared"), out
    assert _flag_of(me, room) is False
    code, out, err = run(capsys, "mark", other, "--unthreaded")
    assert (code, err) == (0, "") and out.strip().endswith("marked-unread flag cleared"), out
    assert _flag_of(me, other) is False
    assert flags() == {room: False, other: False}
    # Not flagged any more: a later receipt writes no flag and says nothing of one.
    code, out, err = run(capsys, "mark", room, "--unthreaded")
    assert code == 0 and "marked-unread" not in out, (out, err)


def test_a_famedly_flag_counts_only_where_the_stable_flag_is_absent(make_actor, capsys) -> None:
    """Famedly's unstable flag counts only in a room whose account data has no stable
    one, whether readmark reads it in an incremental sync (the Famedly type alone in it)
    or on a fresh start (both types in one sync, the stable one wins): a room a client
    of mine once cleared (the stable type, as readmark writes it) does not turn flagged
    when an older client flags it under Famedly's name, and reads the same after a
    restart; a room with no stable flag shows Famedly's either way."""
    from app.store import cache
    from tests.spaces import FAMEDLY_FLAG, set_flag

    me, alice = make_actor("me"), make_actor("alice")
    cleared, legacy = (alice.create_room(name, preset="public_chat") for name in ("Cleared once", "Legacy only"))
    for room_id in (cleared, legacy):
        me.join(room_id)
        alice.send_text(room_id, "hello")
    set_flag(me, cleared, False)
    save_session(session_of(me))

    def flags() -> dict[str, bool]:
        code, out, err = run(capsys, "status", "--json")
        assert code == 0, err
        return {r["room_id"]: r["marked_unread"] for r in json.loads(out)["rooms"]}

    assert flags() == {cleared: False, legacy: False}
    for room_id in (cleared, legacy):
        set_flag(me, room_id, True, FAMEDLY_FLAG)
    assert flags() == {cleared: False, legacy: True}  # from the cache, then an incremental sync
    cache.cache_path().unlink()
    assert flags() == {cleared: False, legacy: True}  # a fresh start: one initial sync
    # And the other way: a stable flag set later wins over Famedly's, which stays.
    set_flag(me, legacy, False)
    assert flags() == {cleared: False, legacy: False}
    set_flag(me, legacy, True, FAMEDLY_FLAG)
    assert flags() == {cleared: False, legacy: False}
