"""``MatrixService``: the live implementation of ``ReadStateService``.

It owns the account's read state and three pieces of I/O: the sync loop (raw bodies
from the facade, decoded by the pure translator), the local cache (a restart paints the
last state at once and resumes with an incremental sync), and the durable receipt queue.

State flows one way: every change makes a new ``AccountState``, published to the
listener. Receipts are planned by the model, applied optimistically, queued to disk,
sent by the queue, and settled (kept or rolled back) when the server answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from app import paths
from app.matrix import translate
from app.matrix.client import MatrixClient
from app.matrix.errors import MatrixError, RateLimited, RequestRefused, TokenInvalid
from app.matrix.queue import ReceiptQueue
from app.matrix.service import ReceiptOutcome, ServiceListener, SyncState, SyncStatus
from app.matrix.sync_filter import sync_filter
from app.model.account import AccountState
from app.model.ids import MAIN, RoomId, ThreadId
from app.model.plan import FullyReadRequest, ReceiptAction, Refusal, Request, apply_optimistic, plan, settle
from app.model.receipts import ReceiptType
from app.model.events import TimelineEvent
from app.model.room import RoomState, backfill, fill_gap, gap_before_latest
from app.model.summary import RoomSummary, summarize
from app.model.unread import thread_unread, threads_unread
from app.store import cache

log = logging.getLogger(__name__)

SYNC_TIMEOUT_MS = 30_000
BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
THREAD_FILL_PAGES = 10
# A main timeline with a gap after my read position is filled from /messages, at most
# this many pages of 100 events: past that the count stays a labelled lower bound.
MAIN_FILL_PAGES = 5
# Threads that left the sync window without unread notifications are invisible to the
# window; GET /threads lists them. Asked for the most active rooms with missing history.
THREAD_DISCOVERY_ROOMS = 30
THREAD_DISCOVERY_LIMIT = 20
_DISCOVER = "\x00discover threads"
# Threads whose local count is only a lower bound are loaded whole in the background,
# a few at a time, most recent first, so counts become exact without a keypress.
BACKGROUND_FILL_CONCURRENCY = 2
BACKGROUND_FILL_BUDGET = 300

Sleep = Callable[[float], Awaitable[None]]


class _Silent:
    def account_changed(self, account: AccountState) -> None: ...

    def status_changed(self, status: SyncStatus) -> None: ...

    def receipt_settled(self, outcome: ReceiptOutcome) -> None: ...

    def queue_changed(self, pending: int) -> None: ...


class MatrixService:
    def __init__(
        self,
        client: MatrixClient,
        *,
        queue_path: Path | None = None,
        use_cache: bool = True,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._account = AccountState(client.user_id)
        self._listener: ServiceListener = _Silent()
        self._use_cache = use_cache
        self._sync_timeout_ms = sync_timeout_ms
        self._sleep = sleep
        self._private_ok: bool | None = None
        self._status = SyncStatus(SyncState.STARTING)
        self._queue = ReceiptQueue(
            queue_path or paths.state_dir() / "receipt-queue.json",
            client.user_id,
            on_settled=self._settled,
            on_change=lambda pending: self._listener.queue_changed(pending),
            on_blocked=self._token_failed,
        )
        self._queue_loaded = False
        self._queue_requests: list[Request] | None = None
        self._stopped = asyncio.Event()
        self._helpers: list[asyncio.Task] = []
        self._fills_started = False
        self._discovered: set[RoomId] = set()
        self._fill_wanted: asyncio.Queue[tuple[RoomId, ThreadId]] = asyncio.Queue()
        self._fill_seen: set[tuple[RoomId, ThreadId]] = set()

    # ---- ReadStateService --------------------------------------------------------

    @property
    def user_id(self) -> str:
        return self._client.user_id

    @property
    def account(self) -> AccountState:
        return self._account

    @property
    def status(self) -> SyncStatus:
        return self._status

    @property
    def supports_private_receipts(self) -> bool:
        return self._private_ok is not False

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def insecure_transport(self) -> bool:
        return self._client.insecure_transport

    def preview(self) -> Sequence[RoomSummary]:
        """The summaries the cache keeps of its rooms (a few milliseconds for 1,000
        rooms, against a hundred or more to decode them: issue 6, cold start), for the
        rooms pane to paint before ``load_local``. A room with receipts still queued
        from an earlier run is decoded and summarised with them applied, so each count
        is the one the loaded account will show. Empty once the account is loaded."""
        if self._queue_loaded or not self._use_cache:
            return ()
        summaries = cache.load_summaries(self.user_id, device_id=self._client.device_id)
        if not summaries:
            return ()
        queued = self._queued_requests()
        if queued:
            wanted = (request.room_id for request in queued)
            rooms = cache.load_rooms(self.user_id, wanted, device_id=self._client.device_id)
            for request in queued:
                room = rooms.get(request.room_id)
                if room is not None:
                    rooms[request.room_id] = apply_optimistic(room, request)
            summaries = [summarize(rooms[s.room_id]) if s.room_id in rooms else s for s in summaries]
        return summaries

    def _queued_requests(self) -> list[Request]:
        """What the queue file held at start (read once)."""
        if self._queue_requests is None:
            self._queue_requests = self._queue.load()
        return self._queue_requests

    def load_local(self) -> AccountState:
        """The cached state plus what the queue still holds, applied optimistically.
        Synchronous, and no network: what the screen shows before any answer. Called
        again (``run`` and ``submit`` do), it changes nothing."""
        if self._queue_loaded:
            return self._account
        if self._use_cache:
            cached = cache.load_account(self.user_id, device_id=self._client.device_id)
            if cached is not None:
                self._account = cached
        self._queue_loaded = True
        for request in self._queued_requests():
            self._apply_to_room(request.room_id, lambda room, r=request: apply_optimistic(room, r))
        self._queue_requests = []
        return self._account

    async def run(self, listener: ServiceListener) -> None:
        self._listener = listener
        self.load_local()
        listener.account_changed(self._account)
        listener.queue_changed(len(self._queue))
        if self._queue.dropped_for_other_user:
            listener.status_changed(
                SyncStatus(
                    self._status.state,
                    detail=f"dropped {self._queue.dropped_for_other_user} queued receipts of another account",
                )
            )
        helpers = self._helpers = [asyncio.create_task(self._queue.run(self._send), name="receipt queue")]
        helpers += [
            asyncio.create_task(self._fill_threads(), name=f"thread fill {i}")
            for i in range(BACKGROUND_FILL_CONCURRENCY)
        ]
        try:
            await self._sync_loop()
            # Logged out: "until cancelled" still holds. Returning would end the caller's
            # worker as if syncing had simply stopped, hiding why; the queue keeps what
            # it holds (blocked at the first request the dead token meets).
            await self._stopped.wait()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def submit(self, room_id: RoomId, action: ReceiptAction) -> Request | Refusal:
        # A key pressed while the screen still shows the preview: plan on the real state.
        self.load_local()
        wants_private = action.receipt_type is ReceiptType.PRIVATE and (
            action.kind.value != "fully_read" or action.with_receipt
        )
        if wants_private and self._private_ok is False:
            return Refusal(
                "no-private-receipts",
                "this homeserver does not support private receipts; nothing was sent (switch to public with p)",
            )
        room = self._account.rooms.get(room_id)
        if room is None:
            return Refusal("unknown-room", f"room {room_id} is not joined")
        result = plan(room, action)
        if isinstance(result, Refusal):
            return result
        # Durable first: when the queue cannot be written (disk full, read-only) this
        # raises and nothing changes, rather than showing as read what will not be sent.
        self._queue.submit(result)
        self._account = self._account.with_room(apply_optimistic(room, result, ts=int(time.time() * 1000)))
        self._listener.account_changed(self._account)
        return result

    async def open_thread(self, room_id: RoomId, thread_id: ThreadId) -> None:
        """Load a thread whole (its root and every reply) so its count is exact; for
        MAIN, list the room's threads the sync window does not show."""
        room = self._account.rooms.get(room_id)
        if room is not None and thread_id == MAIN:
            await self._discover_threads(room_id)
            return
        if room is None or thread_id in room.complete_threads:
            return
        self._fill_seen.add((room_id, thread_id))
        await self._fill(room_id, thread_id)

    async def _fill(self, room_id: RoomId, thread_id: ThreadId) -> None:
        room = self._account.rooms[room_id]
        events, complete = await load_thread(self._client, room, thread_id)
        self._apply_to_room(
            room_id, lambda r: backfill(r, events, complete_thread=thread_id if complete else None)
        )
        self._listener.account_changed(self._account)

    async def _discover_threads(self, room_id: RoomId) -> None:
        """``GET /threads``: roots of threads not in the window get loaded whole."""
        if room_id in self._discovered:
            return
        self._discovered.add(room_id)
        roots, _ = await self._client.threads(room_id, limit=THREAD_DISCOVERY_LIMIT)
        room = self._account.rooms.get(room_id)
        if room is None:
            return
        for root in translate.timeline_events(roots):
            key = (room_id, root.event_id)
            if root.event_id not in room.thread_positions and key not in self._fill_seen:
                self._fill_seen.add(key)
                self._fill_wanted.put_nowait(key)

    async def _fill_main(self, room_id: RoomId) -> None:
        """Page back through the latest gap until my read position is loaded."""
        for _ in range(MAIN_FILL_PAGES):
            room = self._account.rooms.get(room_id)
            if room is None or not thread_unread(room, MAIN).lower_bound:
                return
            before = gap_before_latest(room)
            token = room.gap_tokens.get(before) if before is not None else None
            if before is None or token is None:
                return
            chunk, end = await self._client.messages(room_id, token, direction="b", limit=100)
            older = translate.timeline_events(reversed(chunk))
            self._apply_to_room(
                room_id,
                lambda r: fill_gap(r, before, older, next_token=end, exhausted=end is None or not chunk),
            )
            self._listener.account_changed(self._account)

    def _want_discovery(self) -> None:
        """Thread lists for the most active rooms whose history is not all loaded."""
        rooms = [
            room
            for room in self._account.rooms.values()
            if room.membership == "join" and (not room.history_complete or room.gaps_before)
        ]
        rooms.sort(key=lambda room: room.latest_ts, reverse=True)
        for room in rooms[:THREAD_DISCOVERY_ROOMS]:
            key = (room.room_id, _DISCOVER)
            if key not in self._fill_seen:
                self._fill_seen.add(key)
                self._fill_wanted.put_nowait(key)

    def _want_fills(self, changed: Iterable[RoomId]) -> None:
        """Queue the threads of changed rooms whose count is only a lower bound."""
        candidates: list[tuple[int, RoomId, ThreadId]] = []
        for room_id in changed:
            room = self._account.rooms.get(room_id)
            if room is None or room.membership != "join":
                continue
            for thread_id, counts in threads_unread(room).items():
                # A main timeline is worth another try for each new gap; a thread once.
                key = (room_id, thread_id if thread_id != MAIN else f"{MAIN}@{gap_before_latest(room)}")
                if not counts.lower_bound or key in self._fill_seen:
                    continue
                latest = room.latest_event(thread_id)
                candidates.append((latest.ts if latest else 0, key, thread_id))
        for _, key, thread_id in sorted(candidates, reverse=True):
            if len(self._fill_seen) >= BACKGROUND_FILL_BUDGET:
                return
            self._fill_seen.add(key)
            self._fill_wanted.put_nowait((key[0], thread_id))

    async def _fill_threads(self) -> None:
        while True:
            room_id, thread_id = await self._fill_wanted.get()
            room = self._account.rooms.get(room_id)
            if room is None or thread_id in room.complete_threads:
                continue
            try:
                if thread_id == _DISCOVER:
                    await self._discover_threads(room_id)
                elif thread_id == MAIN:
                    await self._fill_main(room_id)
                else:
                    await self._fill(room_id, thread_id)
            except MatrixError as error:
                # Best effort: the count stays a lower bound, honestly labelled.
                log.info("could not load thread %s in %s: %s", thread_id, room_id, error)
            except Exception:  # a bug here must not stop the other fills or the app
                log.exception("filling thread %s in %s failed", thread_id, room_id)

    async def close(self) -> None:
        self._stopped.set()
        # Stop what could still send before the client closes: a request after close
        # would open a new HTTP session that nothing closes.
        for task in self._helpers:
            task.cancel()
        await asyncio.gather(*self._helpers, return_exceptions=True)
        # Only an account that was loaded is saved: quitting while the screen still
        # showed the preview (the cache not decoded yet) would otherwise write an empty
        # account over the cache.
        if self._use_cache and self._queue_loaded:
            try:
                cache.save_account(self._account, device_id=self._client.device_id)
            except Exception:  # the cache is a convenience; never fail a quit on it
                log.exception("could not save the cache on close")
        await self._client.close()

    # ---- sending -------------------------------------------------------------------

    async def _send(self, request: Request) -> None:
        if needs_private_receipts(request):
            # Queued before the server said (started offline, say): ask now, and never
            # send a private receipt to a server that does not know them.
            if self._private_ok is None:
                self._private_ok = await self._client.supports_private_receipts()
            if not self._private_ok:
                raise RequestRefused(
                    "this homeserver does not support private receipts; nothing was sent",
                    errcode="M_UNRECOGNIZED",
                )
        await send_request(self._client, request)

    def _settled(self, request: Request, error: MatrixError | None) -> None:
        self._apply_to_room(request.room_id, lambda room: settle(room, request, accepted=error is None))
        self._listener.account_changed(self._account)
        self._listener.receipt_settled(ReceiptOutcome(request, error is None, None if error is None else str(error)))

    def _token_failed(self, error: MatrixError) -> None:
        self._set_status(SyncStatus(SyncState.LOGGED_OUT, detail=str(error)))

    def _apply_to_room(self, room_id: RoomId, change) -> None:
        room = self._account.rooms.get(room_id)
        if room is None:
            return
        self._account = self._account.with_room(change(room))

    # ---- syncing ---------------------------------------------------------------------

    def _set_status(self, status: SyncStatus) -> None:
        if status != self._status:
            self._status = status
            self._listener.status_changed(status)

    async def _sync_loop(self) -> None:
        filter_id: str | None = None
        attempt = 0
        self._set_status(SyncStatus(SyncState.CATCHING_UP))
        while not self._stopped.is_set():
            try:
                if self._private_ok is None:
                    self._private_ok = await self._client.supports_private_receipts()
                if filter_id is None:
                    filter_id = await self._client.upload_filter(sync_filter())
                since = self._account.next_batch
                timeout = self._sync_timeout_ms if (since and self._status.state is SyncState.LIVE) else 0
                body = await self._client.sync_raw(since, timeout, filter_id)
                sync = translate.parse_sync(body)
            except TokenInvalid as error:
                self._set_status(SyncStatus(SyncState.LOGGED_OUT, detail=str(error)))
                return
            except (MatrixError, translate.SyncFormatError) as error:
                if isinstance(error, RequestRefused) and self._account.next_batch:
                    # An unusable since token: start over with an initial sync.
                    log.warning("sync refused (%s); starting a fresh sync", error)
                    self._account = replace(self._account, next_batch=None)
                    continue
                delay = min(BACKOFF_CAP, BACKOFF_START * 2**attempt) * (0.5 + random.random() / 2)
                if isinstance(error, RateLimited) and error.retry_after_ms is not None:
                    # The server said how long; asking sooner only earns another 429.
                    delay = max(delay, error.retry_after_ms / 1000)
                attempt += 1
                log.info("sync failed (%s); retrying in %.1f s", error, delay)
                await self._countdown(delay, str(error))
                self._set_status(SyncStatus(SyncState.CATCHING_UP))
                continue
            if attempt:
                # Back after failures: receipts waiting out a backoff go now, not up to
                # 30 s later while the status bar already says live.
                self._queue.retry_now()
            attempt = 0
            self._account, changed = translate.apply_sync_changes(self._account, sync, initial=since is None)
            if not self._fills_started:
                # After the first sync, not before the first paint: rooms restored from
                # the cache may hold lower-bound threads from an earlier run too.
                self._fills_started = True
                changed = frozenset(self._account.rooms) | changed  # with the rooms just dropped
                self._want_discovery()
            self._want_fills(changed)
            if self._use_cache:
                try:
                    cache.save_account(self._account, changed_room_ids=changed, device_id=self._client.device_id)
                except Exception:
                    log.exception("could not write the cache")
            self._listener.account_changed(self._account)
            self._set_status(SyncStatus(SyncState.LIVE))

    async def _countdown(self, delay: float, detail: str) -> None:
        """OFFLINE with a retry countdown, updated each second."""
        remaining = delay
        while remaining > 0 and not self._stopped.is_set():
            self._set_status(SyncStatus(SyncState.OFFLINE, retry_in=round(remaining), detail=detail))
            step = min(1.0, remaining)
            await self._sleep(step)
            remaining -= step


def needs_private_receipts(request: Request) -> bool:
    return request.receipt_type is ReceiptType.PRIVATE


async def send_request(client: MatrixClient, request: Request) -> None:
    """One planned request on the wire: a receipt, or the read markers."""
    if isinstance(request, FullyReadRequest):
        receipt_type, receipt_event = request.receipt_type, request.receipt_event_id
        await client.set_read_markers(
            request.room_id,
            fully_read=request.event_id,
            read=receipt_event if receipt_type is ReceiptType.PUBLIC else None,
            read_private=receipt_event if receipt_type is ReceiptType.PRIVATE else None,
        )
        return
    await client.send_receipt(request.room_id, request.receipt_type.value, request.event_id, request.thread_id)


async def load_thread(client: MatrixClient, room: RoomState, thread_id: ThreadId) -> tuple[list[TimelineEvent], bool]:
    """A thread's events from ``/relations`` (and whether that is all of them), plus its
    root and the events my receipts for it point at when those are not loaded: without
    their positions the count would stay uncertain."""
    room_id = room.room_id
    raw: list[dict] = []
    token: str | None = None
    complete = False
    for _ in range(THREAD_FILL_PAGES):
        chunk, token = await client.thread_events(room_id, thread_id, token, limit=100)
        raw.extend(chunk)
        if token is None:
            complete = True
            break
    wanted = [thread_id]
    for receipt_type in ReceiptType:
        for key_thread in (None, thread_id):
            receipt = room.my_receipt(receipt_type, key_thread)
            if receipt is not None and receipt.event_id not in wanted:
                wanted.append(receipt.event_id)
    fetched = {event.get("event_id") for event in raw}
    for event_id in wanted:
        if room.event(event_id) is None and event_id not in fetched:
            try:
                raw.append(await client.room_event(room_id, event_id))
            except RequestRefused:
                log.info("event %s in %s is not visible", event_id, room_id)
    return translate.timeline_events(raw), complete
