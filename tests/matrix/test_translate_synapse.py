"""The translation against a real Synapse: the core's per-thread unread counts equal
Synapse's own per-thread notification counts, and fresh recordings translate like the
committed ones.

With the default push rules every text message from another user notifies, so on a room
holding only such messages the core's counts (``app.model.unread``) and the server's
(``unread_notifications`` for main, ``unread_thread_notifications`` per root) must agree
whatever receipts I have sent. Synapse updates counts asynchronously: each case waits
(``wait_for``) for the server to reach the expected counts, then syncs once and compares
the three: expectation, server, core.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.devserver.actor import CLIENT_V3, MatrixActor
from app.matrix.sync_filter import sync_filter
from app.matrix.translate import apply_sync, parse_sync
from app.model.account import AccountState
from app.model.ids import MAIN
from app.model.room import ServerCounts, SpaceParent
from app.model.unread import threads_unread

from tests.matrix.record_sync import record
from tests.matrix.test_translate import check_gap_scenario, check_threads_scenario

pytestmark = pytest.mark.synapse


@dataclass(frozen=True)
class Seeded:
    me: MatrixActor
    alice: MatrixActor
    room_id: str
    events: dict[str, str]


# Alice's messages in stream order: (label, thread root label or None, text).
SCRIPT: tuple[tuple[str, str | None, str], ...] = (
    ("m0", None, "main 0"), ("m1", None, "main 1"), ("r1", None, "root one"), ("t1_0", "r1", "one 0"),
    ("m2", None, "main 2"), ("t1_1", "r1", "one 1"), ("r2", None, "root two"), ("t2_0", "r2", "two 0"),
    ("t1_2", "r1", "one 2"), ("m3", None, "main 3"), ("t2_1", "r2", "two 1"),
)
# (event label, receipt type, thread: MAIN, a root label, or None for unthreaded)
Receipts = Sequence[tuple[str, str, str | None]]


def seed_room(make_actor: Callable[..., MatrixActor], receipts: Receipts = ()) -> Seeded:
    """Alice's messages, interleaved in stream order:
    m0 m1 r1 t1_0 m2 t1_1 r2 t2_0 t1_2 m3 t2_1 (r1, r2 thread roots; tN_i replies).

    Each of my receipts goes out right after its event, while that event is the latest of
    what the receipt covers: Synapse 1.163 does not apply a first receipt that points behind
    messages its 30 s rotation has already summed, until its next rotation and the room's
    next change (see app/devserver/seed.py, _Room._check_receipt_is_prompt). Sent after the
    whole script, a receipt on an early event gave wrong server counts now and then."""
    me, alice = make_actor("me"), make_actor("alice")
    # Joined without an invite: Synapse counts an invite's notification once its 30 s
    # rotation runs, in a room with no receipt of mine (see tests/matrix/record_sync.py).
    room_id = alice.create_room("Counts", preset="public_chat")
    me.join(room_id)
    e: dict[str, str] = {}
    for label, root, text in SCRIPT:
        e[label] = (alice.send_text(room_id, text) if root is None
                    else alice.send_thread_reply(room_id, e[root], text))
        for event, receipt_type, thread in receipts:
            if event == label:
                thread_id = None if thread is None else (MAIN if thread == MAIN else e[thread])
                me.send_receipt(room_id, e[event], receipt_type, thread_id=thread_id)
    return Seeded(me, alice, room_id, e)


@pytest.fixture
def seeded(make_actor: Callable[..., MatrixActor]) -> Seeded:
    return seed_room(make_actor)


def _server_counts(body: dict[str, Any], room_id: str) -> tuple[int, dict[str, int]]:
    room = body["rooms"]["join"][room_id]
    main = room["unread_notifications"]["notification_count"]
    threads = {root: c["notification_count"] for root, c in room.get("unread_thread_notifications", {}).items()}
    return main, {root: n for root, n in threads.items() if n}


def _core_counts(account: AccountState, room_id: str) -> tuple[int, dict[str, int]]:
    counts = threads_unread(account.rooms[room_id])
    assert not any(c.lower_bound for c in counts.values())
    return counts[MAIN].unread, {t: c.unread for t, c in counts.items() if t != MAIN and c.unread}


def _wait_for_server(seed: Seeded, main: int, threads: dict[str, int]) -> None:
    def settled() -> bool:
        notifications, _, per_thread = seed.me.unread_counts(seed.room_id)
        return notifications == main and {r: n for r, (n, _) in per_thread.items() if n} == threads

    MatrixActor.wait_for(settled, timeout=20)


# Each case: the receipts I send, then the expected (main, {thread label: count}).
CASES: dict[str, tuple[Receipts, int, dict[str, int]]] = {
    "nothing read": ([], 6, {"r1": 3, "r2": 2}),
    "threaded receipt in thread one": ([("t1_0", "m.read", "r1")], 6, {"r1": 2, "r2": 2}),
    "unthreaded receipt": ([("t1_1", "m.read", None)], 2, {"r1": 1, "r2": 2}),
    "private receipt on main": ([("m2", "m.read.private", MAIN)], 2, {"r1": 3, "r2": 2}),
    "private unthreaded and public threaded": (
        [("m1", "m.read.private", None), ("t2_0", "m.read", "r2")], 4, {"r1": 3, "r2": 1}
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_core_counts_equal_synapse_per_thread_counts(make_actor: Callable[..., MatrixActor], case: str) -> None:
    receipts, main, threads = CASES[case]
    seeded = seed_room(make_actor, receipts)
    e = seeded.events
    expected_threads = {e[label]: n for label, n in threads.items()}
    _wait_for_server(seeded, main, expected_threads)

    body = seeded.me.sync(filter=sync_filter())
    account = apply_sync(AccountState(seeded.me.user_id), parse_sync(body))

    assert _server_counts(body, seeded.room_id) == (main, expected_threads)
    assert _core_counts(account, seeded.room_id) == (main, expected_threads)
    room = account.rooms[seeded.room_id]
    # The push rules evaluated here notify for what Synapse counts, and highlight nothing.
    counts = threads_unread(room)
    assert counts[MAIN].local_notifications == main
    assert {t: c.local_notifications for t, c in counts.items() if t != MAIN and c.local_notifications} == expected_threads
    assert sum(c.local_highlights for c in counts.values()) == 0
    assert room.server_main.notifications == main
    assert {t: c.notifications for t, c in room.server_threads.items()} == expected_threads


def test_a_thread_read_in_an_incremental_sync_goes_to_zero_on_both_sides(seeded: Seeded) -> None:
    e = seeded.events
    _wait_for_server(seeded, 6, {e["r1"]: 3, e["r2"]: 2})
    first = seeded.me.sync(filter=sync_filter())
    account = apply_sync(AccountState(seeded.me.user_id), parse_sync(first))

    seeded.me.send_receipt(seeded.room_id, e["t1_2"], "m.read.private", thread_id=e["r1"])
    _wait_for_server(seeded, 6, {e["r2"]: 2})
    account = apply_sync(account, parse_sync(seeded.me.sync(since=first["next_batch"], filter=sync_filter())))

    room = account.rooms[seeded.room_id]
    assert _core_counts(account, seeded.room_id) == (6, {e["r2"]: 2})
    assert e["r1"] not in room.server_threads
    assert threads_unread(room)[e["r1"]].server == ServerCounts()


def test_fresh_recordings_translate_like_the_committed_ones(synapse, tmp_path: Path) -> None:  # noqa: ANN001
    written = record(synapse.base_url, tmp_path)
    assert {p.name.split(".")[0] for p in written} == {"threads", "gap"}
    # The filter lets an edit's new text through (the committed recordings predate that).
    labels = json.loads((tmp_path / "threads.labels.json").read_text(encoding="utf-8"))
    initial = json.loads((tmp_path / "threads.01-initial.json").read_text(encoding="utf-8"))
    lab = initial["rooms"]["join"][labels["rooms"]["lab"]]["timeline"]["events"]
    (edit,) = [event for event in lab if event["event_id"] == labels["events"]["edit_m1"]]
    assert edit["content"]["m.new_content"]["body"] == "hello, lab"
    check_threads_scenario(tmp_path)
    check_gap_scenario(tmp_path)


def test_local_push_rules_count_and_highlight_as_synapse_does(make_actor: Callable[..., MatrixActor]) -> None:
    """Notices, edits, reactions, mentions by m.mentions and of the room: the push rules
    evaluated here give the notification and highlight counts Synapse gives."""
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Rules", preset="public_chat")
    me.join(room)
    plain = alice.send_text(room, "plain words")
    alice.send_event(room, "m.room.message", {"msgtype": "m.notice", "body": "a bot says so"})
    alice.send_text(room, "look here", mentions=[me.user_id])
    alice.edit(room, plain, "plainer words")
    alice.react(room, plain, "👀")
    alice.send_event(room, "m.room.message", {"msgtype": "m.text", "body": "everyone!", "m.mentions": {"room": True}})
    alice.send_event(room, "m.room.message", {"msgtype": "m.text", "body": "no one", "m.mentions": {}})

    def settled() -> tuple[int, int] | None:
        notifications, highlights, _ = me.unread_counts(room)
        return (notifications, highlights) if (notifications, highlights) == (4, 2) else None

    # Synapse: plain, the mention, the room mention, "no one" notify; the mention and
    # the room mention (alice made the room: she may notify it) highlight.
    MatrixActor.wait_for(settled, timeout=20)
    body = me.sync(filter=sync_filter())
    account = apply_sync(AccountState(me.user_id), parse_sync(body))
    counts = threads_unread(account.rooms[room])[MAIN]
    assert (counts.local_notifications, counts.local_highlights) == (4, 2)
    server = body["rooms"]["join"][room]["unread_notifications"]
    assert (server["notification_count"], server["highlight_count"]) == (4, 2)


def _create_space(actor: MatrixActor, name: str, *, invite: Sequence[str] = ()) -> str:
    """A public space (m.room.create's type "m.space") where adding a child takes level 75."""
    body = {
        "preset": "public_chat",
        "name": name,
        "invite": list(invite),
        "creation_content": {"type": "m.space"},
        "power_level_content_override": {"events": {"m.space.child": 75}},
    }
    return actor.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]


def test_a_spaces_children_and_a_rooms_parent_come_through_the_filter(make_actor: Callable[..., MatrixActor]) -> None:
    """Through readmark's own filter: the space's type and m.space.child level, its child
    (with the event's time), the child's m.space.parent and its sender; an invite to a
    space is known as one from the stripped state; a child removed by an empty content is
    gone after the next incremental sync."""
    me, alice = make_actor("me"), make_actor("alice")
    server = alice.user_id.split(":", 1)[1]
    space = _create_space(alice, "Space")
    room = alice.create_room("Inside", preset="public_chat")
    alice.send_state(space, "m.space.child", {"via": [server], "order": "b"}, state_key=room)
    alice.send_state(room, "m.space.parent", {"via": [server], "canonical": True}, state_key=space)
    invited = _create_space(alice, "Invited", invite=[me.user_id])
    me.join(space)
    me.join(room)

    first = me.sync(filter=sync_filter())
    account = apply_sync(AccountState(me.user_id), parse_sync(first))
    joined_space, child = account.rooms[space], account.rooms[room]
    assert joined_space.room_type == "m.space" and joined_space.is_space
    assert joined_space.power.space_child == 75
    assert set(joined_space.space_children) == {room}
    assert joined_space.space_children[room].order == "b" and joined_space.space_children[room].ts > 0
    assert child.room_type is None and not child.is_space and child.space_children == {}
    assert child.space_parents == {space: SpaceParent(alice.user_id, True)}
    assert child.power.space_child == 50  # Synapse's default: state_default 50
    assert account.rooms[invited].membership == "invite" and account.rooms[invited].is_space

    alice.send_state(space, "m.space.child", {}, state_key=room)
    since = first["next_batch"]

    def removed() -> AccountState | None:
        later = apply_sync(account, parse_sync(me.sync(since=since, filter=sync_filter())))
        return later if room not in later.rooms[space].space_children else None

    # The removal reaches my sync stream after its send returns.
    later = MatrixActor.wait_for(removed, timeout=20)
    assert later.rooms[space].space_children == {}
    assert later.rooms[space].is_space and later.rooms[room].space_parents == account.rooms[room].space_parents
