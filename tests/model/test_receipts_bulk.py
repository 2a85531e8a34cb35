"""``apply_receipts``: many receipts at once, by exactly the rules of ``apply_receipt``
(exact key, never backwards between loaded events, my pending receipts cleared once
reached), with one copy of each mapping instead of one per receipt (issue 6: one at a
time was quadratic in a big room's initial sync)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, add_pending, apply_receipt, apply_receipts, merged_receipts
from tests.model.builders import ALICE, BOB, ME, msg, reply, room

PUB, PRIV = ReceiptType.PUBLIC, ReceiptType.PRIVATE


def one_at_a_time(state: RoomState, items: list[tuple[ReceiptKey, Receipt]]) -> RoomState:
    """The rule as it was written for a single receipt, applied item by item: the
    reference the bulk version must equal."""
    for key, receipt in items:
        current = state.receipts.get(key)
        if current is not None:
            old, new = state.index.get(current.event_id), state.index.get(receipt.event_id)
            if current.event_id == receipt.event_id or (old is not None and new is not None and new < old):
                continue
        receipts = dict(state.receipts)
        receipts[key] = receipt
        pending = state.pending
        waiting = pending.get(key)
        if waiting is not None:
            a, b = state.index.get(receipt.event_id), state.index.get(waiting.event_id)
            if receipt.event_id == waiting.event_id or (a is not None and b is not None and a >= b):
                pending = {k: v for k, v in pending.items() if k != key}
        state = replace(state, receipts=receipts, pending=pending)
    return state


def base() -> RoomState:
    return room(msg("$1"), msg("$2", BOB), reply("$3", "$1"), msg("$4"), reply("$5", "$1", BOB), msg("$6"))


def test_exact_key_only_unthreaded_and_main_never_replace_each_other() -> None:
    unthreaded, main = ReceiptKey(ME, PUB, None), ReceiptKey(ME, PUB, "main")
    state = apply_receipts(base(), [(unthreaded, Receipt("$4")), (main, Receipt("$2"))])
    assert state.receipts == {unthreaded: Receipt("$4"), main: Receipt("$2")}


def test_never_backwards_between_loaded_events_but_forwards_and_into_gaps() -> None:
    key = ReceiptKey(ALICE, PUB, None)
    state = apply_receipts(base(), [(key, Receipt("$4")), (key, Receipt("$2"))])
    assert state.receipts[key] == Receipt("$4")
    state = apply_receipts(state, [(key, Receipt("$6"))])
    assert state.receipts[key] == Receipt("$6")
    # An event that is not loaded cannot be ordered: it replaces (as apply_receipt does).
    state = apply_receipts(state, [(key, Receipt("$not-loaded"))])
    assert state.receipts[key] == Receipt("$not-loaded")


def test_clears_my_pending_receipt_once_reached_and_keeps_the_rest() -> None:
    reached, behind = ReceiptKey(ME, PRIV, None), ReceiptKey(ME, PRIV, "$1")
    state = add_pending(add_pending(base(), reached, Receipt("$4")), behind, Receipt("$5"))
    state = apply_receipts(state, [(reached, Receipt("$6")), (behind, Receipt("$3"))])
    assert state.pending == {behind: Receipt("$5")}
    assert state.receipts[reached] == Receipt("$6") and state.receipts[behind] == Receipt("$3")


def test_nothing_new_returns_the_same_room_and_leaves_the_mappings_alone() -> None:
    key = ReceiptKey(BOB, PUB, None)
    state = apply_receipt(base(), key, Receipt("$4"))
    assert apply_receipts(state, [(key, Receipt("$4")), (key, Receipt("$1"))]) is state
    assert apply_receipts(state, []) is state
    assert merged_receipts(state, [(key, Receipt("$2"))]) == (None, None)


def test_one_copy_for_many_receipts() -> None:
    state = add_pending(base(), ReceiptKey(ME, PRIV, "main"), Receipt("$6"))
    items = [(ReceiptKey(ME, PRIV, f"$thread{t}"), Receipt(f"$elsewhere{t}")) for t in range(3_000)]
    receipts, pending = merged_receipts(state, items)
    assert receipts is not None and len(receipts) == 3_000
    assert pending is None  # the pending main receipt was not reached: the mapping is kept
    assert state.receipts == {}  # the input is never mutated


EVENT_IDS = ["$1", "$2", "$3", "$4", "$5", "$6", "$gone"]
keys = st.builds(
    ReceiptKey,
    st.sampled_from([ME, ALICE, BOB]),
    st.sampled_from(list(ReceiptType)),
    st.sampled_from([None, "main", "$1"]),
)
receipts = st.builds(Receipt, st.sampled_from(EVENT_IDS), st.integers(0, 3))


@settings(max_examples=300, deadline=None)
@given(
    first=st.lists(st.tuples(keys, receipts), max_size=8),
    pending=st.lists(st.tuples(keys, receipts), max_size=4),
    items=st.lists(st.tuples(keys, receipts), max_size=25),
)
def test_equals_applying_one_at_a_time(first, pending, items) -> None:  # noqa: ANN001
    state = one_at_a_time(base(), first)
    for key, receipt in pending:
        state = add_pending(state, key, receipt)
    bulk = apply_receipts(state, items)
    expected = one_at_a_time(state, items)
    assert dict(bulk.receipts) == dict(expected.receipts)
    assert dict(bulk.pending) == dict(expected.pending)
    # apply_receipt (now a one-item apply_receipts) folds to the same result.
    folded = state
    for key, receipt in items:
        folded = apply_receipt(folded, key, receipt)
    assert dict(folded.receipts) == dict(expected.receipts) and dict(folded.pending) == dict(expected.pending)
