"""An in-memory ``ReadStateService`` for Pilot tests: a stand-in for the transport only.

Every decision is the production core's (``app.matrix.core.ReadStateCore``): the mode a
room takes, the refusals that keep a private choice private, planning, optimistic
application and settling. This class only records each request instead of sending it,
and settles it as accepted, or as refused for the event IDs listed in ``refuse``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace

from app.matrix.core import ReadStateCore, ReceiptOutcome
from app.matrix.service import CoreFront, ServiceListener, SyncState, SyncStatus
from app.model.account import AccountState
from app.model.ids import RoomId, ThreadId
from app.model.plan import ReceiptAction, Refusal, Request
from app.model.room import RoomState
from app.model.summary import RoomSummary


class LocalService(CoreFront):
    def __init__(
        self,
        account: AccountState,
        *,
        supports_private_receipts: bool = True,
        refuse: Mapping[str, str] | None = None,
        auto_settle: bool = True,
        now_ms: int = 0,
    ) -> None:
        self._core = ReadStateCore(account.user_id)
        self._core.load(account, ())
        self._core.private_supported = supports_private_receipts
        # event ID -> the server's error for requests aimed at it
        self.refuse = dict(refuse or {})
        self.auto_settle = auto_settle
        self.now_ms = now_ms
        self.requests: list[Request] = []
        self.actions: list[tuple[RoomId, ReceiptAction]] = []
        self.outcomes: list[ReceiptOutcome] = []
        self.opened: list[tuple[RoomId, ThreadId]] = []
        self.flags: list[tuple[RoomId, bool]] = []
        self.overrides: list[tuple[RoomId, str | None]] = []
        self.closed = False
        self.running = False
        self._pending: list[Request] = []
        self._listener: ServiceListener | None = None
        self._wake: asyncio.Event | None = None

    # ---- the contract ---------------------------------------------------

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
        listener.account_changed(self.account)
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
        result = self._core.plan(room_id, action)
        if isinstance(result, Refusal):
            return result
        self.requests.append(result)
        self._pending.append(result)
        self._core.queued(result, now_ms=self.now_ms)
        self._publish()
        if self._listener is not None:
            self._listener.queue_changed(self.queued)
        if self._wake is not None:
            self._wake.set()
        return result

    def _submit_many(self, actions) -> list[Request | Refusal]:  # noqa: ANN001
        return [self.submit(room_id, action) for room_id, action in actions]

    def _unflag_later(self, room_id: RoomId) -> None:
        asyncio.get_running_loop().create_task(self.set_marked_unread(room_id, False))

    async def open_thread(self, room_id: RoomId, thread_id: ThreadId) -> None:
        self.opened.append((room_id, thread_id))

    async def set_marked_unread(self, room_id: RoomId, flag: bool) -> None:
        self.flags.append((room_id, flag))
        if self._core.mark_unread(room_id, flag) and self._listener is not None:
            self._listener.account_changed(self.account)

    async def set_receipt_override(self, room_id: RoomId, mode: str | None) -> None:
        self.overrides.append((room_id, mode))
        if self._core.set_receipt_override(room_id, mode) and self._listener is not None:
            self._listener.account_changed(self.account)

    async def verify(self, secret: str, progress=None) -> list[str]:  # noqa: ANN001
        from app.matrix.recovery import RecoveryError

        raise RecoveryError("this in-memory service has no homeserver to verify against")

    async def close(self) -> None:
        self.closed = True

    # ---- test controls --------------------------------------------------

    def settle_all(self) -> None:
        """Answer every queued request as the server would."""
        pending, self._pending = self._pending, []
        for request in pending:
            outcome = self._core.settled(request, self.refuse.get(request.event_id))
            self._publish()
            self.outcomes.append(outcome)
            if self._listener is not None:
                self._listener.receipt_settled(outcome)
        if self._listener is not None:
            self._listener.queue_changed(self.queued)

    def deliver(self, room: RoomState) -> None:
        """A sync brought a new state of one room."""
        self._core.account = self._core.account.with_room(room)
        self._publish()

    def set_status(self, status: SyncStatus) -> None:
        if self._listener is not None:
            self._listener.status_changed(status)

    def set_private_supported(self, supported: bool) -> None:
        """The server said (``/versions``) whether it takes private receipts."""
        self._core.private_supported = supported

    def _publish(self) -> None:
        if self._listener is not None:
            self._listener.account_changed(self.account)

    def room(self, room_id: RoomId) -> RoomState:
        return self.account.room(room_id)

    def with_room_changes(self, room_id: RoomId, **changes: object) -> None:
        self.deliver(replace(self.account.room(room_id), **changes))  # type: ignore[arg-type]
