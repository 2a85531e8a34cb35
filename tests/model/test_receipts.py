"""Receipt storage and read positions: the spec's worked examples, public vs private."""

from __future__ import annotations

import pytest

from app.model.ids import MAIN
from app.model.receipts import Receipt, ReceiptKey, ReceiptType
from app.model.room import apply_receipt
from app.model.unread import is_read, thread_unread

from tests.model.builders import ALICE, ME, msg, room, spec_dag, with_receipts

PUB, PRIV = ReceiptType.PUBLIC, ReceiptType.PRIVATE
ALL = "$A $B $C $D $E $F $G $H $I".split()


def read_set(state) -> set[str]:
    return {e for e in ALL if is_read(state, e)}


def test_spec_dag_threaded_receipt_on_main_event() -> None:
    state = with_receipts(spec_dag(), ("$I", PUB, MAIN))
    assert read_set(state) == {"$A", "$B", "$I"}


def test_spec_dag_threaded_receipt_in_thread() -> None:
    state = with_receipts(spec_dag(), ("$E", PUB, "$A"))
    assert read_set(state) == {"$C", "$E"}


def test_spec_dag_unthreaded_receipt() -> None:
    state = with_receipts(spec_dag(), ("$D", PUB, None))
    assert read_set(state) == {"$A", "$B", "$C", "$D"}


def test_spec_dag_marking_a_root_does_not_read_its_thread() -> None:
    state = with_receipts(spec_dag(), ("$A", PUB, MAIN))
    assert read_set(state) == {"$A"}
    assert thread_unread(state, "$A").unread == 4


def test_replace_only_on_exact_key_spec_example() -> None:
    state = room(msg("$aaa"), msg("$bbb"), msg("$ccc"), msg("$ddd"))
    unthreaded = ReceiptKey(ALICE, PUB, None)
    main = ReceiptKey(ALICE, PUB, MAIN)
    state = apply_receipt(state, unthreaded, Receipt("$aaa"))
    state = apply_receipt(state, main, Receipt("$bbb"))
    assert state.receipts == {unthreaded: Receipt("$aaa"), main: Receipt("$bbb")}
    state = apply_receipt(state, unthreaded, Receipt("$ccc"))
    assert state.receipts == {unthreaded: Receipt("$ccc"), main: Receipt("$bbb")}
    state = apply_receipt(state, main, Receipt("$ddd"))
    assert state.receipts == {unthreaded: Receipt("$ccc"), main: Receipt("$ddd")}


def test_public_and_private_are_stored_apart_and_the_further_counts() -> None:
    # The spec's example: m.read at C, m.read.private at A: read up to C.
    state = room(msg("$A"), msg("$B"), msg("$C"), msg("$D"))
    state = with_receipts(state, ("$C", PUB, None), ("$A", PRIV, None))
    assert state.my_receipt(PUB, None) == Receipt("$C")
    assert state.my_receipt(PRIV, None) == Receipt("$A")
    assert state.read_position(MAIN).index == 2
    state = with_receipts(state, ("$B", PRIV, None))
    assert state.read_position(MAIN).index == 2
    state = with_receipts(state, ("$D", PRIV, None))
    assert state.read_position(MAIN).index == 3
    assert thread_unread(state, MAIN).unread == 0
    # The public one lagging behind is valid and kept.
    assert state.my_receipt(PUB, None) == Receipt("$C")


def test_receipts_never_move_backwards_between_loaded_events() -> None:
    state = room(msg("$A"), msg("$B"))
    key = ReceiptKey(ME, PUB, MAIN)
    state = apply_receipt(state, key, Receipt("$B"))
    assert apply_receipt(state, key, Receipt("$A")).receipts[key] == Receipt("$B")


def test_other_users_receipts_do_not_change_my_counts() -> None:
    state = room(msg("$A"), msg("$B"))
    state = apply_receipt(state, ReceiptKey(ALICE, PUB, None), Receipt("$B"))
    assert thread_unread(state, MAIN).unread == 2


def test_my_own_message_reads_up_to_it_in_its_thread() -> None:
    state = room(msg("$A"), msg("$B"), msg("$mine", sender=ME), msg("$C"))
    assert state.read_position(MAIN).index == 2
    assert thread_unread(state, MAIN).unread == 1


def test_the_fast_builders_make_the_same_frozen_receipts() -> None:
    import dataclasses
    import pickle

    from app.model.receipts import Receipt, ReceiptKey, ReceiptType, new_receipt, new_receipt_key

    for thread in (None, "main", "$root"):
        key = new_receipt_key("@a:b", ReceiptType.PRIVATE, thread)
        same = ReceiptKey("@a:b", ReceiptType.PRIVATE, thread)
        assert type(key) is ReceiptKey and key == same and hash(key) == hash(same) and repr(key) == repr(same)
        assert {same: 1}[key] == 1 and pickle.loads(pickle.dumps(key)) == same
        with pytest.raises(dataclasses.FrozenInstanceError):
            key.thread_id = "x"  # type: ignore[misc]
    receipt = new_receipt("$e", 7)
    assert type(receipt) is Receipt and receipt == Receipt("$e", 7) and hash(receipt) == hash(Receipt("$e", 7))
    assert dataclasses.astuple(receipt) == ("$e", 7) and not hasattr(receipt, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        receipt.ts = 8  # type: ignore[misc]
