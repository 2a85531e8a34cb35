"""Room display names by the spec's algorithm; room order and the triage queue."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.model.account import AccountState, RoomSort, next_unread, sorted_rooms, sorted_threads, triage_queue
from app.model.ids import MAIN
from app.model.names import room_display_name
from app.model.receipts import ReceiptType
from app.model.room import RoomState, ServerCounts, add_timeline, set_server_counts

from tests.model.builders import ME, msg, reply, with_receipts


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"name": "Ops", "canonical_alias": "#ops:x"}, "Ops"),
        ({"name": "  ", "canonical_alias": "#ops:x"}, "#ops:x"),
        ({"heroes": ["Alice"], "joined": 2}, "Alice"),
        ({"heroes": ["Alice", "Bob"], "joined": 3}, "Alice and Bob"),
        ({"heroes": ["Alice", "Bob", "Carol"], "joined": 4}, "Alice, Bob and Carol"),
        ({"heroes": ["Alice", "Bob"], "joined": 6}, "Alice, Bob and 3 others"),
        ({"heroes": ["Alice"], "joined": 1, "invited": 1}, "Alice"),
        ({"heroes": ["Alice"], "joined": 1}, "Empty Room (was Alice)"),
        ({"joined": 1}, "Empty Room"),
    ],
)
def test_display_name(kwargs, expected) -> None:
    args = {"name": None, "canonical_alias": None, "heroes": [], "joined": 0, "invited": 0, "room_id": "!r:x"}
    args.update(kwargs)
    assert room_display_name(**args) == expected


def make_room(room_id: str, name: str, *events, highlights: int = 0) -> RoomState:
    state = add_timeline(RoomState(room_id, ME, name=name), events, limited=False)
    return set_server_counts(state, ServerCounts(highlights, highlights), {})


def account() -> list[RoomState]:
    quiet = with_receipts(make_room("!quiet:x", "Quiet", msg("$q1", ts=900)), ("$q1", ReceiptType.PUBLIC, None))
    ops = make_room("!ops:x", "Ops", msg("$o1", ts=100), reply("$o2", "$o1", ts=101), highlights=1)
    random = make_room("!random:x", "Random", msg("$r1", ts=500), msg("$r2", ts=501), reply("$r3", "$r1", ts=502))
    state = AccountState(ME)
    return list(state.with_rooms([quiet, ops, random]).rooms.values())


def test_rooms_sort_highlights_then_unread_then_activity() -> None:
    state = AccountState(ME).with_rooms(account())
    assert [r.name for r in sorted_rooms(state)] == ["Ops", "Random", "Quiet"]
    assert [r.name for r in sorted_rooms(state, RoomSort.NAME)] == ["Ops", "Quiet", "Random"]
    assert [r.name for r in sorted_rooms(state, RoomSort.UNREAD)] == ["Random", "Ops", "Quiet"]
    assert RoomSort.ACTIVITY.next() is RoomSort.UNREAD and RoomSort.NAME.next() is RoomSort.ACTIVITY


def test_invites_are_not_in_the_room_list() -> None:
    invite = replace(RoomState("!inv:x", ME, name="Invite"), membership="invite")
    state = AccountState(ME).with_rooms([*account(), invite])
    assert "Invite" not in [r.name for r in sorted_rooms(state)]


def test_threads_main_first_then_unread_then_activity() -> None:
    state = add_timeline(
        RoomState("!t:x", ME),
        [msg("$a", ts=1), msg("$b", ts=2), reply("$a1", "$a", ts=3), reply("$b1", "$b", ts=4)],
        limited=False,
    )
    state = with_receipts(state, ("$b1", ReceiptType.PRIVATE, "$b"))
    assert sorted_threads(state) == [MAIN, "$a", "$b"]


def test_triage_queue_and_next_unread_walk_across_rooms() -> None:
    rooms = sorted_rooms(AccountState(ME).with_rooms(account()))
    queue = triage_queue(rooms)
    assert queue == [("!ops:x", MAIN), ("!ops:x", "$o1"), ("!random:x", MAIN), ("!random:x", "$r1")]
    assert next_unread(rooms, None) == ("!ops:x", MAIN)
    assert next_unread(rooms, ("!ops:x", "$o1")) == ("!random:x", MAIN)
    assert next_unread(rooms, ("!random:x", "$r1")) == ("!ops:x", MAIN)  # wraps
    assert next_unread(rooms, ("!random:x", MAIN), backwards=True) == ("!ops:x", "$o1")
    assert next_unread(rooms, ("!quiet:x", MAIN)) == ("!ops:x", MAIN)  # wraps from the last room
    all_read = [with_receipts(r, (r.events[-1].event_id, ReceiptType.PRIVATE, None)) for r in rooms]
    assert next_unread(all_read, None) is None


def test_reading_a_thread_does_not_make_n_skip_the_next_one() -> None:
    from app.model.plan import ActionKind, ReceiptAction, apply_optimistic, plan

    state = add_timeline(
        RoomState("!t:x", ME, name="T"),
        [msg("$a", ts=1), msg("$b", ts=2), msg("$c", ts=3), reply("$c1", "$c", ts=4), reply("$b1", "$b", ts=5), reply("$a1", "$a", ts=6)],
        limited=False,
    )
    state = with_receipts(state, ("$c", ReceiptType.PRIVATE, MAIN))
    rooms = [state]
    first = next_unread(rooms, None)
    assert first == ("!t:x", "$a")
    # Read it, as `r` would; the pane now lists it below the unread ones.
    request = plan(state, ReceiptAction(ActionKind.THREADED, ReceiptType.PRIVATE, "$a"))
    rooms = [apply_optimistic(state, request)]
    assert sorted_threads(rooms[0]).index("$a") > sorted_threads(rooms[0]).index("$c")
    assert next_unread(rooms, first) == ("!t:x", "$b")
    assert next_unread(rooms, ("!t:x", "$b")) == ("!t:x", "$c")


def test_name_sort_uses_the_display_name_of_unnamed_rooms() -> None:
    from app.model.names import NameInputs

    dm = replace(RoomState("!dm:x", ME), name_inputs=NameInputs(heroes=("@zed:x",), joined=2), member_names={"@zed:x": "Zed"})
    named = RoomState("!n:x", ME, name="Alpha")
    state = AccountState(ME).with_rooms([dm, named])
    assert [r.room_id for r in sorted_rooms(state, RoomSort.NAME)] == ["!n:x", "!dm:x"]
