"""The audit (app.model.audit): what others see beside what only I see, per thread, how
far behind each is, and a warning for a public receipt in a private room that readmark
did not send."""

from __future__ import annotations

from app.model.audit import Position, SentReceipt, audit_room, audit_rooms
from app.model.policy import Mode
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import RoomState, add_pending, add_timeline, apply_receipt
from app.model.sending import RoomMode

from tests.model.builders import ALICE, ME, msg, reply

PUBLIC, PRIVATE = ReceiptType.PUBLIC, ReceiptType.PRIVATE
ROOM = "!r:t"


def room_with(*receipts) -> RoomState:
    state = add_timeline(
        RoomState(ROOM, ME, name="R"),
        [msg("$1", ts=1), msg("$2", ts=2), msg("$root", ts=3), reply("$t1", "$root", ts=4),
         msg("$3", ts=5), reply("$t2", "$root", ts=6), msg("$mine", ME, ts=7)],
        limited=False,
    )
    for receipt_type, thread, event_id, ts in receipts:
        state = apply_receipt(state, ReceiptKey(ME, receipt_type, thread), Receipt(event_id, ts))
    return state


def test_public_and_private_positions_per_thread_with_how_far_behind() -> None:
    state = room_with((PUBLIC, None, "$1", 10), (PRIVATE, "main", "$3", 11), (PRIVATE, "$root", "$t1", 12))
    # An optimistic public receipt is not what others see.
    state = add_pending(state, ReceiptKey(ME, PUBLIC, "main"), Receipt("$3"))
    result = audit_room(state, RoomMode(PRIVATE), "R")
    by_thread = {t.thread_id: t for t in result.threads}
    # Main after $1: $2, $root, $3 by others ($mine is mine).
    assert by_thread["main"].public == Position("$1", 3)
    assert by_thread["main"].private == Position("$3", 0)
    # The thread: the unthreaded public $1 is before it all: both replies behind.
    assert by_thread["$root"].public == Position("$1", 2)
    assert by_thread["$root"].private == Position("$t1", 1)
    assert result.visible == Position("$1", 3)
    assert result.mode is Mode.PRIVATE and result.rule == "default"


def test_no_receipt_and_one_in_missing_history() -> None:
    result = audit_room(room_with(), RoomMode(PRIVATE), "R")
    assert all(t.public == Position(None, None) and t.private == Position(None, None) for t in result.threads)
    result = audit_room(room_with((PRIVATE, None, "$unloaded", 1)), RoomMode(PRIVATE), "R")
    assert result.threads[0].private == Position("$unloaded", None)


def test_a_public_receipt_readmark_did_not_send_in_a_private_room_warns() -> None:
    state = room_with((PUBLIC, None, "$2", 1234), (PUBLIC, "$root", "$t1", 1300))
    sent = [SentReceipt(1299, ROOM, "$root", PUBLIC, "$t1")]
    result = audit_room(state, RoomMode(PRIVATE, pinned=True, rule="rule: dm"), "R", sent)
    assert [(w.thread_id, w.event_id, w.ts) for w in result.warnings] == [(None, "$2", 1234)]
    assert "PRIVATE (rule: dm)" in result.warnings[0].text and "did not send" in result.warnings[0].text
    # In a none room as well; in a public room, a public receipt is as it should be.
    assert audit_room(state, RoomMode(PRIVATE, True, False, "this room"), "R", sent).warnings[0].event_id == "$2"
    assert audit_room(state, RoomMode(PUBLIC), "R").warnings == ()
    # Someone else's public receipt is not mine to warn about.
    other = apply_receipt(room_with(), ReceiptKey(ALICE, PUBLIC, None), Receipt("$3", 1))
    assert audit_room(other, RoomMode(PRIVATE), "R").warnings == ()


def test_rooms_with_warnings_come_first_and_spaces_and_left_rooms_are_left_out() -> None:
    quiet = RoomState("!a:t", ME, name="Alpha")
    warned = room_with((PUBLIC, None, "$2", 1))
    left = RoomState("!l:t", ME, name="Left", membership="leave")
    space = RoomState("!s:t", ME, name="Space", room_type="m.space")
    found = audit_rooms([quiet, warned, left, space], lambda room_id: RoomMode(PRIVATE), lambda r: r.name)
    assert [a.room_id for a in found] == [ROOM, "!a:t"]
    doc = found[0].to_json()
    assert doc["receipt_policy"] == {"mode": "private", "rule": "default"}
    assert doc["warnings"][0]["event_id"] == "$2"
    assert doc["threads"][0] == {"thread_id": "main", "public": {"event_id": "$2", "behind": 2},
                                 "private": {"event_id": None, "behind": None}}


def test_a_receipt_readmark_sent_that_never_came_back_warns_after_the_grace() -> None:
    from app.model.audit import ECHO_GRACE_MS

    state = room_with((PRIVATE, None, "$1", 5))
    sent = [SentReceipt(1_000, ROOM, "main", PRIVATE, "$3"), SentReceipt(1_000, ROOM, None, PRIVATE, "$1")]
    # Too recent to say: the sync may bring it yet.
    assert audit_room(state, RoomMode(PRIVATE), "R", sent, now_ms=1_000 + ECHO_GRACE_MS - 1).warnings == ()
    late = audit_room(state, RoomMode(PRIVATE), "R", sent, now_ms=1_000 + ECHO_GRACE_MS)
    assert [(w.thread_id, w.event_id) for w in late.warnings] == [("main", "$3")]
    assert "has not echoed back" in late.warnings[0].text
    # Echoed (my confirmed private receipt reaches it): no warning.
    echoed = room_with((PRIVATE, "main", "$3", 6), (PRIVATE, None, "$1", 5))
    assert audit_room(echoed, RoomMode(PRIVATE), "R", sent, now_ms=10**9).warnings == ()
