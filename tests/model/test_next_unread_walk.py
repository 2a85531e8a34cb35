"""``next_unread`` walks outwards from the current thread and stops at the first unread
one (issue 6: it used to build the whole triage queue, every thread of every room, on
each ``n``). It must answer exactly what the whole queue answers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.account import next_unread, triage_queue, triage_threads
from app.model.ids import MAIN
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, add_timeline, apply_receipt, set_server_counts, ServerCounts
from tests.model.builders import ALICE, ME, msg, reply


def whole_queue(rooms, current, *, backwards=False):  # noqa: ANN001, ANN201
    """The definition: the next item of the triage queue after ``current`` in the walk
    order, wrapping; the first (last) item when ``current`` is not in the walk."""
    queue = triage_queue(rooms)
    if not queue:
        return None
    order = [(room.room_id, thread) for room in rooms for thread in triage_threads(room)]
    if current is None or current not in order:
        return queue[-1] if backwards else queue[0]
    rank = {item: i for i, item in enumerate(order)}
    here = rank[current]
    if backwards:
        before = [item for item in queue if rank[item] < here]
        return before[-1] if before else queue[-1]
    after = [item for item in queue if rank[item] > here]
    return after[0] if after else queue[0]


@st.composite
def a_room(draw, index: int) -> RoomState:  # noqa: ANN001
    room_id = f"!r{index}:x"
    events = []
    roots = []
    for i in range(draw(st.integers(0, 8))):
        event_id = f"$r{index}e{i}"
        sender = draw(st.sampled_from([ME, ALICE]))
        if roots and draw(st.booleans()):
            events.append(reply(event_id, draw(st.sampled_from(roots)), sender, ts=index * 100 + i))
        else:
            events.append(msg(event_id, sender, ts=index * 100 + i))
            roots.append(event_id)
    room = add_timeline(RoomState(room_id, ME), events, limited=False)
    if events and draw(st.booleans()):
        target = draw(st.sampled_from(events)).event_id
        room = apply_receipt(room, ReceiptKey(ME, ReceiptType.PRIVATE, None), Receipt(target))
    for root in roots:
        if draw(st.integers(0, 3)) == 0:
            room = apply_receipt(room, ReceiptKey(ME, ReceiptType.PRIVATE, root), Receipt(root))
    if draw(st.integers(0, 4)) == 0:
        # A thread known only from the server's counts.
        room = set_server_counts(room, ServerCounts(), {f"$r{index}-server-only": ServerCounts(1, 0)})
    return room


@st.composite
def accounts(draw):  # noqa: ANN001, ANN201
    count = draw(st.integers(0, 6))
    return [draw(a_room(i)) for i in range(count)]


@settings(max_examples=400, deadline=None)
@given(rooms=accounts(), data=st.data())
def test_the_walk_answers_what_the_whole_queue_answers(rooms, data) -> None:  # noqa: ANN001
    candidates = [None, ("!nowhere:x", MAIN)]
    for room in rooms:
        candidates += [(room.room_id, thread) for thread in triage_threads(room)]
        candidates.append((room.room_id, "$not-a-thread"))
    current = data.draw(st.sampled_from(candidates))
    for backwards in (False, True):
        assert next_unread(rooms, current, backwards=backwards) == whole_queue(rooms, current, backwards=backwards)
