"""The receipt queue: durable, coalescing, and patient.

Every receipt the user sends is written to disk *before* it is sent, so quitting or
crashing loses nothing: the next start sends what is left. Requests are coalesced per
``(room, receipt type, thread)`` (and per room for ``m.fully_read``): planning only lets
receipts move forwards, so the newest request for a key is the furthest and replaces an
older one that has not left yet. One request per key is in flight at a time, so a burst
of presses on one thread becomes at most two requests.

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
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from app.matrix.errors import MatrixError, RateLimited, TokenInvalid
from app.model.plan import FullyReadRequest, ReceiptRequest, Request
from app.model.receipts import FULLY_READ, ReceiptType

log = logging.getLogger(__name__)

QUEUE_VERSION = 1
# Two requests for one key leave at least this far apart (a little over a second, so a
# one-second burst of presses fits in one window): the first leaves at once, the furthest
# one after this, nothing between.
MIN_INTERVAL = 1.5
BACKOFF_START = 0.5
BACKOFF_CAP = 30.0

Sender = Callable[[Request], Awaitable[None]]


class QueueWriteError(OSError):
    """The queue file could not be written: the request was not queued."""


Settled = Callable[[Request, MatrixError | None], None]


def queue_key(request: Request) -> tuple[str, str, str]:
    if isinstance(request, FullyReadRequest):
        # With or without a receipt (and which type) are separate keys: a newer marker
        # must never swallow an older request's receipt.
        receipt = request.receipt_type.value if request.receipt_type is not None else ""
        return (request.room_id, FULLY_READ, receipt)
    thread = "\x00unthreaded" if request.thread_id is None else request.thread_id
    return (request.room_id, request.receipt_type.value, thread)


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
    if not isinstance(room_id, str) or not isinstance(event_id, str):
        raise ValueError("room_id and event_id must be strings")
    if data["kind"] == "fully_read":
        receipt_type = data.get("receipt_type")
        receipt_event = data.get("receipt_event_id")
        if receipt_event is not None and not isinstance(receipt_event, str):
            raise ValueError("receipt_event_id must be a string or null")
        return FullyReadRequest(
            room_id, event_id, ReceiptType(receipt_type) if receipt_type else None, receipt_event
        )
    if data["kind"] == "receipt":
        thread = data.get("thread_id")
        if thread is not None and (not isinstance(thread, str) or not thread):
            raise ValueError("thread_id must be a non-empty string or null")
        return ReceiptRequest(room_id, ReceiptType(data["receipt_type"]), event_id, thread)
    raise ValueError(f"unknown kind {data['kind']!r}")


@dataclass
class _Slot:
    """What is waiting for one key: at most one request in flight and one behind it."""

    waiting: Request | None = None
    in_flight: Request | None = None


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
        self._last_start: dict[tuple[str, str, str], float] = {}
        self._wake = asyncio.Event()
        self._blocked = False
        self._retry_now = asyncio.Event()
        self.dropped_for_other_user = 0

    # ---- persistence --------------------------------------------------------

    def load(self) -> list[Request]:
        """Read what an earlier run left. Entries of another user are dropped (and
        counted); a corrupt file is set aside, never fatal."""
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as error:
            log.warning("cannot read receipt queue %s: %s", self.path, error)
            return []
        try:
            document = json.loads(raw)
            if document.get("version") != QUEUE_VERSION:
                raise ValueError("unknown queue version")
            owner = document.get("user_id")
            entries = [request_from_json(item) for item in document.get("requests", [])]
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            aside = self.path.with_suffix(".corrupt")
            log.warning("receipt queue %s is unreadable (%s); moved to %s", self.path, error, aside)
            try:
                os.replace(self.path, aside)
            except OSError:
                pass
            return []
        if owner != self.user_id:
            self.dropped_for_other_user = len(entries)
            log.warning("dropping %d queued receipts of another user", len(entries))
            self._persist()
            return []
        for request in entries:
            self._put(request)
        return entries

    def _persist(self) -> None:
        requests = [request_to_json(r) for r in self.pending_requests()]
        document = {"version": QUEUE_VERSION, "user_id": self.user_id, "requests": requests}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps(document, separators=(",", ":")).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.path)

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
        key = queue_key(request)
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
        it was, and the request will not be sent."""
        replaced = self._put(request)
        try:
            self._persist()
        except OSError as error:
            key = queue_key(request)
            slot = self._slots[key]
            slot.waiting = replaced
            if slot.waiting is None and slot.in_flight is None:
                self._drop_key(key)
            raise QueueWriteError(
                f"cannot write the receipt queue {self.path}: {error.strerror or error}; nothing was sent"
            ) from None
        self._on_change(len(self))
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
        workers: dict[tuple[str, str, str], asyncio.Task] = {}
        try:
            while True:
                for key in list(self._order) if not self._blocked else ():
                    slot = self._slots[key]
                    task = workers.get(key)
                    if slot.waiting is not None and (task is None or task.done()):
                        workers[key] = asyncio.create_task(self._send_slot(key, send), name=f"receipt {key}")
                self._wake.clear()
                await self._wake.wait()
        finally:
            for task in workers.values():
                task.cancel()
            await asyncio.gather(*workers.values(), return_exceptions=True)

    async def _send_slot(self, key: tuple[str, str, str], send: Sender) -> None:
        slot = self._slots[key]
        attempt = 0
        while slot.waiting is not None:
            if attempt == 0:
                # Pace a key's requests; presses meanwhile coalesce into slot.waiting.
                since = time.monotonic() - self._last_start.get(key, float("-inf"))
                if since < self._min_interval:
                    await asyncio.sleep(self._min_interval - since)
            self._last_start[key] = time.monotonic()
            request = slot.in_flight = slot.waiting
            slot.waiting = None
            error: MatrixError | None = None
            try:
                await send(request)
            except TokenInvalid as failure:
                # Keep everything for the next login of this user; stop trying.
                self._restore(slot, request)
                self._blocked = True
                self._on_blocked(failure)
                return
            except MatrixError as failure:
                if failure.is_retryable:
                    self._restore(slot, request)
                    delay = self._delay(failure, attempt)
                    attempt += 1
                    log.info("receipt %s: %s; retrying in %.1f s", key, failure, delay)
                    await self._backoff(delay, failure)
                    continue
                error = failure
            except Exception as failure:  # a bug must not leave the key stuck in flight
                log.exception("sending %s failed", request)
                error = MatrixError(f"internal error: {type(failure).__name__}: {failure}")
            attempt = 0
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

    @staticmethod
    def _delay(failure: MatrixError, attempt: int) -> float:
        if isinstance(failure, RateLimited) and failure.retry_after_ms is not None:
            return max(failure.retry_after_ms / 1000.0, 0.05)
        base = min(BACKOFF_CAP, BACKOFF_START * (2**attempt))
        return base * (0.5 + random.random() / 2)
