"""App-level messages: what the service reports, carried onto Textual's message queue.

The service calls a ``ServiceListener`` from the app's own asyncio loop. The bridge
below hands a new account to the app at once (the app's ``account`` has that one
writer), so a key's effect is drawn in the frame the key causes; every other report is
posted to the app as a message and handled in message order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message
from textual.message_pump import MessagePump

from app.matrix.core import ReceiptOutcome
from app.matrix.service import SyncStatus
from app.model.account import AccountState
from app.model.ids import RoomId
from app.model.plan import ReceiptAction, Refusal, Request


@dataclass
class SyncStatusChanged(Message):
    """The sync loop's state changed: live, catching up, offline, logged out."""

    status: SyncStatus


@dataclass
class ReceiptSettled(Message):
    """The server answered a receipt or read-marker request."""

    outcome: ReceiptOutcome


@dataclass
class QueueChanged(Message):
    """How many receipt requests wait to be sent."""

    pending: int


@dataclass
class ReceiptSubmitted(Message):
    """A key or palette entry asked for a receipt action; ``result`` is what the
    service planned (and queued) or the refusal (nothing sent)."""

    room_id: RoomId
    action: ReceiptAction
    result: Request | Refusal


class ListenerBridge:
    """A ``ServiceListener``: a new account goes to ``on_account``, every other report is
    posted to ``target`` as a message."""

    def __init__(self, target: MessagePump, on_account: Callable[[AccountState], None]) -> None:
        self._target = target
        self._on_account = on_account

    def account_changed(self, account: AccountState) -> None:
        self._on_account(account)

    def status_changed(self, status: SyncStatus) -> None:
        self._target.post_message(SyncStatusChanged(status))

    def receipt_settled(self, outcome: ReceiptOutcome) -> None:
        self._target.post_message(ReceiptSettled(outcome))

    def queue_changed(self, pending: int) -> None:
        self._target.post_message(QueueChanged(pending))
