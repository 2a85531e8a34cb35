"""The sending rules (``app.model.sending``): which mode a room takes, which actions send a
receipt, and the refusals that keep a private choice private, checked over every
combination against the rules as the README states them."""

from __future__ import annotations

import itertools
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.sending import (
    ModeRules,
    RoomMode,
    needs_private_receipts,
    refuse_action,
    refuse_request,
    room_mode,
    sends_receipt,
)

PRIV, PUB = ReceiptType.PRIVATE, ReceiptType.PUBLIC
ROOMS = ["!a:x", "!b:x", "!c:x"]


@given(
    default=st.sampled_from(ReceiptType),
    pinned=st.dictionaries(st.sampled_from(ROOMS), st.sampled_from(ReceiptType)),
    session=st.one_of(st.none(), st.sampled_from(ReceiptType)),
    room=st.one_of(st.none(), st.sampled_from(ROOMS)),
)
def test_a_pinned_room_keeps_its_type_and_any_other_follows_the_session(default, pinned, session, room) -> None:
    mode = room_mode(ModeRules(default, MappingProxyType(pinned)), session, room)
    if room in pinned:
        assert mode == RoomMode(pinned[room], pinned=True)
    elif session is not None:
        assert mode == RoomMode(session, pinned=False)
    else:
        assert mode == RoomMode(default, pinned=False)


def test_only_the_fully_read_marker_alone_sends_no_receipt() -> None:
    assert sends_receipt(ReceiptAction(ActionKind.THREADED, PRIV, "main"))
    assert sends_receipt(ReceiptAction(ActionKind.UNTHREADED, PUB))
    assert sends_receipt(ReceiptAction(ActionKind.FULLY_READ, PRIV, with_receipt=True))
    assert not sends_receipt(ReceiptAction(ActionKind.FULLY_READ, PUB))
    assert not sends_receipt(ReceiptAction(ActionKind.FULLY_READ, PRIV))


ACTIONS = [
    ReceiptAction(kind, receipt_type, "main" if kind is ActionKind.THREADED else None, with_receipt=with_receipt)
    for kind, receipt_type, with_receipt in itertools.product(ActionKind, ReceiptType, (False, True))
    if with_receipt is False or kind is ActionKind.FULLY_READ
]


@pytest.mark.parametrize("action", ACTIONS, ids=repr)
@pytest.mark.parametrize("mode", [RoomMode(PRIV), RoomMode(PRIV, True), RoomMode(PUB), RoomMode(PUB, True)], ids=repr)
@pytest.mark.parametrize("private_supported", [True, False, None])
def test_refusals(action: ReceiptAction, mode: RoomMode, private_supported: bool | None) -> None:
    refusal = refuse_action(action, mode, private_supported=private_supported)
    receipt = action.kind is not ActionKind.FULLY_READ or action.with_receipt
    if receipt and action.receipt_type is PUB and mode.receipt_type is PRIV:
        # A public receipt in a private room: never, whoever asked.
        assert refusal is not None and refusal.code == "private-mode"
        assert "a public receipt needs PUBLIC mode" in refusal.reason
        assert ("pinned" in refusal.reason) is mode.pinned
    elif receipt and action.receipt_type is PRIV and private_supported is False:
        # A private receipt to a server without them: refused, never sent public.
        assert refusal is not None and refusal.code == "no-private-receipts"
    else:
        assert refusal is None


def test_the_last_check_before_the_wire() -> None:
    private = ReceiptRequest("!a:x", PRIV, "$e", "main")
    public = ReceiptRequest("!a:x", PUB, "$e", None)
    marker_only = FullyReadRequest("!a:x", "$e")
    marker_private = FullyReadRequest("!a:x", "$e", PRIV, "$e")
    assert [needs_private_receipts(r) for r in (private, public, marker_only, marker_private)] == [True, False, False, True]
    assert refuse_request(private, private_supported=False).code == "no-private-receipts"
    assert refuse_request(marker_private, private_supported=False).code == "no-private-receipts"
    assert refuse_request(marker_only, private_supported=False) is None
    assert refuse_request(public, private_supported=False) is None
    assert refuse_request(private, private_supported=True) is None
