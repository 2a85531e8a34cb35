"""Unread counts: what counts, gaps and lower bounds, the server's counts beside ours."""

from __future__ import annotations

from app.model.ids import MAIN
from app.model.receipts import ReceiptType
from app.model.room import ServerCounts, add_timeline, backfill, set_fully_read, set_server_counts
from app.model.unread import room_unread, thread_unread, threads_unread

from tests.model.builders import ME, edit, msg, reaction, reply, room, with_receipts

PUB, PRIV = ReceiptType.PUBLIC, ReceiptType.PRIVATE


def test_only_messages_by_others_count() -> None:
    state = room(
        msg("$text"),
        msg("$enc", type="m.room.encrypted"),
        msg("$sticker", type="m.sticker"),
        msg("$poll", type="m.poll.start"),
        msg("$poll2", type="org.matrix.msc3381.poll.start"),
        msg("$mine", sender=ME),
        msg("$after-mine"),
        edit("$edit", "$after-mine"),
        reaction("$react", "$after-mine"),
        msg("$topic", type="m.room.topic", state_key=""),
        msg("$member", type="m.room.member", state_key="@x:test"),
        msg("$gone", redacted=True),
        msg("$call", type="m.call.invite"),
    )
    # Everything before my own message is read by it; after it, one message counts.
    assert thread_unread(state, MAIN).unread == 1
    without_mine = room(*[e for e in state.events if e.event_id != "$mine"])
    assert thread_unread(without_mine, MAIN).unread == 6


def test_redaction_event_marks_its_target_and_it_stops_counting() -> None:
    state = room(msg("$a"), msg("$b"))
    assert thread_unread(state, MAIN).unread == 2
    state = add_timeline(state, [msg("$r", type="m.room.redaction", redacts="$a")], limited=False)
    assert state.event("$a").redacted
    assert thread_unread(state, MAIN).unread == 1


def test_room_count_is_the_sum_of_its_threads() -> None:
    state = room(msg("$root"), reply("$r1", "$root"), reply("$r2", "$root"), msg("$m"))
    counts = room_unread(state)
    assert (counts.unread, counts.unread_threads) == (4, 1)
    assert sum(c.unread for c in threads_unread(state).values()) == 4


def test_a_limited_window_without_receipts_is_a_lower_bound() -> None:
    state = room(msg("$a"), msg("$b"), limited=True)
    counts = thread_unread(state, MAIN)
    assert (counts.unread, counts.lower_bound, counts.label()) == (2, True, "2+")
    assert room_unread(state).label() == "2+"


def test_a_complete_window_is_exact() -> None:
    counts = thread_unread(room(msg("$a"), msg("$b"), limited=False), MAIN)
    assert (counts.unread, counts.lower_bound, counts.label()) == (2, False, "2")


def test_receipt_inside_the_window_makes_the_count_exact() -> None:
    state = with_receipts(room(msg("$a"), msg("$b"), msg("$c"), limited=True), ("$a", PUB, None))
    counts = thread_unread(state, MAIN)
    assert (counts.unread, counts.lower_bound) == (2, False)


def test_gap_after_the_read_position_is_a_lower_bound() -> None:
    state = with_receipts(room(msg("$a"), msg("$b")), ("$a", PUB, None))
    state = add_timeline(state, [msg("$x"), msg("$y")], limited=True)
    counts = thread_unread(state, MAIN)
    assert (counts.unread, counts.lower_bound) == (3, True)


def test_receipt_pointing_into_missing_history_counts_only_after_the_gap() -> None:
    state = room(msg("$a"), msg("$b"), limited=False)
    state = add_timeline(state, [msg("$x"), msg("$y")], limited=True)
    state = with_receipts(state, ("$unknown", PRIV, None))
    counts = thread_unread(state, MAIN)
    # $unknown lies somewhere in the gap before $x: $x and $y are surely unread.
    assert (counts.unread, counts.lower_bound) == (2, True)


def test_a_thread_loaded_whole_is_exact_despite_room_gaps() -> None:
    state = room(msg("$m1"), reply("$r1", "$root"), limited=True)
    assert thread_unread(state, "$root").lower_bound
    first = state.events[0].ts
    state = backfill(state, [msg("$root", ts=first - 10), reply("$r0", "$root", ts=first - 5)], complete_thread="$root")
    counts = thread_unread(state, "$root")
    assert (counts.unread, counts.lower_bound) == (2, False)
    assert thread_unread(state, MAIN).lower_bound


def test_server_counts_kept_beside_and_missing_thread_means_zero() -> None:
    state = room(msg("$root"), reply("$r1", "$root"), msg("$m"))
    state = set_server_counts(state, ServerCounts(2, 1), {"$root": ServerCounts(1, 0)})
    assert thread_unread(state, MAIN).server == ServerCounts(2, 1)
    assert thread_unread(state, "$root").server == ServerCounts(1, 0)
    assert room_unread(state).notifications == 3 and room_unread(state).highlights == 1
    state = set_server_counts(state, ServerCounts(0, 0), {})
    assert thread_unread(state, "$root").server == ServerCounts(0, 0)
    # Local counts are the user's, independent of the server's.
    assert thread_unread(state, "$root").unread == 1


def test_server_count_for_an_unloaded_thread_is_listed_as_a_lower_bound() -> None:
    state = set_server_counts(room(msg("$m")), ServerCounts(), {"$far": ServerCounts(4, 0)})
    counts = threads_unread(state)["$far"]
    assert counts.lower_bound and counts.server.notifications == 4


def test_fully_read_falls_back_to_my_read_receipt() -> None:
    state = room(msg("$a"), msg("$b"), msg("$c"))
    assert state.fully_read_event() is None
    state = with_receipts(state, ("$b", PRIV, MAIN))
    assert state.fully_read_event() == "$b"
    state = set_fully_read(state, "$a")
    assert state.fully_read_event() == "$a"


def test_marked_unread_makes_a_read_room_ask_for_attention() -> None:
    from dataclasses import replace

    state = replace(room(), marked_unread=True)
    assert room_unread(state).has_unread and room_unread(state).unread == 0
