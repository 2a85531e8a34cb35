"""``MatrixService``: the read-state service the TUI runs, the I/O around ``ReadStateCore``.

Every decision (what the account looks like, what may be sent, which history to load)
is the core's (``app.matrix.core``). The service only does what takes time or touches
the outside: the sync loop (raw bodies from the client, handed to the core), the
background history fills, the local cache (a restart paints the last state at once and
resumes with an incremental sync), and the durable receipt queue, which sends through the
client itself. State flows one way: after each change the service publishes the core's
``AccountState`` to its listener.

``ReadStateService`` is the contract the UI holds; ``MatrixService`` is the one real
implementation (the UI tests' double, ``tests/ui/local_service.py``, is built on the
same core).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Protocol

from app import paths
from app.matrix import owner_socket, recovery
from app.matrix.client import MatrixClient
from app.matrix.core import (
    MAIN_FILL_PAGES,
    Decrypt,
    FillJob,
    FillKind,
    ReadStateCore,
    ReceiptOutcome,
    describe_job,
)
from app.matrix.crypto import CryptoDevice, CryptoStoreError, ImportResult
from app.matrix.encryption import decryptor, exchange_keys
from app.matrix.errors import MatrixError, RequestRefused, TokenInvalid
from app.matrix.key_backup import KeyBackup
from app.matrix.key_inbox import KEY_INBOX_DIR, Answer, KeyInbox
from app.matrix.queue import (
    INBOX_DIR,
    QUEUE_FILE,
    QueueWriteError,
    ReceiptInbox,
    ReceiptQueue,
    read_queue_file,
)
from app.matrix.recovery import Progress, RecoveryError
from app.matrix.retry import retry_delay
from app.matrix.sync_filter import sync_filter
from app.matrix.translate import SyncFormatError, parse_sync
from app.model.account import AccountState
from app.model.device import DeviceStanding
from app.model.ids import EventId, RoomId, ThreadId
from app.model.audit import RoomAudit, audit_rooms
from app.model.bulk import BulkPlan
from app.model.plan import ActionKind, ReceiptAction, ReceiptRequest, Refusal, Request, apply_optimistic
from app.model.receipts import ReceiptType
from app.model.sending import ModeRules, RoomMode, refuse_by_policy
from app.model.status import status_document
from app.model.summary import RoomSummary, room_title, summarize
from app.store import cache, receipt_log
from app.store.profile import Owner, ProfileLock

log = logging.getLogger(__name__)

MARKED_UNREAD = "m.marked_unread"

SYNC_TIMEOUT_MS = 30_000
THREAD_FILL_PAGES = 10
THREAD_DISCOVERY_LIMIT = 20
MESSAGES_PAGE = 100
BACKGROUND_FILL_CONCURRENCY = 2
# How often a process that follows the profile's owner looks at its saves and its lock,
# and how often the owner looks for receipts handed to it.
FOLLOW_POLL_S = 1.0
INBOX_POLL_S = 1.0
# A one-shot command (status, mark) that owns the profile lets go within seconds: a TUI
# starting meanwhile waits for it rather than following it.
SHORT_LIVED_WAIT_S = 3.0

Sleep = Callable[[float], Awaitable[None]]


class SyncState(str, Enum):
    STARTING = "starting"
    LIVE = "live"
    CATCHING_UP = "catching up"
    OFFLINE = "offline"
    # The server gave an answer that trying again cannot change (a TLS failure, a
    # refused filter): syncing stopped; the receipt queue still sends.
    STOPPED = "stopped"
    # Another process owns the profile: this one shows the state it saves and hands
    # receipts to it, and takes over when it quits.
    FOLLOWING = "following"
    LOGGED_OUT = "logged out"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Where the sync loop is: live, catching up, offline (and when it tries again)."""

    state: SyncState
    # Seconds until the next attempt, while OFFLINE.
    retry_in: float | None = None
    detail: str = ""
    # This device's standing, when this process holds its crypto store.
    device: DeviceStanding | None = None


class ServiceListener(Protocol):
    def account_changed(self, account: AccountState) -> None: ...

    def status_changed(self, status: SyncStatus) -> None: ...

    def receipt_settled(self, outcome: ReceiptOutcome) -> None: ...

    def queue_changed(self, pending: int) -> None: ...


class ReadStateService(Protocol):
    """What the UI asks of a service. ``submit`` plans (``ReadStateCore.plan``), queues
    durably, applies at once and publishes; the server's answer is settled later and
    reported as a ``ReceiptOutcome``. ``run`` syncs until cancelled, publishing every new
    ``AccountState`` and every change of ``SyncStatus``."""

    @property
    def user_id(self) -> str: ...

    @property
    def account(self) -> AccountState: ...

    @property
    def supports_private_receipts(self) -> bool: ...

    @property
    def queued(self) -> int: ...

    session_mode: ReceiptType

    def mode_in(self, room_id: RoomId | None) -> RoomMode: ...

    def use_modes(self, modes: ModeRules) -> None:
        """The receipt settings to decide by (the app's config); the session mode starts
        at their default."""

    def attach(self, listener: ServiceListener) -> None:
        """Where to publish from now on (before ``run``: ``load_local`` publishes too)."""

    def preview(self) -> Sequence[RoomSummary]:
        """What the rooms pane can paint before the cache is decoded: the summary of
        each cached room as ``account`` will hold it (queued receipts applied). Empty
        when there is nothing cached or the account is already loaded."""

    def load_local(self) -> AccountState:
        """Load what is kept on this machine (the cache, queued receipts) if that has not
        been done yet, publish and return the account."""

    async def run(self, listener: ServiceListener) -> None:
        """Load the cache, send what was queued, then sync until cancelled."""

    def submit(self, room_id: RoomId, action: ReceiptAction) -> Request | Refusal:
        """Plan, queue durably, apply and publish one receipt action."""

    def bulk_plan(self, scope: str, room_ids: Sequence[RoomId], seen: Sequence[EventId] = ()) -> BulkPlan:
        """The dry run of reading many rooms at once (``app.model.bulk``)."""

    def submit_bulk(self, plan: BulkPlan) -> list[Request | Refusal]:
        """Send a confirmed dry run: one unthreaded receipt per room, queued durably."""

    async def open_thread(self, room_id: RoomId, thread_id: ThreadId) -> None:
        """Load a thread's history from the server so its counts are exact."""

    async def set_marked_unread(self, room_id: RoomId, flag: bool) -> None:
        """Flag a room as unread (``m.marked_unread``) or clear the flag; raises
        ``MatrixError`` (and takes it back) when the server refuses."""

    async def set_receipt_override(self, room_id: RoomId, mode: str | None) -> None:
        """Choose the receipt mode of a room (``public``, ``private``, ``none``; None
        leaves it to the config's rules), kept in its account data so every readmark of
        the account follows it; raises ``MatrixError`` (and takes it back) when the
        server refuses."""

    async def verify(self, secret: str, progress: Progress | None = None) -> list[str]:
        """Verify this device with the recovery key or passphrase ``secret`` and restore
        the key backup (``app.matrix.recovery``); what was done, one line each. Raises
        ``RecoveryError``."""

    async def close(self) -> None:
        """Stop syncing and sending; what is still queued stays on disk."""


class CoreFront:
    """What a service answers straight from its ``ReadStateCore`` (``self._core``): the
    service and the UI tests' double share it, so neither words it again."""

    _core: ReadStateCore
    _listener: ServiceListener

    @property
    def user_id(self) -> str:
        return self._core.user_id

    @property
    def account(self) -> AccountState:
        return self._core.account

    @property
    def supports_private_receipts(self) -> bool:
        return self._core.private_supported is not False

    @property
    def session_mode(self) -> ReceiptType:
        return self._core.session_mode

    @session_mode.setter
    def session_mode(self, mode: ReceiptType) -> None:
        self._core.session_mode = mode

    def mode_in(self, room_id: RoomId | None) -> RoomMode:
        return self._core.mode_in(room_id)

    def use_modes(self, modes: ModeRules) -> None:
        self._core.use_modes(modes)

    def attach(self, listener: ServiceListener) -> None:
        self._listener = listener

    def load_local(self) -> AccountState:
        raise NotImplementedError

    def audit(self) -> list[RoomAudit]:
        """Who sees what of my reading, room by room (``app.model.audit``), checked
        against the record of what readmark sent (``app/store/receipt_log.py``)."""
        self.load_local()
        core = self._core
        return audit_rooms(core.account.rooms.values(), core.mode_in, room_title, receipt_log.read(),
                           int(time.time() * 1000))

    def bulk_plan(self, scope: str, room_ids: Sequence[RoomId], seen: Sequence[EventId] = ()) -> BulkPlan:
        self.load_local()
        return self._core.bulk_plan(scope, room_ids, frozenset(seen))

    def submit_bulk(self, plan: BulkPlan) -> list[Request | Refusal]:
        """Each room's receipt goes exactly on the event the dry run named, so it clears
        no more than the dry run said (a message that came since stays unread); a room
        read meanwhile is refused as already read. Rooms flagged unread with nothing to
        read lose the flag."""
        actions = [
            (read.room_id, ReceiptAction(ActionKind.UNTHREADED, read.receipt_type, None, read.request.event_id))
            for read in plan.sending
            if isinstance(read.request, ReceiptRequest)
        ]
        results = self._submit_many(actions)
        for room_id in plan.unflag:
            self._unflag_later(room_id)
        return results

    def _submit_many(self, actions: Sequence[tuple[RoomId, ReceiptAction]]) -> list[Request | Refusal]:
        raise NotImplementedError

    def _unflag_later(self, room_id: RoomId) -> None:
        raise NotImplementedError


class _Silent:
    def account_changed(self, account: AccountState) -> None: ...

    def status_changed(self, status: SyncStatus) -> None: ...

    def receipt_settled(self, outcome: ReceiptOutcome) -> None: ...

    def queue_changed(self, pending: int) -> None: ...


class MatrixService(CoreFront):
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
        self._core = ReadStateCore(client.user_id)
        self._listener: ServiceListener = _Silent()
        self._use_cache = use_cache
        self._sync_timeout_ms = sync_timeout_ms
        self._sleep = sleep
        self._status = SyncStatus(SyncState.STARTING)
        queue_path = queue_path or paths.state_dir() / QUEUE_FILE
        # The profile's single-writer rule: app/store/profile.py.
        self._profile = ProfileLock(queue_path.parent)
        self._inbox = ReceiptInbox(queue_path.parent / INBOX_DIR, client.user_id)
        self._key_inbox = KeyInbox(queue_path.parent / KEY_INBOX_DIR, client.user_id)
        # None until decided; then "owner" or "follower".
        self._role: str | None = None
        self._owner = Owner(None)
        # Why this process owns the profile without its lock (a read-only state dir).
        self._lock_problem: str | None = None
        # My requests handed to the owner while following, by their inbox file.
        self._handed: dict[Path, Request] = {}
        self._cache_seen: tuple[int, ...] | None = None
        # This login's crypto store, open while this process owns the profile.
        self._crypto: CryptoDevice | None = None
        # The key backup's duties while this process owns the store (app/matrix/key_backup.py).
        self._backup: KeyBackup | None = None
        self._secret_storage: bool | None = None
        self._flag_tasks: set[asyncio.Task] = set()
        self._crypto_problem: str | None = None
        self._answers: asyncio.AbstractServer | None = None
        self._queue = ReceiptQueue(
            queue_path,
            client.user_id,
            on_settled=self._settled,
            on_change=lambda pending: self._listener.queue_changed(self.queued),
            on_blocked=self._token_failed,
        )
        self._queue_requests: list[Request] | None = None
        self._stopped = asyncio.Event()
        self._helpers: list[asyncio.Task] = []
        self._fills: asyncio.Queue[FillJob] = asyncio.Queue()

    # ---- what the UI reads -----------------------------------------------------

    @property
    def status(self) -> SyncStatus:
        return self._status

    @property
    def queued(self) -> int:
        return len(self._queue) + len(self._handed)

    @property
    def following(self) -> Owner | None:
        """The process this one follows, or None when this one owns the profile."""
        return self._owner if self._role == "follower" else None

    @property
    def insecure_transport(self) -> bool:
        return self._client.insecure_transport

    # ---- what is kept on this machine -------------------------------------------

    def preview(self) -> Sequence[RoomSummary]:
        """The summaries the cache keeps of its rooms (far cheaper than decoding the
        rooms), for the rooms pane to paint before ``load_local``. A room with receipts
        still queued from an earlier run is decoded and summarised with them applied,
        so each count is the one the loaded account will show."""
        if self._core.loaded or not self._use_cache:
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
        """What the queue file held at start (read once: by the owner as its queue, by a
        follower without touching the file)."""
        if self._queue_requests is None:
            if self._decide_role() == "owner":
                self._queue_requests = self._queue.load()
            else:
                found, _ = read_queue_file(self._queue.path)
                ours = found is not None and found[0].owner == self.user_id
                self._queue_requests = list(found[0].requests) if ours else []
        return self._queue_requests

    # ---- the profile's owner --------------------------------------------------------

    def _decide_role(self) -> str:
        if self._role is None:
            self._role = "owner" if self._try_own() else "follower"
        return self._role

    def _try_own(self) -> bool:
        try:
            if self._profile.acquire("tui"):
                return True
        except OSError as error:
            # Nobody can own a profile whose state dir cannot hold the lock: go on
            # without it, showing and syncing; receipts cannot be queued there.
            self._lock_problem = (
                f"{self._profile.path.parent} cannot be written ({error.strerror or error}): "
                "receipts cannot be queued in this profile"
            )
            log.warning("%s", self._lock_problem)
            return True
        self._owner = self._profile.owner()
        return False

    async def _wait_for_ownership(self) -> None:
        """Follow the owner until this process owns the profile: show what it saves,
        hand receipts to it, then take over its queue."""
        if self._owner.short_lived:
            deadline = time.monotonic() + SHORT_LIVED_WAIT_S
            while time.monotonic() < deadline:
                await asyncio.sleep(0.1)
                if self._try_own():
                    self._become_owner()
                    return
        try:
            self._core.private_supported = await self._client.supports_private_receipts()
        except MatrixError as error:
            log.info("could not ask the server about private receipts: %s", error)
        while not self._stopped.is_set():
            if self._try_own():
                self._become_owner()
                return
            self._set_status(SyncStatus(SyncState.FOLLOWING, detail=self._owner.describe()))
            self._follow_owner()
            await asyncio.sleep(FOLLOW_POLL_S)

    def _follow_owner(self) -> None:
        """What the owner did since the last look: adopted my receipts, saved its state."""
        adopted = [path for path in self._handed if not path.exists()]
        for path in adopted:
            self._core.settled(self._handed.pop(path), None)
        if adopted:
            self._listener.queue_changed(self.queued)
        saved = False
        if self._use_cache:
            seen = cache.version_of()
            if seen != self._cache_seen:
                self._cache_seen = seen
                self._core.reload(cache.load_account(self.user_id, device_id=self._client.device_id))
                saved = True
        if adopted or saved:
            self._publish()

    def _become_owner(self) -> None:
        """The owner quit: take over its state, its queue and my own handed receipts."""
        log.info("this process owns the profile now")
        self._role = "owner"
        cached = cache.load_account(self.user_id, device_id=self._client.device_id) if self._use_cache else None
        self._core.reload(cached)
        for request in self._queue.load():
            self._core.queued(request, now_ms=0)
        for path, request in list(self._handed.items()):
            try:
                self._queue.submit(request)
            except QueueWriteError as error:
                log.warning("%s", error)
                continue  # stays in the inbox; adopted from there
            self._inbox.done(path)
            del self._handed[path]
        self._publish()
        self._listener.queue_changed(self.queued)

    async def _adopt_handed_over(self) -> None:
        """The owner's side of the inbox: queue what the other processes hand over."""
        while True:
            if self._core.synced:
                self._adopt_waiting()
            self._import_handed_keys()
            await asyncio.sleep(INBOX_POLL_S)

    def _import_handed_keys(self) -> None:
        """Room keys ``readmark keys import`` handed over: imported, the events that waited
        for them decrypted, and the counts answered."""
        for path, sessions in self._key_inbox.waiting():
            if sessions is None:
                self._key_inbox.answer(path, Answer(0, 0, 0, "the request could not be read"))
                continue
            try:
                result = self.import_room_keys(sessions)
            except CryptoStoreError as error:
                self._key_inbox.answer(path, Answer(0, 0, 0, str(error)))
                continue
            self._key_inbox.answer(path, Answer(result.imported, result.known, result.invalid))

    def _adopt_waiting(self) -> None:
        changed = False
        for path, request in self._inbox.waiting():
            if request is None:
                aside = self._inbox.set_aside(path)
                log.warning("an unreadable receipt in the inbox was set aside: %s", aside or path)
                continue
            refusal = self._core.adopt(request)
            if refusal is None:
                try:
                    self._queue.submit(request)
                except QueueWriteError as error:
                    log.warning("%s", error)
                    return  # stays in the inbox until the queue can be written
                self._core.queued(request, now_ms=int(time.time() * 1000))
                changed = True
            else:
                log.info("a receipt handed over by another process is not sent: %s", refusal.reason)
            self._inbox.done(path)
        if changed:
            self._publish()

    def load_local(self) -> AccountState:
        """The cached state plus what the queue still holds, applied. Synchronous, and no
        network: what the screen shows before any answer. Called again, it changes nothing."""
        if self._core.loaded:
            return self._core.account
        cached = None
        if self._use_cache:
            self._cache_seen = cache.version_of()
            cached = cache.load_account(self.user_id, device_id=self._client.device_id)
        self._core.load(cached, self._queued_requests())
        self._queue_requests = []
        self._publish()
        return self._core.account

    # ---- running ----------------------------------------------------------------

    async def run(self, listener: ServiceListener) -> None:
        self._listener = listener
        try:
            self.load_local()
            listener.account_changed(self._core.account)
            listener.queue_changed(self.queued)
            if self._role == "follower":
                await self._wait_for_ownership()
            self._open_crypto()
            self._report_queue_problems()
            self._answers = await owner_socket.serve(self._queue.path.parent, self._answer)
            helpers = self._helpers = [
                asyncio.create_task(self._queue.run(self._send_checked), name="receipt queue"),
                asyncio.create_task(self._adopt_handed_over(), name="receipt inbox"),
            ]
            helpers += [
                asyncio.create_task(self._fill_worker(), name=f"history fill {i}")
                for i in range(BACKGROUND_FILL_CONCURRENCY)
            ]
            await self._run_as_owner(helpers)
        finally:
            if self._answers is not None:
                self._answers.close()
                self._answers = None
            self._profile.release()

    def _report_queue_problems(self) -> None:
        problems = [
            problem
            for problem in (
                self._lock_problem,
                self._crypto_problem,
                self._queue.problem,
                f"dropped {self._queue.dropped_for_other_user} queued receipts of another account"
                if self._queue.dropped_for_other_user
                else None,
            )
            if problem
        ]
        if problems:
            self._listener.status_changed(SyncStatus(self._status.state, detail="; ".join(problems)))

    # ---- encryption ---------------------------------------------------------------

    def _open_crypto(self) -> None:
        """The owner's crypto store, and the encrypted events the counts and the thread
        list need decrypted at once (after the first paint: ``run`` starts after it)."""
        if self._crypto is not None or self._client.device_id is None:
            return
        try:
            self._crypto = CryptoDevice.open(self.user_id, self._client.device_id)
        except CryptoStoreError as error:
            self._crypto_problem = f"encrypted rooms stay unreadable: {error}"
            log.warning("%s", self._crypto_problem)
            return
        self._backup = KeyBackup(self._crypto)
        if self._core.decrypt_wanted(list(self._core.account.rooms), self._decrypt):
            self._publish()

    @property
    def _decrypt(self) -> Decrypt | None:
        return decryptor(self._crypto) if self._crypto is not None else None

    async def _after_sync_keys(self) -> None:
        if self._crypto is None:
            return
        try:
            await exchange_keys(self._client, self._crypto)
        except (MatrixError, CryptoStoreError) as error:
            log.info("the key exchange after a sync failed: %s", error)
        if self._backup is None:
            return
        try:
            restored = await self._backup.after_sync(self._client, self._core.waiting_sessions())
        except (MatrixError, CryptoStoreError) as error:
            log.info("the key backup's work after a sync failed: %s", error)
            return
        if restored and self._core.keys_arrived(restored, decryptor(self._crypto)):
            self._publish()
        await self._look_for_secret_storage()
        self._set_status(self._status)  # the trust file may have changed (a verify beside)

    def _standing(self) -> DeviceStanding | None:
        if self._backup is None:
            return None
        self._backup.reload()
        trust = self._backup.trust
        return DeviceStanding(trust.verified, trust.backup, can_unlock=self._secret_storage is True)

    async def _look_for_secret_storage(self) -> None:
        """Whether a recovery key could verify this device (asked once, while unverified)."""
        if self._secret_storage is not None or self._backup is None or self._backup.trust.verified:
            return
        try:
            self._secret_storage = await self._client.account_data(recovery.DEFAULT_KEY) is not None
        except MatrixError as error:
            log.info("cannot tell whether the account has secret storage: %s", error)
            return
        self._set_status(self._status)

    async def verify(self, secret: str, progress: Progress | None = None) -> list[str]:
        if self._crypto is None or self._backup is None:
            raise RecoveryError(self._crypto_problem or "this readmark does not hold the crypto store: verify in the one that does")
        crypto = self._crypto

        def import_sessions(sessions: list[dict]) -> tuple[int, int, int]:
            result = crypto.import_sessions(sessions)
            if self._core.keys_arrived(result.sessions, decryptor(crypto)):
                self._publish()
            return result.imported, result.known, result.invalid

        try:
            await exchange_keys(self._client, crypto)
            _, lines = await recovery.verify_device(
                self._client, crypto.identity_keys, crypto.directory, secret, passphrase=None,
                import_sessions=import_sessions, progress=progress,
            )
        except (MatrixError, CryptoStoreError) as error:
            raise RecoveryError(str(error)) from None
        finally:
            self._set_status(self._status)
        return lines

    def import_room_keys(self, sessions: list[dict]) -> ImportResult:
        """Room keys from a file (``readmark keys import`` in a running TUI): imported,
        and the events that waited for them decrypted at once."""
        if self._crypto is None:
            raise CryptoStoreError("this readmark has no crypto store open (another readmark owns the profile)")
        result = self._crypto.import_sessions(sessions)
        if self._core.keys_arrived(result.sessions, decryptor(self._crypto)):
            self._publish()
        return result

    def _answer(self, request: dict) -> dict:
        """What this owner says to a ``readmark status`` beside it (app/matrix/owner_socket.py)."""
        if request.get("request") != "status":
            return {"error": "unknown request"}
        return {"status": status_document(self._core.account, unread_only=request.get("unread_only") is True,
                                          policy=self._core.mode_in)}

    async def _run_as_owner(self, helpers: list[asyncio.Task]) -> None:
        try:
            await self._sync_loop()
            # Stopped (logged out, or an answer retrying cannot change): "until
            # cancelled" still holds. Returning would end the caller's worker as if
            # syncing had simply stopped, hiding why; the queue keeps what it holds.
            await self._stopped.wait()
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    def submit(self, room_id: RoomId, action: ReceiptAction) -> Request | Refusal:
        # A key pressed while the screen still shows the preview: plan on the real state.
        self.load_local()
        result = self._core.plan(room_id, action)
        if isinstance(result, Refusal):
            return result
        # Durable first: when the queue cannot be written (disk full, read-only) this
        # raises and nothing changes, rather than showing as read what will not be sent.
        if self._role == "follower":
            self._handed[self._inbox.hand_over(result)] = result
            self._listener.queue_changed(self.queued)
        else:
            self._queue.submit(result)
        self._core.queued(result, now_ms=int(time.time() * 1000))
        self._publish()
        return result

    def _submit_many(self, actions: Sequence[tuple[RoomId, ReceiptAction]]) -> list[Request | Refusal]:
        """``submit`` for many rooms, with one write of the queue file for them all."""
        self.load_local()
        results: list[Request | Refusal] = [self._core.plan(room_id, action) for room_id, action in actions]
        requests = [result for result in results if not isinstance(result, Refusal)]
        if not requests:
            return results
        if self._role == "follower":
            for request in requests:
                self._handed[self._inbox.hand_over(request)] = request
            self._listener.queue_changed(self.queued)
        else:
            self._queue.submit_many(requests)
        now_ms = int(time.time() * 1000)
        for request in requests:
            self._core.queued(request, now_ms=now_ms)
        self._publish()
        return results

    async def _send_checked(self, request: Request) -> None:
        """The queue's sender: the room's policy as it is now has the last word."""
        refusal = refuse_by_policy(request, self._core.mode_in(request.room_id))
        if refusal is not None:
            raise RequestRefused(refusal.reason, errcode="M_READMARK_POLICY")
        await self._client.send_request(request)

    def _unflag_later(self, room_id: RoomId) -> None:
        task = asyncio.create_task(self._clear_marked_unread(room_id), name="clear marked unread")
        self._flag_tasks.add(task)
        task.add_done_callback(self._flag_tasks.discard)

    async def open_thread(self, room_id: RoomId, thread_id: ThreadId) -> None:
        """Load a thread whole (its root and every reply) so its count is exact; for the
        main timeline, list the room's threads the sync window does not show. What the
        screen then shows of it is decrypted."""
        decrypt = self._decrypt
        if decrypt is not None and self._core.reveal(room_id, thread_id, decrypt):
            self._publish()
        job = self._core.open_thread(room_id, thread_id)
        if job is not None:
            await self._run_fill(job)
            if decrypt is not None and self._core.reveal(room_id, thread_id, decrypt):
                self._publish()

    async def close(self) -> None:
        self._stopped.set()
        # Stop what could still send before the client closes: a request after close
        # would open a new HTTP session that nothing closes.
        stopping = [*self._helpers, *self._flag_tasks]
        for task in stopping:
            task.cancel()
        await asyncio.gather(*stopping, return_exceptions=True)
        # Only an account that was loaded is saved: quitting while the screen still
        # showed the preview (the cache not decoded yet) would otherwise write an empty
        # account over the cache.
        if self._use_cache and self._core.loaded and self._role == "owner":
            try:
                cache.save_account(self._core.account, device_id=self._client.device_id)
            except Exception:  # the cache is a convenience; never fail a quit on it
                log.exception("could not save the cache on close")
        if self._crypto is not None:
            self._crypto.close()
            self._crypto = None
            self._backup = None
        self._profile.release()
        await self._client.close()

    # ---- answers ----------------------------------------------------------------

    def _publish(self) -> None:
        self._listener.account_changed(self._core.account)

    def _settled(self, request: Request, error: MatrixError | None) -> None:
        if error is None:
            # For the audit: what readmark itself sent (app/store/receipt_log.py).
            receipt_log.record(receipt_log.entries_of(request, int(time.time() * 1000)))
        outcome = self._core.settled(request, None if error is None else str(error))
        self._publish()
        self._listener.receipt_settled(outcome)
        room = self._core.account.rooms.get(request.room_id)
        if error is None and request.receipt_type is not None and room is not None and room.marked_unread:
            # A read receipt clears the room's marked-unread flag (the spec's SHOULD).
            task = asyncio.create_task(self._clear_marked_unread(request.room_id), name="clear marked unread")
            self._flag_tasks.add(task)
            task.add_done_callback(self._flag_tasks.discard)

    async def _clear_marked_unread(self, room_id: RoomId) -> None:
        try:
            await self.set_marked_unread(room_id, False)
        except MatrixError as error:
            log.info("clearing the marked-unread flag of %s failed: %s", room_id, error)

    async def set_marked_unread(self, room_id: RoomId, flag: bool) -> None:
        """Flag the room as unread (``m.marked_unread``) or clear the flag: shown at once,
        then told to the server; taken back, and ``MatrixError`` raised, when it refuses."""
        self.load_local()
        if not self._core.mark_unread(room_id, flag):
            return
        self._publish()
        try:
            await self._client.set_room_account_data(room_id, MARKED_UNREAD, {"unread": flag})
        except MatrixError:
            self._core.mark_unread(room_id, not flag)
            self._publish()
            raise

    async def set_receipt_override(self, room_id: RoomId, mode: str | None) -> None:
        """Choose the room's receipt mode (``org.readmark.receipt_policy``; None clears
        it): shown at once, then told to the server; taken back, and ``MatrixError``
        raised, when it refuses. A mode outside ``RECEIPT_MODES`` raises ValueError."""
        self.load_local()
        room = self._core.account.rooms.get(room_id)
        before = None if room is None else room.receipt_override
        if not self._core.set_receipt_override(room_id, mode):
            return
        self._publish()
        try:
            await self._client.set_receipt_policy(room_id, mode)
        except MatrixError:
            room = self._core.account.rooms.get(room_id)
            # Unless a sync said otherwise meanwhile, the room goes back to what it was.
            if room is not None and room.receipt_override == mode:
                self._core.set_receipt_override(room_id, before)
                self._publish()
            raise

    def _token_failed(self, error: MatrixError) -> None:
        self._set_status(SyncStatus(SyncState.LOGGED_OUT, detail=str(error)))

    def _set_status(self, status: SyncStatus) -> None:
        status = replace(status, device=self._standing())
        if status != self._status:
            self._status = status
            self._listener.status_changed(status)

    # ---- history ----------------------------------------------------------------

    def _take_fills(self) -> None:
        for job in self._core.take_fill_jobs():
            self._fills.put_nowait(job)

    async def _fill_worker(self) -> None:
        while True:
            job = await self._fills.get()
            if not self._core.fill_still_wanted(job):
                continue
            try:
                await self._run_fill(job)
            except MatrixError as error:
                # Best effort: the count stays a lower bound, honestly labelled.
                log.info("could not load %s: %s", describe_job(job), error)
            except Exception:  # a bug here must not stop the other fills or the app
                log.exception("loading %s failed", describe_job(job))

    async def _run_fill(self, job: FillJob) -> None:
        if job.kind is FillKind.THREAD:
            assert job.thread_id is not None
            await load_thread(self._client, self._core, job.room_id, job.thread_id)
        elif job.kind is FillKind.MAIN_GAP:
            await self._page_main_timeline(job.room_id)
        else:
            roots, _ = await self._client.threads(job.room_id, limit=THREAD_DISCOVERY_LIMIT)
            self._core.threads_listed(job.room_id, roots)
            self._take_fills()
        decrypt = self._decrypt
        if decrypt is not None:
            self._core.decrypt_wanted([job.room_id], decrypt)
        self._publish()

    async def _page_main_timeline(self, room_id: RoomId) -> None:
        """Page back through the latest gap until my read position is loaded."""
        for _ in range(MAIN_FILL_PAGES):
            gap = self._core.gap_to_fill(room_id)
            if gap is None:
                return
            before, token = gap
            chunk, end = await self._client.messages(room_id, token, direction="b", limit=MESSAGES_PAGE)
            self._core.gap_loaded(room_id, before, chunk, end)
            self._publish()

    # ---- syncing ------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        filter_id: str | None = None
        attempt = 0
        self._set_status(SyncStatus(SyncState.CATCHING_UP))
        while not self._stopped.is_set():
            since = self._core.since
            try:
                if self._core.private_supported is None:
                    self._core.private_supported = await self._client.supports_private_receipts()
                if filter_id is None:
                    filter_id = await self._client.upload_filter(sync_filter())
                timeout = self._sync_timeout_ms if (since and self._status.state is SyncState.LIVE) else 0
                body = await self._client.sync_raw(since, timeout, filter_id)
                sync = parse_sync(body)
                touched = self._crypto.receive_sync(sync, self._core.encrypted_members()) if self._crypto else set()
                if touched and self._backup is not None:
                    self._backup.received(touched)
                changed = self._core.receive_sync(sync, self._decrypt)
                if touched and self._crypto is not None:
                    changed |= self._core.keys_arrived(touched, decryptor(self._crypto))
                # The body (which the sync's undecoded rooms point into) goes now, not
                # when the next long poll returns: 16 MB for a big initial sync.
                del body, sync
            except TokenInvalid as error:
                self._set_status(SyncStatus(SyncState.LOGGED_OUT, detail=str(error)))
                return
            except (MatrixError, SyncFormatError) as error:
                if isinstance(error, RequestRefused) and since:
                    # An unusable since token: start over with an initial sync.
                    log.warning("sync refused (%s); starting a fresh sync", error)
                    self._core.forget_since()
                    continue
                if isinstance(error, MatrixError) and not error.is_retryable:
                    log.warning("sync stopped: %s", error)
                    self._set_status(SyncStatus(SyncState.STOPPED, detail=str(error)))
                    return
                delay = retry_delay(error, attempt)
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
            self._take_fills()
            if self._use_cache:
                try:
                    cache.save_account(self._core.account, changed_room_ids=changed, device_id=self._client.device_id)
                except Exception:
                    log.exception("could not write the cache")
            self._publish()
            self._set_status(SyncStatus(SyncState.LIVE))
            # After the state is shown: keys others need to send to this device, and the
            # device lists decryption checks against.
            await self._after_sync_keys()

    async def _countdown(self, delay: float, detail: str) -> None:
        """OFFLINE with a retry countdown, updated each second."""
        remaining = delay
        while remaining > 0 and not self._stopped.is_set():
            # Whole seconds, rounded up: "retry in 0 s" would be a wait that is not over.
            self._set_status(SyncStatus(SyncState.OFFLINE, retry_in=math.ceil(remaining), detail=detail))
            step = min(1.0, remaining)
            await self._sleep(step)
            remaining -= step


async def load_thread(client: MatrixClient, core: ReadStateCore, room_id: RoomId, thread_id: ThreadId) -> None:
    """A thread's events from ``/relations`` (and whether that is all of them), plus the
    events the core still wants for its count (the root, my receipts' events), into the core."""
    raw: list[dict] = []
    token: str | None = None
    complete = False
    for _ in range(THREAD_FILL_PAGES):
        chunk, token = await client.thread_events(room_id, thread_id, token, limit=100)
        raw.extend(chunk)
        if token is None:
            complete = True
            break
    for event_id in core.thread_events_wanted(room_id, thread_id, (event.get("event_id") for event in raw)):
        try:
            raw.append(await client.room_event(room_id, event_id))
        except RequestRefused:
            log.info("event %s in %s is not visible", event_id, room_id)
    core.thread_loaded(room_id, thread_id, raw, complete=complete)


async def sync_once(client: MatrixClient, core: ReadStateCore, device: CryptoDevice | None = None) -> frozenset[RoomId]:
    """One sync without waiting (``timeout=0``) into the core, from its since token, or
    from scratch when the server refuses it; the rooms it changed. With the profile's
    crypto ``device``, what the sync brings for it is taken (to-device room keys are
    delivered once: a sync that dropped them would lose them), the encrypted events
    the counts and the thread list need are decrypted, and keys are exchanged."""
    filter_id = await client.upload_filter(sync_filter())
    since = core.since
    try:
        body = await client.sync_raw(since, 0, filter_id)
    except RequestRefused:
        if since is None:
            raise
        core.forget_since()
        body = await client.sync_raw(None, 0, filter_id)
    sync = parse_sync(body)
    if device is None:
        return core.receive_sync(sync)
    decrypt = decryptor(device)
    touched = device.receive_sync(sync, core.encrypted_members())
    backup = KeyBackup(device)
    backup.received(touched)
    changed = core.receive_sync(sync, decrypt) | core.keys_arrived(touched, decrypt)
    changed |= core.decrypt_wanted(list(core.account.rooms), decrypt)
    try:
        await exchange_keys(client, device)
        restored = await backup.after_sync(client, core.waiting_sessions())
    except (MatrixError, CryptoStoreError) as error:
        log.info("the key exchange or the key backup's work after a sync failed: %s", error)
    else:
        changed |= core.keys_arrived(restored, decrypt)
    return changed
