"""Receipt planning: exact requests, refusals with reasons, optimistic apply and rollback."""

from __future__ import annotations

import pytest

from app.model.ids import MAIN
from app.model.plan import (
    ActionKind,
    FullyReadRequest,
    ReceiptAction,
    ReceiptRequest,
    Refusal,
    apply_optimistic,
    plan,
    settle,
)
from app.model.receipts import ReceiptType
from app.model.room import set_fully_read
from app.model.unread import thread_unread

from tests.model.builders import ME, ROOM, msg, reply, room, with_receipts

PUB, PRIV = ReceiptType.PUBLIC, ReceiptType.PRIVATE
THREADED, UNTHREADED, FULLY = ActionKind.THREADED, ActionKind.UNTHREADED, ActionKind.FULLY_READ


def sample():
    return room(
        msg("$root"),
        reply("$r1", "$root"),
        msg("$m1"),
        reply("$r2", "$root"),
        reply("$mine-r", "$root", sender=ME),
        msg("$m2"),
        msg("$mine-m", sender=ME),
    )


def test_threaded_default_targets_latest_event_by_someone_else() -> None:
    assert plan(sample(), ReceiptAction(THREADED, PRIV, "$root")) == ReceiptRequest(ROOM, PRIV, "$r2", "$root")
    assert plan(sample(), ReceiptAction(THREADED, PUB, MAIN)) == ReceiptRequest(ROOM, PUB, "$m2", MAIN)


def test_unthreaded_default_targets_latest_event_by_someone_else_in_the_room() -> None:
    assert plan(sample(), ReceiptAction(UNTHREADED, PRIV)) == ReceiptRequest(ROOM, PRIV, "$m2", None)


def test_explicit_event_in_its_thread() -> None:
    assert plan(sample(), ReceiptAction(THREADED, PUB, "$root", "$r1")) == ReceiptRequest(ROOM, PUB, "$r1", "$root")


def test_event_not_in_the_thread_is_refused() -> None:
    result = plan(sample(), ReceiptAction(THREADED, PUB, "$root", "$m1"))
    assert isinstance(result, Refusal) and result.code == "wrong-thread"
    result = plan(sample(), ReceiptAction(THREADED, PUB, MAIN, "$r1"))
    assert isinstance(result, Refusal) and result.code == "wrong-thread"


def test_unknown_event_and_unknown_thread_are_refused() -> None:
    assert plan(sample(), ReceiptAction(THREADED, PUB, "$root", "$nope")).code == "unknown-event"
    assert plan(sample(), ReceiptAction(THREADED, PUB, "$nothread")).code == "unknown-thread"
    assert plan(sample(), ReceiptAction(THREADED, PUB, None)).code == "no-thread"


def test_own_event_retargets_to_latest_by_someone_else_before_it() -> None:
    assert plan(sample(), ReceiptAction(THREADED, PUB, "$root", "$mine-r")) == ReceiptRequest(ROOM, PUB, "$r2", "$root")
    assert plan(sample(), ReceiptAction(UNTHREADED, PUB, None, "$mine-m")) == ReceiptRequest(ROOM, PUB, "$m2", None)


def test_only_own_events_is_refused() -> None:
    state = room(msg("$a", sender=ME), msg("$b", sender=ME))
    assert plan(state, ReceiptAction(THREADED, PUB, MAIN, "$b")).code == "own-event"
    assert plan(state, ReceiptAction(THREADED, PUB, MAIN)).code == "nothing-to-read"


def test_not_newer_than_the_current_position_is_refused() -> None:
    state = with_receipts(sample(), ("$r2", PRIV, "$root"))
    result = plan(state, ReceiptAction(THREADED, PRIV, "$root"))
    assert isinstance(result, Refusal) and result.code == "already-read"
    assert plan(state, ReceiptAction(THREADED, PRIV, "$root", "$r1")).code == "already-read"
    # A public receipt may lag behind the private one: catching it up is allowed.
    assert plan(state, ReceiptAction(THREADED, PUB, "$root")) == ReceiptRequest(ROOM, PUB, "$r2", "$root")


def test_a_public_receipt_ahead_makes_a_private_one_pointless_but_not_the_reverse() -> None:
    state = with_receipts(sample(), ("$r2", PUB, "$root"))
    assert plan(state, ReceiptAction(THREADED, PRIV, "$root")).code == "already-read"
    state = with_receipts(sample(), ("$m2", PUB, None))
    assert plan(state, ReceiptAction(UNTHREADED, PRIV)).code == "already-read"
    assert plan(state, ReceiptAction(THREADED, PRIV, "$root")).code == "already-read"


def test_my_own_message_does_not_make_a_receipt_pointless() -> None:
    # Synapse keeps counting (and other devices keep their badges) until a receipt.
    assert plan(sample(), ReceiptAction(THREADED, PRIV, "$root")) == ReceiptRequest(ROOM, PRIV, "$r2", "$root")


def test_unthreaded_receipt_of_the_same_type_covers_a_threaded_one() -> None:
    state = with_receipts(sample(), ("$m2", PRIV, None))
    assert plan(state, ReceiptAction(THREADED, PRIV, "$root")).code == "already-read"


def test_fully_read_forward_only() -> None:
    state = set_fully_read(sample(), "$m2")
    assert plan(state, ReceiptAction(FULLY, PRIV, event_id="$m1")).code == "backwards"
    assert plan(state, ReceiptAction(FULLY, PRIV, event_id="$m2")).code == "already-read"
    assert plan(state, ReceiptAction(FULLY, PRIV)) == FullyReadRequest(ROOM, "$mine-m", None)


def test_fully_read_with_receipt_names_the_receipt_type() -> None:
    request = plan(sample(), ReceiptAction(FULLY, PRIV, event_id="$m2", with_receipt=True))
    assert request == FullyReadRequest(ROOM, "$m2", PRIV, "$m2")


def test_fully_read_with_receipt_never_puts_the_receipt_on_my_own_event() -> None:
    # The room ends with my own message: the marker may go there, the receipt may not.
    request = plan(sample(), ReceiptAction(FULLY, PUB, with_receipt=True))
    assert request == FullyReadRequest(ROOM, "$mine-m", PUB, "$m2")
    optimistic = apply_optimistic(sample(), request)
    assert optimistic.my_receipt(PUB, None).event_id == "$m2"
    assert settle(optimistic, request, accepted=False).pending == {}


def test_an_older_answer_does_not_confirm_a_newer_request_for_the_same_key() -> None:
    # $b is in flight and $d waits behind it (the queue allows both); $b is accepted,
    # then $d is refused: the refusal must roll $d back.
    state = room(msg("$a"), msg("$b"), msg("$c"), msg("$d"))
    first = plan(state, ReceiptAction(THREADED, PUB, MAIN, "$b"))
    state = apply_optimistic(state, first)
    second = plan(state, ReceiptAction(THREADED, PUB, MAIN, "$d"))
    state = apply_optimistic(state, second)
    state = settle(state, first, accepted=True)
    assert state.receipts[first.key(state.me)].event_id == "$b"
    assert state.pending[second.key(state.me)].event_id == "$d"
    assert thread_unread(state, MAIN).unread == 0
    state = settle(state, second, accepted=False)
    assert state.pending == {}
    assert thread_unread(state, MAIN).unread == 2  # $c and $d


@pytest.mark.parametrize("receipt_type", [PUB, PRIV])
def test_optimistic_apply_then_accept(receipt_type: ReceiptType) -> None:
    state = room(msg("$root"), reply("$r1", "$root"), msg("$m1"), reply("$r2", "$root"))
    request = plan(state, ReceiptAction(THREADED, receipt_type, "$root"))
    assert thread_unread(state, "$root").unread == 2
    optimistic = apply_optimistic(state, request, ts=5)
    assert thread_unread(optimistic, "$root").unread == 0
    accepted = settle(optimistic, request, accepted=True)
    assert thread_unread(accepted, "$root").unread == 0
    assert accepted.pending == {}
    assert accepted.my_receipt(receipt_type, "$root").event_id == "$r2"


def test_optimistic_apply_then_refuse_rolls_back() -> None:
    state = sample()
    request = plan(state, ReceiptAction(UNTHREADED, PRIV))
    optimistic = apply_optimistic(state, request)
    assert thread_unread(optimistic, MAIN).unread == 0
    rolled_back = settle(optimistic, request, accepted=False)
    assert thread_unread(rolled_back, MAIN).unread == thread_unread(state, MAIN).unread
    assert rolled_back.pending == {} and rolled_back.receipts == {}


def test_fully_read_optimistic_and_rollback() -> None:
    state = sample()
    request = plan(state, ReceiptAction(FULLY, PUB, event_id="$m2", with_receipt=True))
    optimistic = apply_optimistic(state, request)
    assert optimistic.fully_read_event() == "$m2"
    assert thread_unread(optimistic, MAIN).unread == 0
    rolled_back = settle(optimistic, request, accepted=False)
    assert rolled_back.fully_read_event() is None and rolled_back.pending == {}
    kept = settle(optimistic, request, accepted=True)
    assert kept.fully_read == "$m2" and kept.pending_fully_read is None
