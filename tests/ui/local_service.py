"""An in-memory ``ReadStateService`` for Pilot tests: a stand-in for the transport only.

Planning, optimistic application and settling are the real model functions
(``app.model.plan``); this class records every request instead of sending it, and
settles each as accepted, or as refused for the event IDs listed in ``refuse``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace

from app.matrix.service import ReceiptOutcome, ServiceListener, SyncState, SyncStatus
from app.model.account import AccountState
from app.model.ids import RoomId, ThreadId
from app.model.plan import ReceiptAction, Refusal, Request, apply_optimistic, plan, settle
from app.model.room import RoomState
from app.model.summary import RoomSummary


class LocalService:
    def __init__(
        self,
        account: AccountState,
        *,
        supports_private_receipts: bool = True,
        refuse: Mapping[str, str] | None = None,
        auto_settle: bool = True,
        now_ms: int = 0,
    ) -> None:
        self._account = account
        self._supports_private = supports_private_receipts
        # event ID -> the server's error for requests aimed at it
        self.refuse = dict(refuse or {})
        self.auto_settle = auto_settle
        self.now_ms = now_ms
        self.requests: list[Request] = []
        self.actions: list[tuple[RoomId, ReceiptAction]] = []
        self.outcomes: list[ReceiptOutcome] = []
        self.opened: list[tuple[RoomId, ThreadId]] = []
        self.closed = False
        self.running = False
        self._pending: list[Request] = []
        self._listener: ServiceListener | None = None
        self._wake: asyncio.Event | None = None

    # ---- the contract ---------------------------------------------------

    @property
    def user_id(self) -> str:
        return self._account.user_id

    @property
    def account(self) -> AccountState:
        return self._account

    @property
    def supports_private_receipts(self) -> bool:
        return self._supports_private

    @property
    def queued(self) -> int:
        return len(self._pending)

    def load_local(self) -> AccountState:
        return self.account

    def preview(self) -> Sequence[RoomSummary]:
        # Its account is in memory from the start: nothing to preview.
        return ()

    async def run(self, listener: ServiceListener) -> None:
        self._listener = listener
        self._wake = asyncio.Event()
        self.running = True
        listener.status_changed(SyncStatus(SyncState.LIVE))
        listener.account_changed(self._account)
        listener.queue_changed(self.queued)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self.auto_settle:
                    self.settle_all()
        finally:
            self.running = False

    def submit(self, room_id: RoomId, action: ReceiptAction) -> Request | Refusal:
        self.actions.append((room_id, action))
        # As MatrixService: a room the account does not hold is refused, not invented.
        room = self._account.rooms.get(room_id)
        if room is None:
            return Refusal("unknown-room", f"room {room_id} is not joined")
        result = plan(room, action)
        if isinstance(result, Refusal):
            return result
        self.requests.append(result)
        self._pending.append(result)
        self._publish(apply_optimistic(room, result, self.now_ms))
        if self._listener is not None:
            self._listener.queue_changed(self.queued)
        if self._wake is not None:
            self._wake.set()
        return result

    async def open_thread(self, room_id: RoomId, thread_id: ThreadId) -> None:
        self.opened.append((room_id, thread_id))

    async def close(self) -> None:
        self.closed = True

    # ---- test controls --------------------------------------------------

    def settle_all(self) -> None:
        """Answer every queued request as the server would."""
        pending, self._pending = self._pending, []
        for request in pending:
            error = self.refuse.get(request.event_id)
            accepted = error is None
            room = settle(self._account.room(request.room_id), request, accepted=accepted)
            self._publish(room)
            outcome = ReceiptOutcome(request, accepted, error)
            self.outcomes.append(outcome)
            if self._listener is not None:
                self._listener.receipt_settled(outcome)
        if self._listener is not None:
            self._listener.queue_changed(self.queued)

    def deliver(self, room: RoomState) -> None:
        """A sync brought a new state of one room."""
        self._publish(room)

    def set_status(self, status: SyncStatus) -> None:
        if self._listener is not None:
            self._listener.status_changed(status)

    def _publish(self, room: RoomState) -> None:
        self._account = self._account.with_room(room)
        if self._listener is not None:
            self._listener.account_changed(self._account)

    def room(self, room_id: RoomId) -> RoomState:
        return self._account.room(room_id)

    def with_room_changes(self, room_id: RoomId, **changes: object) -> None:
        self.deliver(replace(self._account.room(room_id), **changes))  # type: ignore[arg-type]
