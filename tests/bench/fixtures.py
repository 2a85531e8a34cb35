"""What the in-process benchmarks share: an isolated XDG profile holding a session and
the cache of a synthetic account, and a stand-in for ``MatrixClient`` that never
reaches a server.

The service under test is the real ``MatrixService`` (cache loading, planning,
optimistic application, the durable receipt queue with its fsync, settling); only the
transport is replaced. ``SilentClient`` answers what the service asks at start-up
(private receipts supported, a filter ID), then holds every sync until the benchmark
hands it a body, records the time of every receipt request it is asked to send, and
answers those after ``rtt_s`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from app.matrix.client import MatrixClient
from app.matrix.session import Session, save_session
from app.model.account import AccountState
from app.store import cache
from tests.bench.synthetic import ME

XDG_NAMES = ("CONFIG", "DATA", "STATE", "CACHE")
DEVICE = "BENCHDEVICE"


def write_profile(home: str | Path, account: AccountState, homeserver: str = "http://127.0.0.1:9") -> dict[str, str]:
    """XDG variables for a profile under ``home`` with a session and ``account`` cached."""
    env = {f"XDG_{name}_HOME": os.path.join(home, name.lower()) for name in XDG_NAMES}
    save_session(
        Session(homeserver, account.user_id, DEVICE, "syt_bench_token_never_used"),
        Path(env["XDG_DATA_HOME"]) / "readmark" / "session.json",
    )
    # Written by the session's login: the app discards a cache of another login.
    cache.save_account(account, path=Path(env["XDG_CACHE_HOME"]) / "readmark" / cache.FILE_NAME, device_id=DEVICE)
    return env


@contextlib.contextmanager
def in_profile(env: dict[str, str]) -> Iterator[None]:
    """Point this process's XDG variables at a profile for the duration."""
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """A loopback TCP port that completes connections (the kernel's backlog) and never
    answers: a homeserver that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


class SilentClient:
    """The part of ``MatrixClient`` that ``MatrixService`` uses, without a network."""

    insecure_transport = False

    def __init__(self, user_id: str = ME, *, rtt_s: float = 0.05) -> None:
        self.user_id = user_id
        self.device_id = DEVICE  # the login write_profile's cache belongs to
        self.rtt_s = rtt_s
        self.syncs: asyncio.Queue[bytes] | None = None
        # (time.perf_counter_ns() when asked, request arguments)
        self.sent: list[tuple[int, tuple]] = []
        self.sync_calls = 0

    def feed(self, body: bytes) -> None:
        """Hand the waiting sync loop one response body."""
        self._queue().put_nowait(body)

    def _queue(self) -> asyncio.Queue[bytes]:
        if self.syncs is None:
            self.syncs = asyncio.Queue()
        return self.syncs

    async def supports_private_receipts(self) -> bool:
        return True

    async def upload_filter(self, sync_filter: dict) -> str:
        return "bench-filter"

    async def sync_raw(self, since: str | None, timeout_ms: int, filter_id: str | None) -> bytes:
        self.sync_calls += 1
        return await self._queue().get()

    async def send_receipt(self, room_id: str, receipt_type: str, event_id: str, thread_id: str | None) -> None:
        self.sent.append((time.perf_counter_ns(), (room_id, receipt_type, event_id, thread_id)))
        await asyncio.sleep(self.rtt_s)

    async def set_read_markers(self, room_id: str, **markers: object) -> None:
        self.sent.append((time.perf_counter_ns(), (room_id, "read_markers", markers)))
        await asyncio.sleep(self.rtt_s)

    # The real dispatch from a planned request to the two calls above.
    send_request = MatrixClient.send_request

    async def thread_events(self, *args: object, **kwargs: object) -> tuple[list, str | None]:
        # Never answers: background thread fills stay out of the measurements.
        await asyncio.Event().wait()
        return [], None

    async def room_event(self, *args: object, **kwargs: object) -> dict:
        await asyncio.Event().wait()
        return {}

    async def messages(self, *args: object, **kwargs: object) -> tuple[list, str | None]:
        await asyncio.Event().wait()
        return [], None

    def __getattr__(self, name: str):  # noqa: ANN204
        """Any other request the service learns to make: one that never answers, like
        the fills above (so a new client method does not break the benchmarks)."""
        if name.startswith("_"):
            raise AttributeError(name)

        async def never_answers(*args: object, **kwargs: object) -> None:
            await asyncio.Event().wait()

        return never_answers

    async def close(self) -> None:
        return None
