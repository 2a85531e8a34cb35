"""``room.still_unread`` (one pass over a sync's messages) against the rule it gathers:
``read_for_good`` of ``confirmed_read`` per position."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.events import TimelineEvent
from app.model.ids import MAIN
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, add_pending, add_timeline, apply_receipt, confirmed_read, read_for_good, still_unread

ME = "@me:example.org"
ALICE = "@alice:example.org"


@st.composite
def rooms(draw: st.DrawFn) -> RoomState:
    count = draw(st.integers(0, 14))
    events = []
    for i in range(count):
        roots = [f"$e{j}" for j in range(i)]
        relation = draw(st.sampled_from(["none", "thread", "reaction"])) if roots else "none"
        if relation == "none":
            events.append(TimelineEvent(f"$e{i}", ALICE, i, "m.room.message"))
        else:
            target = draw(st.sampled_from(roots))
            rel_type = "m.thread" if relation == "thread" else "m.annotation"
            events.append(TimelineEvent(f"$e{i}", ALICE, i, "m.room.message", rel_type=rel_type, relates_to=target))
    room = add_timeline(RoomState("!r:example.org", ME), events, limited=False)
    ids = [event.event_id for event in events] + ["$not-loaded"]
    threads = [None, MAIN] + [f"$e{j}" for j in range(count)]
    for _ in range(draw(st.integers(0, 4))):
        key = ReceiptKey(draw(st.sampled_from([ME, ALICE])), draw(st.sampled_from(list(ReceiptType))),
                         draw(st.sampled_from(threads)))
        receipt = Receipt(draw(st.sampled_from(ids)))
        room = add_pending(room, key, receipt) if draw(st.booleans()) else apply_receipt(room, key, receipt)
    return room


@given(rooms(), st.data())
@settings(max_examples=300)
def test_still_unread_is_read_for_good_of_each_position(room: RoomState, data: st.DataObject) -> None:
    positions = data.draw(st.lists(st.integers(0, max(len(room.events) - 1, 0)), unique=True)) if room.events else []
    covered = confirmed_read(room)
    assert still_unread(room, positions) == [p for p in positions if not read_for_good(room, covered, p)]
