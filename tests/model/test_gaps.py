"""Filling missing history: a page of older events goes in place, and the gap closes,
or moves, with its pagination token."""

from __future__ import annotations

from app.model.ids import MAIN
from app.model.receipts import ReceiptType
from app.model.room import add_timeline, fill_gap, gap_before_latest
from app.model.unread import thread_unread

from tests.model.builders import msg, room, with_receipts


def test_sync_records_where_missing_history_can_be_fetched() -> None:
    state = add_timeline(room(), [msg("$x"), msg("$y")], limited=True, prev_batch="t1")
    assert gap_before_latest(state) == "$x" and state.gap_tokens == {"$x": "t1"}
    later = add_timeline(state, [msg("$z")], limited=True, prev_batch="t2")
    assert gap_before_latest(later) == "$z" and later.gap_tokens == {"$x": "t1", "$z": "t2"}


def test_start_gap_filled_to_the_room_start_makes_counts_exact() -> None:
    state = add_timeline(room(), [msg("$c"), msg("$d")], limited=True, prev_batch="t1")
    state = with_receipts(state, ("$a", ReceiptType.PRIVATE, None))
    assert thread_unread(state, MAIN).lower_bound
    partial = fill_gap(state, "$c", [msg("$b")], next_token="t2", exhausted=False)
    assert [e.event_id for e in partial.events] == ["$b", "$c", "$d"]
    assert partial.gap_tokens == {"$b": "t2"} and not partial.history_complete
    assert thread_unread(partial, MAIN).lower_bound
    whole = fill_gap(partial, "$b", [msg("$a")], next_token=None, exhausted=True)
    assert [e.event_id for e in whole.events] == ["$a", "$b", "$c", "$d"]
    assert whole.history_complete and whole.gap_tokens == {}
    counts = thread_unread(whole, MAIN)
    assert (counts.unread, counts.lower_bound) == (3, False)


def test_a_middle_gap_closes_when_the_page_reaches_loaded_events() -> None:
    state = room(msg("$a"), msg("$b"))
    state = with_receipts(state, ("$b", ReceiptType.PUBLIC, MAIN))
    state = add_timeline(state, [msg("$x"), msg("$y")], limited=True, prev_batch="t1")
    assert thread_unread(state, MAIN).lower_bound
    filled = fill_gap(state, "$x", [msg("$b"), msg("$v"), msg("$w")], next_token="t9", exhausted=False)
    assert [e.event_id for e in filled.events] == ["$a", "$b", "$v", "$w", "$x", "$y"]
    assert filled.gaps_before == frozenset() and filled.gap_tokens == {}
    counts = thread_unread(filled, MAIN)
    assert (counts.unread, counts.lower_bound) == (4, False)


def test_a_middle_gap_moves_back_when_the_page_is_not_enough() -> None:
    state = room(msg("$a"))
    state = add_timeline(state, [msg("$x")], limited=True, prev_batch="t1")
    moved = fill_gap(state, "$x", [msg("$v"), msg("$w")], next_token="t2", exhausted=False)
    assert moved.gaps_before == {"$v"} and moved.gap_tokens == {"$v": "t2"}
    assert gap_before_latest(moved) == "$v"


def test_finding_my_receipt_in_the_gap_makes_the_count_exact_even_if_more_is_missing() -> None:
    state = add_timeline(room(), [msg("$x"), msg("$y")], limited=True, prev_batch="t1")
    state = with_receipts(state, ("$w", ReceiptType.PRIVATE, None))
    filled = fill_gap(state, "$x", [msg("$w")], next_token="t2", exhausted=False)
    counts = thread_unread(filled, MAIN)
    assert (counts.unread, counts.lower_bound) == (2, False)


def test_filling_an_unknown_gap_changes_nothing() -> None:
    state = room(msg("$a"))
    assert fill_gap(state, "$nope", [msg("$b")], next_token=None, exhausted=True) is state
