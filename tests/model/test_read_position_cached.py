"""``read_position`` takes my receipts from a per-state table (issue 6: it looked each
key up for every thread); it must answer what the per-key definition answers, with
confirmed and pending receipts, loaded and not loaded events, every thread."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import ReadPosition, RoomState, add_pending, apply_receipt
from tests.model.builders import ALICE, BOB, ME, msg, reply, room


def by_definition(state: RoomState, thread_id: str) -> ReadPosition:
    best, unresolved = -1, False
    for receipt_type in ReceiptType:
        for key_thread in (None, thread_id):
            receipt = state.my_receipt(receipt_type, key_thread)
            if receipt is None:
                continue
            position = state.index.get(receipt.event_id)
            if position is None:
                unresolved = True
            elif position > best:
                best = position
    for position in reversed(state.thread_positions.get(thread_id, ())):
        if position <= best:
            break
        if state.events[position].sender == state.me:
            best = position
            break
    return ReadPosition(best, unresolved)


EVENTS = ["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$gone"]
keys = st.builds(
    ReceiptKey, st.sampled_from([ME, ME, ALICE]), st.sampled_from(list(ReceiptType)), st.sampled_from([None, "main", "$1", "$4"])
)
receipts = st.builds(Receipt, st.sampled_from(EVENTS))


@settings(max_examples=400, deadline=None)
@given(
    confirmed=st.lists(st.tuples(keys, receipts), max_size=8),
    pending=st.lists(st.tuples(keys, receipts), max_size=5),
    my_reply=st.booleans(),
)
def test_read_position_equals_the_per_key_definition(confirmed, pending, my_reply) -> None:  # noqa: ANN001
    state = room(
        msg("$1"), reply("$2", "$1", BOB), msg("$3", BOB), msg("$4"),
        reply("$5", "$4", ME if my_reply else ALICE), reply("$6", "$1"), msg("$7", BOB),
        limited=True,
    )
    for key, receipt in confirmed:
        state = apply_receipt(state, key, receipt)
    for key, receipt in pending:
        state = add_pending(state, key, receipt)
    for thread_id in ("main", "$1", "$4", "$unknown"):
        assert state.read_position(thread_id) == by_definition(state, thread_id)
