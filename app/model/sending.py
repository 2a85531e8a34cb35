"""The rules for sending, defined once: which receipt type a room's read keys send, whether
an action sends a receipt at all, and the refusals that keep a private choice private.

The screen, the service (and its core), the receipt queue's last check before the wire,
``readmark mark`` and the UI tests' double all ask these functions; none of them words a
rule of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from app.model.ids import RoomId
from app.model.plan import ActionKind, ReceiptAction, Refusal, Request
from app.model.receipts import ReceiptType


@dataclass(frozen=True, slots=True)
class ModeRules:
    """What config.toml says about receipt types: the default mode, and rooms pinned to one."""

    default: ReceiptType = ReceiptType.PRIVATE
    rooms: Mapping[RoomId, ReceiptType] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class RoomMode:
    """The receipt type read keys send in one room, and whether a per-room setting chose it."""

    receipt_type: ReceiptType
    pinned: bool = False


def room_mode(rules: ModeRules, session_mode: ReceiptType | None, room_id: RoomId | None) -> RoomMode:
    """A room pinned in ``rules`` keeps its type whatever the session mode is (the user
    pinned it on purpose); any other room follows the session mode, which starts at the
    default and is toggled for one session (``p``, ``mark --public``/``--private``)."""
    if room_id is not None:
        pinned = rules.rooms.get(room_id)
        if pinned is not None:
            return RoomMode(ReceiptType(pinned), True)
    return RoomMode(session_mode if session_mode is not None else rules.default)


def sends_receipt(action: ReceiptAction) -> bool:
    """Whether an action sends a read receipt: every kind does but the fully-read marker
    alone (which no other member sees)."""
    return action.kind is not ActionKind.FULLY_READ or action.with_receipt


def needs_private_receipts(request: Request) -> bool:
    """Whether a planned request carries an ``m.read.private`` receipt."""
    return request.receipt_type is ReceiptType.PRIVATE


NO_PRIVATE_RECEIPTS = "this homeserver does not support private receipts"


def refuse_action(action: ReceiptAction, mode: RoomMode, *, private_supported: bool | None) -> Refusal | None:
    """Why ``action`` must not be sent in a room of ``mode``, or None.

    A public receipt needs the room's mode to be public: a private choice never leaks,
    whichever path (a key, a palette entry, a script) asked. A private receipt is never
    sent to a server without private receipts, and never falls back to public.
    ``private_supported`` None means the server has not said yet: the queue asks it
    before the request leaves (``refuse_request``).
    """
    if not sends_receipt(action):
        return None
    if action.receipt_type is ReceiptType.PUBLIC and mode.receipt_type is ReceiptType.PRIVATE:
        where = "this room is pinned to PRIVATE" if mode.pinned else "PRIVATE mode"
        return Refusal("private-mode", f"{where}: a public receipt needs PUBLIC mode")
    if action.receipt_type is ReceiptType.PRIVATE and private_supported is False:
        return Refusal("no-private-receipts", NO_PRIVATE_RECEIPTS)
    return None


def refuse_request(request: Request, *, private_supported: bool) -> Refusal | None:
    """The last check before a planned request goes on the wire (it may have been queued
    before the server said whether it knows private receipts)."""
    if needs_private_receipts(request) and not private_supported:
        return Refusal("no-private-receipts", NO_PRIVATE_RECEIPTS)
    return None
