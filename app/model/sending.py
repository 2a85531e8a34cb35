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
from app.model.policy import Mode, PolicyRule, RoomFacts, decide
from app.model.receipts import ReceiptType


@dataclass(frozen=True, slots=True)
class ModeRules:
    """What config.toml says about receipt types: the default mode, rooms pinned to a
    mode (``[receipts.rooms]``), and the ordered policy rules (``[[receipts.rule]]``)."""

    default: ReceiptType = ReceiptType.PRIVATE
    rooms: Mapping[RoomId, ReceiptType | Mode] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[PolicyRule, ...] = ()


@dataclass(frozen=True, slots=True)
class RoomMode:
    """The receipt type read keys send in one room, whether a per-room setting or a rule
    chose it (``pinned``: the session mode does not move it), whether they send a
    receipt at all (``none``: they do not), and what decided, in words."""

    receipt_type: ReceiptType
    pinned: bool = False
    sends: bool = True
    rule: str = field(default="default", compare=False)

    @property
    def mode(self) -> Mode:
        if not self.sends:
            return Mode.NONE
        return Mode.PUBLIC if self.receipt_type is ReceiptType.PUBLIC else Mode.PRIVATE


def as_mode(value: ReceiptType | Mode | str) -> Mode:
    """A mode from a receipt type, a mode, or its word."""
    if isinstance(value, Mode):
        return value
    if isinstance(value, ReceiptType):
        return Mode.PUBLIC if value is ReceiptType.PUBLIC else Mode.PRIVATE
    if value in (ReceiptType.PUBLIC.value, ReceiptType.PRIVATE.value):
        return as_mode(ReceiptType(value))
    return Mode(value)


def _of(mode: Mode, pinned: bool, rule: str) -> RoomMode:
    if mode is Mode.NONE:
        # No receipt goes out; the type is what a key would name if it could send one.
        return RoomMode(ReceiptType.PRIVATE, pinned, False, rule)
    return RoomMode(ReceiptType.PUBLIC if mode is Mode.PUBLIC else ReceiptType.PRIVATE, pinned, True, rule)


def room_mode(
    rules: ModeRules, session_mode: ReceiptType | None, room_id: RoomId | None, facts: RoomFacts | None = None
) -> RoomMode:
    """The receipt policy for one room (``app.model.policy``): the room's own setting,
    a room pinned in config, the first matching rule, else the session mode, which
    starts at the default and is toggled for one session (``p``,
    ``mark --public``/``--private``). A pinned room or a rule keeps its mode whatever
    the session mode is: the user chose it on purpose. ``facts`` (what the rules read
    of the room) default to the room ID alone."""
    session = session_mode if session_mode is not None else rules.default
    if room_id is None:
        return _of(as_mode(session), False, "session" if session is not rules.default else "default")
    if facts is None:
        facts = RoomFacts(room_id)
    pinned = rules.rooms.get(room_id)
    decision = decide(
        facts,
        rules.rules,
        {room_id: as_mode(pinned)} if pinned is not None else None,
        as_mode(session),
        session_moved=session is not rules.default,
    )
    return _of(decision.mode, decision.pinned, decision.rule)


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
    if not mode.sends:
        return Refusal("receipts-off", f"receipts are off in this room ({mode.rule}): nothing is sent; "
                                       "f still moves your fully-read marker")
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


def refuse_by_policy(request: Request, mode: RoomMode) -> Refusal | None:
    """The policy's last word before a queued request leaves: the room's mode may have
    changed since it was planned (a rule, ``P``, another readmark's setting). A receipt
    in a room that now sends none, or a public one in a room now private, is refused,
    never sent; a fully-read marker alone always goes. Only a room whose mode a setting
    or a rule decides (``pinned``) refuses: where the session mode decides, the one it
    was queued under stands (``p`` is for one session; a public receipt queued before a
    quit still goes at the next start, as the user chose then)."""
    receipt_type = request.receipt_type
    if receipt_type is None or not mode.pinned:
        return None
    if not mode.sends:
        return Refusal("receipts-off", f"receipts are off in this room now ({mode.rule}): not sent")
    if receipt_type is ReceiptType.PUBLIC and mode.receipt_type is ReceiptType.PRIVATE:
        return Refusal("private-mode", f"this room is PRIVATE now ({mode.rule}): the public receipt was not sent")
    return None
