"""The receipt queue: durable, coalescing, and patient.

Every receipt the user sends is written to disk *before* it is sent, so quitting or
crashing loses nothing: the next start sends what is left. Requests are coalesced per
``(room, receipt type, thread)`` (and per room for ``m.fully_read``): planning only lets
receipts move forwards, so the newest request for a key is the furthest and replaces an
older one that has not left yet. One request per key is in flight at a time, and a key's
requests are paced: the first of a burst leaves at once, the newest once the presses
pause (see ``_pace``), so a burst of presses on one thread becomes at most two requests
however long the app takes to handle them.

The first request of a key leaves from within ``submit``: once it is on disk, the
sending starts at once, up to the sender's first wait (``eager_task``), rather than
after whatever the caller does next (the UI's repaint of the counts).

Retry policy lives here, not in nio: network errors and 5xx are retried with capped
exponential backoff and jitter; ``429`` waits ``retry_after_ms``; any other refusal is
final and reported (the caller rolls the optimistic change back). An invalid token stops
sending and keeps everything queued for the next session of the same user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from app.matrix.asyncio_internals import eager_task
from app.matrix.errors import MatrixError, RateLimited, TokenInvalid
from app.matrix.retry import retry_delay
from app.model.ids import MAIN, is_event_id, is_room_id
from app.model.plan import FullyReadRequest, ReceiptRequest, Request, request_key
from app.model.receipts import ReceiptType
from app.store.files import write_atomic

log = logging.getLogger(__name__)

QUEUE_VERSION = 1
# In the state directory.
QUEUE_FILE = "receipt-queue.json"
INBOX_DIR = "receipt-inbox"
# Thousands of requests fit in a few hundred kilobytes; a bigger file is not ours.
MAX_QUEUE_BYTES = 16 * 2**20
# Pacing of one key (``_pace``): the first request of a burst leaves at once; the next
# one (the newest, the furthest) leaves once there has been no new request for QUIET
# seconds and MIN_INTERVAL has passed since the previous one left, but never later than
# MAX_WAIT after it, so presses that never pause still go out every MAX_WAIT seconds.
# Waiting for the pause, not for a fixed window, keeps a burst at two requests even when
# the app handles the presses later than they were made (a one-second burst of j+r takes
# the UI 1.1-1.4 s, longer on a loaded machine).
MIN_INTERVAL = 1.5
QUIET = 0.5
MAX_WAIT = 3.0
# Requests in flight at once, over all keys: a bulk read of 300 rooms is 300 keys, and
# goes out a few at a time rather than as 300 requests in one burst.
MAX_IN_FLIGHT = 4

Sender = Callable[[Request], Awaitable[None]]


class QueueWriteError(OSError):
    """The queue file could not be written: the request was not queued."""


Settled = Callable[[Request, MatrixError | None], None]


def request_to_json(request: Request) -> dict:
    if isinstance(request, FullyReadRequest):
        return {
            "kind": "fully_read",
            "room_id": request.room_id,
            "event_id": request.event_id,
            "receipt_type": request.receipt_type.value if request.receipt_type else None,
            "receipt_event_id": request.receipt_event_id,
        }
    return {
        "kind": "receipt",
        "room_id": request.room_id,
        "event_id": request.event_id,
        "receipt_type": request.receipt_type.value,
        "thread_id": request.thread_id,
    }


def request_from_json(data: dict) -> Request:
    """Raises ValueError (or KeyError/TypeError) on anything malformed."""
    room_id, event_id = data["room_id"], data["event_id"]
    if not is_room_id(room_id):
        raise ValueError("room_id must be a room ID")
    if not is_event_id(event_id):
        raise ValueError("event_id must be an event ID")
    if data["kind"] == "fully_read":
        receipt_type = data.get("receipt_type")
        receipt_event = data.get("receipt_event_id")
        if receipt_event is not None and not is_event_id(receipt_event):
            raise ValueError("receipt_event_id must be an event ID or null")
        return FullyReadRequest(
            room_id, event_id, ReceiptType(receipt_type) if receipt_type else None, receipt_event
        )
    if data["kind"] == "receipt":
        thread = data.get("thread_id")
        if thread is not None and not (thread == MAIN or is_event_id(thread)):
            raise ValueError("thread_id must be 'main', a thread root's event ID, or null")
        return ReceiptRequest(room_id, ReceiptType(data["receipt_type"]), event_id, thread)
    raise ValueError(f"unknown kind {data['kind']!r}")


@dataclass(frozen=True)
class QueueFile:
    """What a queue file holds: whose receipts, and the requests that could be read."""

    owner: object
    requests: tuple[Request, ...]


def read_queue_file(path: Path) -> tuple[tuple[QueueFile, int] | None, str | None]:
    """The queue file's readable entries and how many could not be read, or None and
    why not (None and None: there is no file). Bounded: a file larger than
    ``MAX_QUEUE_BYTES`` or nested deeper than JSON allows here is unreadable, not fatal."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_QUEUE_BYTES + 1)
    except FileNotFoundError:
        return None, None
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"
    if len(raw) > MAX_QUEUE_BYTES:
        return None, f"is larger than {MAX_QUEUE_BYTES // 2**20} MiB"
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError, MemoryError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else "not valid JSON"
        return None, f"is {reason}"
    if not isinstance(document, dict) or document.get("version") != QUEUE_VERSION:
        return None, "is not a receipt queue this readmark reads"
    items = document.get("requests", [])
    if not isinstance(items, list):
        return None, "holds no list of requests"
    requests: list[Request] = []
    bad = 0
    for item in items:
        try:
            requests.append(request_from_json(item))
        except (ValueError, KeyError, TypeError, AttributeError):
            bad += 1
    return (QueueFile(document.get("user_id"), tuple(requests)), bad), None


@dataclass
class _Slot:
    """What is waiting for one key: at most one request in flight and one behind it."""

    waiting: Request | None = None
    in_flight: Request | None = None
    # time.monotonic() of the latest submit for this key (a loaded request has none)
    submitted: float = float("-inf")


class ReceiptQueue:
    def __init__(
        self,
        path: Path,
        user_id: str,
        *,
        on_settled: Settled | None = None,
        on_change: Callable[[int], None] | None = None,
        on_blocked: Callable[[MatrixError], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        min_interval: float = MIN_INTERVAL,
        quiet: float = QUIET,
        max_wait: float = MAX_WAIT,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.path = path
        self.user_id = user_id
        self._slots: dict[tuple[str, str, str], _Slot] = {}
        self._order: list[tuple[str, str, str]] = []
        self._on_settled = on_settled or (lambda request, error: None)
        self._on_change = on_change or (lambda pending: None)
        self._on_blocked = on_blocked or (lambda error: None)
        self._sleep = sleep
        self._min_interval = min_interval
        self._quiet = quiet
        self._max_wait = max(max_wait, min_interval)
        self._gate = asyncio.Semaphore(max(1, max_in_flight))
        self._last_start: dict[tuple[str, str, str], float] = {}
        # While run() is sending: its sender, and each key's worker.
        self._send: Sender | None = None
        self._workers: dict[tuple[str, str, str], asyncio.Task] = {}
        self._wake = asyncio.Event()
        self._blocked = False
        self._retry_now = asyncio.Event()
        self.dropped_for_other_user = 0
        # What was wrong with the file at load, in one line for the screen and status.
        self.problem: str | None = None

    # ---- persistence --------------------------------------------------------

    def load(self) -> list[Request]:
        """Read what an earlier run left; never raises. Entries of another user are
        dropped (and counted). A file that cannot be read is moved aside, and one with
        malformed entries copied aside before it is rewritten with the entries that
        could be read; ``problem`` says so in one line, naming the copy."""
        document, self.problem = read_queue_file(self.path)
        if document is None:
            if self.problem is not None:
                self._set_aside(self.problem, move=True)
            return []
        entries, bad = document
        if entries.owner != self.user_id:
            self.dropped_for_other_user = len(entries.requests)
            log.warning("dropping %d queued receipts of another user", len(entries.requests))
            self._rewrite()
            return []
        for request in entries.requests:
            self._put(request)
        if bad:
            if self._set_aside(f"{bad} queued receipt(s) in it could not be read", move=False):
                self._rewrite()
        return list(entries.requests)

    def _set_aside(self, reason: str, *, move: bool) -> bool:
        """Keep the file as it is under another name (moved, or copied), so nothing is
        lost and a person can look at it; ``problem`` names it. False if that failed."""
        aside = self.path.with_name(f"{self.path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            if move:
                os.replace(self.path, aside)
            else:
                shutil.copyfile(self.path, aside)
            os.chmod(aside, 0o600)
        except OSError as error:
            self.problem = f"receipt queue {self.path} {reason}; it could not be kept aside ({error.strerror or error})"
            log.warning("%s", self.problem)
            return False
        self.problem = f"receipt queue {self.path} {reason}; kept as {aside}"
        log.warning("%s", self.problem)
        return True

    def _rewrite(self) -> None:
        try:
            self._persist()
        except OSError as error:
            log.warning("cannot rewrite the receipt queue %s: %s", self.path, error)

    def _persist(self) -> None:
        requests = [request_to_json(r) for r in self.pending_requests()]
        document = {"version": QUEUE_VERSION, "user_id": self.user_id, "requests": requests}
        write_atomic(self.path, json.dumps(document, separators=(",", ":")).encode())

    # ---- queueing -------------------------------------------------------------

    def pending_requests(self) -> list[Request]:
        """Everything not yet answered, in flight first, in submission order."""
        result: list[Request] = []
        for key in self._order:
            slot = self._slots[key]
            result.extend(r for r in (slot.in_flight, slot.waiting) if r is not None)
        return result

    def __len__(self) -> int:
        return len(self.pending_requests())

    def _put(self, request: Request) -> Request | None:
        key = request_key(request)
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = _Slot()
            self._order.append(key)
        replaced = slot.waiting
        slot.waiting = request
        return replaced

    def submit(self, request: Request) -> Request | None:
        """Queue a request durably; returns the older waiting request it replaced (the
        caller settles that one as superseded: its optimistic effect is covered).

        Raises ``QueueWriteError`` when the file cannot be written; the queue is then as
        it was, and the request will not be sent.

        Once the request is on disk, and ``run`` is sending, a key with nothing in flight
        starts sending it before this returns (up to the sender's first wait); the
        answer is always settled later, on another turn of the loop."""
        replaced = self._put(request)
        try:
            self._persist()
        except OSError as error:
            key = request_key(request)
            slot = self._slots[key]
            slot.waiting = replaced
            if slot.waiting is None and slot.in_flight is None:
                self._drop_key(key)
            raise QueueWriteError(
                f"cannot write the receipt queue {self.path}: {error.strerror or error}; nothing was sent"
            ) from None
        key = request_key(request)
        self._slots[key].submitted = time.monotonic()
        self._on_change(len(self))
        self._start_worker(key)
        self._wake.set()
        return replaced

    def submit_many(self, requests: list[Request]) -> list[Request]:
        """Queue many requests with one write of the file (a bulk read of 300 rooms);
        the older waiting requests they replaced, as ``submit``. Raises
        ``QueueWriteError`` and queues none of them when the file cannot be written."""
        if not requests:
            return []
        before = {key: (slot.waiting, slot.in_flight) for key, slot in self._slots.items()}
        order = list(self._order)
        replaced = [old for old in (self._put(request) for request in requests) if old is not None]
        try:
            self._persist()
        except OSError as error:
            for key in list(self._slots):
                if key in before:
                    self._slots[key].waiting = before[key][0]
                else:
                    del self._slots[key]
            self._order = order
            raise QueueWriteError(
                f"cannot write the receipt queue {self.path}: {error.strerror or error}; nothing was sent"
            ) from None
        now = time.monotonic()
        for request in requests:
            self._slots[request_key(request)].submitted = now
        self._on_change(len(self))
        for request in requests:
            self._start_worker(request_key(request))
        self._wake.set()
        return replaced

    def retry_now(self) -> None:
        """The server answers again (a sync got through): cut short the waits of
        retries after network errors and 5xx. A 429's wait is the server's, and stays."""
        self._retry_now.set()
        self._retry_now = asyncio.Event()

    async def _backoff(self, delay: float, failure: MatrixError) -> None:
        if isinstance(failure, RateLimited):
            await self._sleep(delay)
            return
        nudged = asyncio.ensure_future(self._retry_now.wait())
        slept = asyncio.ensure_future(self._sleep(delay))
        try:
            await asyncio.wait({nudged, slept}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nudged.cancel()
            slept.cancel()

    def unblock(self) -> None:
        """After a new login of the same user: send again what an invalid token stopped."""
        self._blocked = False
        self._wake.set()

    @property
    def blocked(self) -> bool:
        return self._blocked

    # ---- sending --------------------------------------------------------------

    async def run(self, send: Sender) -> None:
        """Send until cancelled. Keys are independent; within a key, in order."""
        self._send = send
        try:
            while True:
                for key in list(self._order):
                    self._start_worker(key)
                self._wake.clear()
                await self._wake.wait()
        finally:
            self._send = None
            workers, self._workers = list(self._workers.values()), {}
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    def _start_worker(self, key: tuple[str, str, str]) -> None:
        """A worker for a key with something waiting and none working on it yet."""
        if self._send is None or self._blocked:
            return
        slot = self._slots.get(key)
        task = self._workers.get(key)
        if slot is None or slot.waiting is None or (task is not None and not task.done()):
            return
        # Registered before its first step runs: a submit for the same key made from
        # within that step must find this worker, not start a second one.
        task, first_step = eager_task(self._send_slot(key, self._send), name=f"receipt {key}")
        self._workers[key] = task
        first_step()

    async def _pace(self, key: tuple[str, str, str], slot: _Slot, behind: bool) -> None:
        """The first request of a burst leaves at once: nothing was in flight for the key
        just before (``behind``) and nothing left for it in the last MIN_INTERVAL. A
        next one waits until MIN_INTERVAL after the previous one left and QUIET after
        the latest submit (each new press coalesces into ``slot.waiting`` and moves that
        on), but no longer than MAX_WAIT after the previous one left."""
        last = self._last_start.get(key)
        if last is None or (not behind and time.monotonic() - last >= self._min_interval):
            return
        while True:
            due = min(max(last + self._min_interval, slot.submitted + self._quiet), last + self._max_wait)
            delay = due - time.monotonic()
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def _send_slot(self, key: tuple[str, str, str], send: Sender) -> None:
        slot = self._slots[key]
        attempt = 0
        behind = False  # whether an answered request of this key came just before
        while slot.waiting is not None:
            if attempt == 0:
                await self._pace(key, slot, behind)
            self._last_start[key] = time.monotonic()
            request = slot.in_flight = slot.waiting
            slot.waiting = None
            error: MatrixError | None = None
            try:
                try:
                    # Free at once for a lone key: the first request still leaves from
                    # within submit (acquiring an open semaphore does not wait).
                    async with self._gate:
                        await send(request)
                finally:
                    # The first request starts from within submit(): its answer (even one
                    # that came without waiting, or a failure before any) is never
                    # handled there, before the caller has applied the request.
                    await asyncio.sleep(0)
            except TokenInvalid as failure:
                # Keep everything for the next login of this user; stop trying.
                self._restore(slot, request)
                self._blocked = True
                self._on_blocked(failure)
                return
            except MatrixError as failure:
                if failure.is_retryable:
                    self._restore(slot, request)
                    delay = retry_delay(failure, attempt)
                    attempt += 1
                    log.info("receipt %s: %s; retrying in %.1f s", key, failure, delay)
                    await self._backoff(delay, failure)
                    continue
                error = failure
            except Exception as failure:  # a bug must not leave the key stuck in flight
                log.exception("sending %s failed", request)
                error = MatrixError(f"internal error: {type(failure).__name__}: {failure}")
            attempt = 0
            behind = True
            slot.in_flight = None
            if slot.waiting is None:
                self._drop_key(key)
            try:
                self._persist()
            except OSError as failure:
                # Answered, but the file still lists it: the next start sends it again,
                # which the server ignores (never backwards). Nothing is lost.
                log.warning("cannot update the receipt queue %s: %s", self.path, failure)
            self._on_change(len(self))
            self._on_settled(request, error)
            if key not in self._slots:
                return
        self._wake.set()

    def _restore(self, slot: _Slot, request: Request) -> None:
        # Not sent: it goes back, unless a newer one for the same key came meanwhile.
        if slot.waiting is None:
            slot.waiting = request
        slot.in_flight = None

    def _drop_key(self, key: tuple[str, str, str]) -> None:
        self._slots.pop(key, None)
        if key in self._order:
            self._order.remove(key)



class ReceiptInbox:
    """Receipts handed to the profile's owner by the other processes on it.

    A process that does not own the profile (``app.store.profile``) never writes the
    queue file: each request it plans is written whole into a file of its own in the
    inbox directory, and the owner adopts it into its queue (which it persists first)
    before removing the inbox file. Nothing is written by two processes; a request
    handed over is lost by neither a crash of its writer nor one of the owner's.
    """

    def __init__(self, directory: Path, user_id: str) -> None:
        self.directory = directory
        self.user_id = user_id

    def hand_over(self, request: Request) -> Path:
        """Write one request for the owner; raises ``QueueWriteError`` when it cannot."""
        document = {"version": QUEUE_VERSION, "user_id": self.user_id, "request": request_to_json(request)}
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.json"
        try:
            return write_atomic(self.directory / name, json.dumps(document, separators=(",", ":")).encode())
        except OSError as error:
            raise QueueWriteError(
                f"cannot hand the receipt to the running readmark ({self.directory}: {error.strerror or error}); "
                "nothing was sent"
            ) from None

    def waiting(self) -> list[tuple[Path, Request | None]]:
        """Every request waiting in the inbox, oldest first, with its file; None for a
        file that cannot be read as a request of this user (the owner sets it aside)."""
        try:
            names = sorted(entry.name for entry in os.scandir(self.directory) if entry.name.endswith(".json"))
        except OSError:
            return []
        found: list[tuple[Path, Request | None]] = []
        for name in names:
            path = self.directory / name
            try:
                with open(path, "rb") as handle:
                    raw = handle.read(MAX_INBOX_BYTES + 1)
                document = json.loads(raw) if len(raw) <= MAX_INBOX_BYTES else None
                if not isinstance(document, dict) or document.get("user_id") != self.user_id:
                    raise ValueError("not a request of this user")
                found.append((path, request_from_json(document["request"])))
            except FileNotFoundError:
                continue  # adopted meanwhile
            except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
                found.append((path, None))
        return found

    def done(self, path: Path) -> None:
        """The owner's queue holds it now (or it was covered or unreadable)."""
        try:
            path.unlink()
        except FileNotFoundError:
            pass

    def set_aside(self, path: Path) -> Path | None:
        aside = path.with_suffix(".unreadable")
        try:
            os.replace(path, aside)
        except OSError:
            return None
        return aside


# A handed-over request is a few hundred bytes.
MAX_INBOX_BYTES = 64 * 2**10
