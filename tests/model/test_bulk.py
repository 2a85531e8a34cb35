"""What a read clears, before it is sent (app.model.bulk)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.bulk import Clears, bulk_plan, clears_all, clears_of, clears_thread, describe_clears, room_receipt
from app.model.events import ALERT_HIGHLIGHT, ALERT_NOTIFY
from app.model.plan import ActionKind, ReceiptAction, ReceiptRequest, Refusal, plan
from app.model.receipts import ReceiptType
from app.model.room import RoomState, add_timeline

from tests.model.builders import ALICE, BOB, ME, ROOM, msg, reply, with_receipts
from tests.model.test_properties import my_receipts, rooms, with_mine


def unthreaded(state: RoomState, receipt_type: ReceiptType = ReceiptType.PRIVATE):
    return plan(state, ReceiptAction(ActionKind.UNTHREADED, receipt_type))


@st.composite
def alerted_rooms(draw) -> RoomState:
    state = draw(rooms())
    alerts = [draw(st.sampled_from([ALERT_NOTIFY, ALERT_NOTIFY, ALERT_HIGHLIGHT])) for _ in state.events]
    events = tuple(replace(e, alert=a) for e, a in zip(state.events, alerts))
    state = replace(state, events=events, marked_unread=draw(st.booleans()))
    return with_mine(state, draw(my_receipts(state)))


@given(alerted_rooms(), st.data())
@settings(max_examples=400, deadline=None)
def test_a_room_receipt_on_the_latest_event_by_others_clears_everything(state, data) -> None:
    """The shortcut a dry run of a thousand rooms takes (clears_all) equals applying
    the planned receipt and comparing counts (clears_of), for any room."""
    seen = data.draw(st.sets(st.sampled_from([e.event_id for e in state.events])))
    request = unthreaded(state)
    if isinstance(request, Refusal):
        # Nothing to send means nothing unread by someone else.
        assert clears_all(state, seen).messages == 0
        return
    assert clears_all(state, seen) == clears_of(state, request, seen)


@given(alerted_rooms(), st.data())
@settings(max_examples=400, deadline=None)
def test_a_thread_receipt_on_its_latest_event_by_others_clears_the_thread(state, data) -> None:
    thread = data.draw(st.sampled_from(sorted(state.thread_ids)))
    seen = data.draw(st.sets(st.sampled_from([e.event_id for e in state.events])))
    request = plan(state, ReceiptAction(ActionKind.THREADED, ReceiptType.PRIVATE, thread))
    fast = clears_thread(state, thread, seen)
    if isinstance(request, Refusal):
        assert fast.messages == 0
        return
    slow = clears_of(state, request, seen)
    # The flag goes with any receipt; the shortcut only names it beside messages.
    assert replace(fast, flags=0) == replace(slow, flags=0)
    if fast.messages:
        assert fast.flags == slow.flags


@given(alerted_rooms(), st.sampled_from(list(ReceiptType)))
@settings(max_examples=400, deadline=None)
def test_the_dry_runs_shortcut_plans_what_plan_plans(state, receipt_type) -> None:
    assert room_receipt(state, receipt_type) == plan(state, ReceiptAction(ActionKind.UNTHREADED, receipt_type))


def highlighted(event_id: str, **kw):
    return msg(event_id, alert=ALERT_HIGHLIGHT, **kw)


def test_a_threaded_receipt_clears_its_thread_only() -> None:
    state = add_timeline(
        RoomState(ROOM, ME),
        [msg("$root"), reply("$r1", "$root", alert=ALERT_HIGHLIGHT), reply("$r2", "$root"), msg("$main", BOB)],
        limited=False,
    )
    request = plan(state, ReceiptAction(ActionKind.THREADED, ReceiptType.PRIVATE, "$root"))
    assert isinstance(request, ReceiptRequest)
    assert clears_of(state, request) == Clears(messages=2, threads=1, mentions=1, unseen_mentions=1)
    assert clears_of(state, request, seen={"$r1"}) == Clears(messages=2, threads=1, mentions=1, unseen_mentions=0)
    # Up to the first reply only: the thread stays unread.
    part = plan(state, ReceiptAction(ActionKind.THREADED, ReceiptType.PRIVATE, "$root", "$r1"))
    assert clears_of(state, part) == Clears(messages=1, threads=0, mentions=1, unseen_mentions=1)
    room_wide = unthreaded(state)
    assert clears_of(state, room_wide) == clears_all(state) == Clears(4, 1, 1, 1)


def test_a_flag_is_cleared_with_the_receipt() -> None:
    state = replace(add_timeline(RoomState(ROOM, ME), [msg("$a")], limited=False), marked_unread=True)
    assert clears_all(state).flags == 1
    read = with_receipts(state, ("$a", ReceiptType.PRIVATE, None))
    # Nothing unread, but flagged: the bulk read still sends (the receipt clears the flag).
    assert clears_all(read) == Clears(flags=1)


def test_a_lower_bound_says_more_may_go() -> None:
    state = add_timeline(RoomState(ROOM, ME), [msg("$a"), msg("$b")], limited=True)
    assert clears_all(state).lower_bound
    assert describe_clears(clears_all(state)) == "2+ msgs"


def test_describe() -> None:
    assert describe_clears(Clears()) == "nothing"
    assert describe_clears(Clears(23, 4, 2, 1)) == "4 threads, 23 msgs, 2 mentions (1 unseen)"
    assert describe_clears(Clears(1, 1, 1)) == "1 thread, 1 msg, 1 mention"
    assert describe_clears(Clears(5, 0, 0), rooms=3) == "3 rooms, 5 msgs"
    assert describe_clears(Clears(flags=2), rooms=2) == "2 rooms, 2 marked unread"
    assert describe_clears(Clears(), rooms=0) == "nothing"


def make_room(room_id: str, *events, **kw) -> RoomState:
    return add_timeline(RoomState(room_id, ME, name=room_id, **kw), list(events), limited=False)


def test_a_dry_run_lists_each_unread_room_in_its_own_mode() -> None:
    rooms_ = [
        make_room("!pub:t", msg("$p1", ts=1), highlighted("$p2", ts=2)),
        make_room("!priv:t", msg("$q1", ts=1)),
        make_room("!read:t", msg("$r1", ts=1)),
        make_room("!mine:t", msg("$m1", ME, ts=1)),
        make_room("!left:t", msg("$l1", ts=1), membership="leave"),
    ]
    rooms_[2] = with_receipts(rooms_[2], ("$r1", ReceiptType.PUBLIC, None))
    modes = {"!pub:t": ReceiptType.PUBLIC}
    dry = bulk_plan("all rooms", rooms_, lambda room, action: None, lambda r: modes.get(r, ReceiptType.PRIVATE),
                    lambda r: r.name)
    assert [(r.room_id, r.receipt_type, r.request) for r in dry.rooms] == [
        ("!pub:t", ReceiptType.PUBLIC, ReceiptRequest("!pub:t", ReceiptType.PUBLIC, "$p2", None)),
        ("!priv:t", ReceiptType.PRIVATE, ReceiptRequest("!priv:t", ReceiptType.PRIVATE, "$q1", None)),
    ]
    assert dry.clears == Clears(3, 0, 1, 1)
    doc = dry.to_json()
    assert doc["total"] == {"rooms": 2, "public": 1, "private": 1, "refused": 0, "messages": 3, "threads": 0,
                            "mentions": 1, "lower_bound": False}
    assert doc["rooms"][0]["event_id"] == "$p2" and doc["rooms"][0]["receipt"] == "m.read"


def test_what_the_rooms_read_cleared_leaves_out_the_others() -> None:
    rooms_ = [make_room("!pub:t", msg("$p1", ts=1), highlighted("$p2", ts=2)), make_room("!priv:t", msg("$q1", ts=1))]
    dry = bulk_plan("all rooms", rooms_, lambda room, action: None, lambda r: ReceiptType.PRIVATE, lambda r: r.name)
    assert dry.clears_in({"!pub:t"}) == Clears(2, 0, 1, 1)
    assert dry.clears_in({"!priv:t", "!not-in-the-plan:t"}) == Clears(1, 0, 0, 0)
    assert dry.clears_in(()) == Clears() and dry.clears_in({"!pub:t", "!priv:t"}) == dry.clears


def test_a_refusal_in_one_room_is_listed_and_clears_nothing() -> None:
    rooms_ = [make_room("!a:t", msg("$a", ts=1)), make_room("!b:t", msg("$b", ts=1))]

    def refuse(room, action):
        return Refusal("private-mode", "no") if room.room_id == "!a:t" else None

    dry = bulk_plan("x", rooms_, refuse, lambda r: ReceiptType.PRIVATE, lambda r: r.name)
    assert [r.room_id for r in dry.refused] == ["!a:t"]
    assert [r.room_id for r in dry.sending] == ["!b:t"]
    assert dry.clears.messages == 1
    assert dry.to_json()["rooms"][0]["refused"] == "no"


def test_my_own_later_message_has_read_what_came_before() -> None:
    state = make_room("!x:t", msg("$1", ALICE, ts=1), msg("$2", ME, ts=2), msg("$3", BOB, ts=3))
    assert clears_all(state).messages == 1
