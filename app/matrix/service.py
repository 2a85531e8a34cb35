"""The contract between the UI/CLI and the Matrix layer.

One service object owns the account's read state. The UI renders what the service
publishes and asks it to do things; it never sees nio types or exceptions, only the
types below and ``MatrixError`` subclasses.

- ``submit(action)`` plans a receipt with ``app.model.plan``, applies it to the model
  at once (optimistic), queues it durably, and returns the plan (or a ``Refusal``).
  When the server answers, the service settles the model (keep or roll back) and
  reports a ``ReceiptOutcome``.
- ``run(listener)`` syncs until cancelled, publishing every new ``AccountState`` and
  every change of ``SyncStatus``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from app.model.account import AccountState
from app.model.ids import RoomId, ThreadId
from app.model.plan import ReceiptAction, Refusal, Request
from app.model.summary import RoomSummary


class SyncState(str, Enum):
    STARTING = "starting"
    LIVE = "live"
    CATCHING_UP = "catching up"
    OFFLINE = "offline"
    LOGGED_OUT = "logged out"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Where the sync loop is: live, catching up, offline (and when it tries again)."""

    state: SyncState
    # Seconds until the next attempt, while OFFLINE.
    retry_in: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    """The server's answer to one queued request: accepted, or refused and why."""

    request: Request
    accepted: bool
    # The server's errcode and message when refused, for example
    # "M_INVALID_PARAM: event_id ... is not related to thread ...".
    error: str | None = None


class ServiceListener(Protocol):
    def account_changed(self, account: AccountState) -> None: ...

    def status_changed(self, status: SyncStatus) -> None: ...

    def receipt_settled(self, outcome: ReceiptOutcome) -> None: ...

    def queue_changed(self, pending: int) -> None: ...


class ReadStateService(Protocol):
    @property
    def user_id(self) -> str: ...

    @property
    def account(self) -> AccountState: ...

    @property
    def supports_private_receipts(self) -> bool: ...

    @property
    def queued(self) -> int: ...

    def preview(self) -> Sequence[RoomSummary]:
        """What the rooms pane can paint before ``run`` loads the cache: the summary of
        each cached room as ``account`` will hold it (queued receipts applied). Empty
        when there is nothing cached or the account is already loaded."""

    def load_local(self) -> AccountState:
        """Load what is kept on this machine (the cache, queued receipts) if that has
        not been done yet, and return the account. ``run`` does it first thing; a key
        that needs the rooms while only the preview is shown does it sooner."""

    async def run(self, listener: ServiceListener) -> None:
        """Load the cache, send what was queued, then sync until cancelled."""

    def submit(self, room_id: RoomId, action: ReceiptAction) -> Request | Refusal:
        """Plan, apply optimistically and queue one receipt action."""

    async def open_thread(self, room_id: RoomId, thread_id: ThreadId) -> None:
        """Fill a thread's events from the server so its counts are exact."""

    async def close(self) -> None:
        """Stop syncing and sending; what is still queued stays on disk."""
