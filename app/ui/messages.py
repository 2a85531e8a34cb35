"""App-level messages: what the service reports, carried onto Textual's message queue.

The service calls a ``ServiceListener`` from the app's own asyncio loop; the bridge
below turns each call into a message posted to the app, so every state change is
handled in message order by ordinary handlers.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message
from textual.message_pump import MessagePump

from app.matrix.service import ReceiptOutcome, SyncStatus
from app.model.account import AccountState
from app.model.ids import RoomId
from app.model.plan import ReceiptAction, Refusal, Request


@dataclass
class AccountChanged(Message):
    """A new read state from the service (a sync, a settled receipt, an optimistic one)."""

    account: AccountState


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
    """A ``ServiceListener`` that posts each report to ``target`` as a message."""

    def __init__(self, target: MessagePump) -> None:
        self._target = target

    def account_changed(self, account: AccountState) -> None:
        self._target.post_message(AccountChanged(account))

    def status_changed(self, status: SyncStatus) -> None:
        self._target.post_message(SyncStatusChanged(status))

    def receipt_settled(self, outcome: ReceiptOutcome) -> None:
        self._target.post_message(ReceiptSettled(outcome))

    def queue_changed(self, pending: int) -> None:
        self._target.post_message(QueueChanged(pending))
