"""Property tests over random rooms: the read-state rules hold for any shape of room."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.events import counts_as_unread
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction, ReceiptRequest, apply_optimistic, plan, settle
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, add_timeline, apply_receipt
from app.model.unread import threads_unread

from tests.model.builders import ALICE, BOB, ME, ROOM, edit, msg, reaction, reply

SENDERS = [ME, ALICE, BOB]


@st.composite
def rooms(draw) -> RoomState:
    count = draw(st.integers(1, 30))
    events = []
    roots: list[str] = []
    for i in range(count):
        event_id = f"$e{i}"
        sender = draw(st.sampled_from(SENDERS))
        kind = draw(st.sampled_from(["main", "main", "reply", "reply", "reaction", "edit", "state"]))
        earlier = [e.event_id for e in events]
        if kind == "reply" and roots:
            events.append(reply(event_id, draw(st.sampled_from(roots)), sender, ts=i))
        elif kind == "reaction" and earlier:
            events.append(reaction(event_id, draw(st.sampled_from(earlier)), sender))
        elif kind == "edit" and earlier:
            events.append(edit(event_id, draw(st.sampled_from(earlier)), sender))
        elif kind == "state":
            events.append(msg(event_id, sender, type="m.room.topic", state_key="", ts=i))
        else:
            events.append(msg(event_id, sender, ts=i))
            roots.append(event_id)
    limited = draw(st.booleans())
    return add_timeline(RoomState(ROOM, ME), events, limited=limited)


def my_receipts(state: RoomState):
    threads = st.sampled_from([None, *state.thread_ids])
    return st.lists(
        st.tuples(st.sampled_from([e.event_id for e in state.events]), st.sampled_from(list(ReceiptType)), threads),
        max_size=6,
    )


def with_mine(state: RoomState, receipts) -> RoomState:
    for event_id, receipt_type, thread in receipts:
        state = apply_receipt(state, ReceiptKey(ME, receipt_type, thread), Receipt(event_id))
    return state


def oracle_unread(state: RoomState, thread: str) -> int:
    """Brute force from the spec's definition: an event is read if a receipt of mine that
    is unthreaded or of its thread sits at or after it, or I sent something after it there."""
    total = 0
    for i, event in enumerate(state.events):
        if state.thread_of[event.event_id] != thread or not counts_as_unread(event, ME):
            continue
        read = any(
            key.user_id == ME and key.thread_id in (None, thread) and state.index[receipt.event_id] >= i
            for key, receipt in state.receipts.items()
        ) or any(
            later.sender == ME and state.thread_of[later.event_id] == thread for later in state.events[i:]
        )
        total += not read
    return total


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_counts_match_the_spec_definition(data) -> None:
    state = data.draw(rooms())
    state = with_mine(state, data.draw(my_receipts(state)))
    for thread, counts in threads_unread(state).items():
        assert counts.unread >= 0
        assert counts.unread == oracle_unread(state, thread)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_unthreaded_receipt_on_the_latest_event_reads_everything(data) -> None:
    state = data.draw(rooms())
    state = with_mine(state, data.draw(my_receipts(state)))
    receipt_type = data.draw(st.sampled_from(list(ReceiptType)))
    state = with_mine(state, [(state.events[-1].event_id, receipt_type, None)])
    assert all(c.unread == 0 and not c.lower_bound for c in threads_unread(state).values())


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_threaded_receipt_changes_no_other_thread(data) -> None:
    state = data.draw(rooms())
    state = with_mine(state, data.draw(my_receipts(state)))
    thread = data.draw(st.sampled_from(state.thread_ids))
    event_id = data.draw(st.sampled_from([e for e in state.events if state.thread_of[e.event_id] == thread] or [None]))
    if event_id is None:
        return
    before = threads_unread(state)
    after = threads_unread(with_mine(state, [(event_id.event_id, ReceiptType.PUBLIC, thread)]))
    assert {t: c.unread for t, c in before.items() if t != thread} == {
        t: c.unread for t, c in after.items() if t != thread
    }
    assert after[thread].unread <= before[thread].unread


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_receipts_in_any_order_equal_the_furthest_one(data) -> None:
    state = data.draw(rooms())
    thread = data.draw(st.sampled_from([None, *state.thread_ids]))
    receipt_type = data.draw(st.sampled_from(list(ReceiptType)))
    chosen = data.draw(st.lists(st.sampled_from([e.event_id for e in state.events]), min_size=1, max_size=6))
    order = data.draw(st.permutations(chosen))
    furthest = max(chosen, key=lambda e: state.index[e])
    key = ReceiptKey(ME, receipt_type, thread)
    one_way = with_mine(state, [(e, receipt_type, thread) for e in order])
    only_furthest = with_mine(state, [(furthest, receipt_type, thread)])
    assert one_way.receipts[key] == only_furthest.receipts[key]
    assert {t: c.unread for t, c in threads_unread(one_way).items()} == {
        t: c.unread for t, c in threads_unread(only_furthest).items()
    }


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_optimistic_receipt_rolled_back_restores_counts(data) -> None:
    state = data.draw(rooms())
    state = with_mine(state, data.draw(my_receipts(state)))
    kind = data.draw(st.sampled_from([ActionKind.THREADED, ActionKind.UNTHREADED, ActionKind.FULLY_READ]))
    thread = data.draw(st.sampled_from(state.thread_ids)) if kind is ActionKind.THREADED else None
    action = ReceiptAction(kind, data.draw(st.sampled_from(list(ReceiptType))), thread)
    request = plan(state, action)
    if not hasattr(request, "room_id"):
        return
    before = {t: c.unread for t, c in threads_unread(state).items()}
    optimistic = apply_optimistic(state, request)
    if isinstance(request, ReceiptRequest) and request.thread_id == MAIN:
        assert threads_unread(optimistic)[MAIN].unread == 0
    rolled_back = settle(optimistic, request, accepted=False)
    assert {t: c.unread for t, c in threads_unread(rolled_back).items()} == before
