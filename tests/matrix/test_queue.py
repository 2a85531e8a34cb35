"""The receipt queue's own rules: durable before sending, coalescing per key, retry
policy by error class, and the user guard. The transport here is a controllable
function; the same queue against the real Synapse is in test_queue_synapse.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.matrix.errors import NetworkError, RateLimited, RequestRefused, ServerError, TokenInvalid
from app.matrix import queue as queue_module
from app.matrix.queue import MAX_IN_FLIGHT, ReceiptQueue, request_from_json, request_to_json
from app.model.ids import MAIN
from app.model.plan import FullyReadRequest, ReceiptRequest
from app.model.receipts import ReceiptType

ME = "@me:test"
PRIV, PUB = ReceiptType.PRIVATE, ReceiptType.PUBLIC


def receipt(event: str, thread: str | None = MAIN, receipt_type: ReceiptType = PRIV, room: str = "!r:test"):
    return ReceiptRequest(room, receipt_type, event, thread)


class Transport:
    """Answers each send from a script of outcomes (None = success), recording calls."""

    def __init__(self, *script) -> None:
        self.script = list(script)
        self.sent: list = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, request) -> None:
        self.sent.append(request)
        if self.gate is not None:
            await self.gate.wait()
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome


async def drain(queue: ReceiptQueue, transport: Transport, until, timeout: float = 5.0) -> None:
    task = asyncio.create_task(queue.run(transport))
    try:
        async with asyncio.timeout(timeout):
            while not until():
                await asyncio.sleep(0.005)
    finally:
        await stop(task)


async def until_empty(queue: ReceiptQueue, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while len(queue):
            await asyncio.sleep(0.005)


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def no_sleep():
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        await asyncio.sleep(0)

    return sleep, delays


@pytest.mark.parametrize(
    "request_",
    [
        receipt("$e"),
        receipt("$e", None),
        receipt("$e", "$root", PUB),
        FullyReadRequest("!r:t", "$e", PRIV, "$d"),
        FullyReadRequest("!r:t", "$e"),
    ],
)
def test_requests_round_trip_through_json(request_) -> None:
    assert request_from_json(json.loads(json.dumps(request_to_json(request_)))) == request_


async def test_written_to_disk_before_it_is_sent(tmp_path: Path) -> None:
    path = tmp_path / "queue.json"
    queue = ReceiptQueue(path, ME)
    queue.submit(receipt("$a"))
    stored = json.loads(path.read_text())
    assert stored["user_id"] == ME and stored["requests"] == [request_to_json(receipt("$a"))]
    assert path.stat().st_mode & 0o777 == 0o600
    # A new process (a new queue object) finds it.
    again = ReceiptQueue(path, ME)
    assert again.load() == [receipt("$a")]


async def test_burst_on_one_key_sends_at_most_two_requests(tmp_path: Path) -> None:
    settled: list = []
    queue = ReceiptQueue(tmp_path / "q.json", ME, on_settled=lambda r, e: settled.append((r, e)))
    transport = Transport()
    transport.gate = asyncio.Event()
    task = asyncio.create_task(queue.run(transport))
    queue.submit(receipt("$e0"))
    await asyncio.sleep(0.01)
    for i in range(1, 50):
        queue.submit(receipt(f"$e{i}"))
    transport.gate.set()
    await until_empty(queue)
    await stop(task)
    assert [r.event_id for r in transport.sent] == ["$e0", "$e49"]
    assert [r.event_id for r, e in settled] == ["$e0", "$e49"] and all(e is None for _, e in settled)
    assert json.loads((tmp_path / "q.json").read_text())["requests"] == []


async def test_keys_are_independent(tmp_path: Path) -> None:
    queue = ReceiptQueue(tmp_path / "q.json", ME)
    transport = Transport()
    for request in (receipt("$a"), receipt("$b", "$root"), receipt("$c", None), receipt("$d", MAIN, PUB)):
        queue.submit(request)
    await drain(queue, transport, lambda: len(queue) == 0)
    assert sorted(r.event_id for r in transport.sent) == ["$a", "$b", "$c", "$d"]


@pytest.mark.parametrize("failure", [NetworkError("reset"), ServerError("boom", status=502)])
async def test_transient_failures_are_retried_with_growing_backoff(tmp_path: Path, failure) -> None:
    sleep, delays = no_sleep()
    queue = ReceiptQueue(tmp_path / "q.json", ME, sleep=sleep)
    transport = Transport(failure, failure, failure, None)
    queue.submit(receipt("$a"))
    await drain(queue, transport, lambda: len(queue) == 0)
    assert [r.event_id for r in transport.sent] == ["$a"] * 4
    assert len(delays) == 3 and delays[0] < delays[2] <= 30


async def test_rate_limit_waits_what_the_server_asked(tmp_path: Path) -> None:
    sleep, delays = no_sleep()
    queue = ReceiptQueue(tmp_path / "q.json", ME, sleep=sleep)
    transport = Transport(RateLimited("slow down", errcode="M_LIMIT_EXCEEDED", status=429, retry_after_ms=1234))
    queue.submit(receipt("$a"))
    await drain(queue, transport, lambda: len(queue) == 0)
    assert delays == [1.234] and len(transport.sent) == 2


async def test_refusal_is_final_and_reported(tmp_path: Path) -> None:
    settled: list = []
    queue = ReceiptQueue(tmp_path / "q.json", ME, on_settled=lambda r, e: settled.append((r, e)))
    refusal = RequestRefused("not in thread", errcode="M_INVALID_PARAM", status=400)
    transport = Transport(refusal)
    queue.submit(receipt("$a", "$root"))
    await drain(queue, transport, lambda: bool(settled))
    assert len(transport.sent) == 1
    assert settled == [(receipt("$a", "$root"), refusal)]
    assert len(queue) == 0


async def test_invalid_token_blocks_and_keeps_everything(tmp_path: Path) -> None:
    blocked: list = []
    path = tmp_path / "q.json"
    queue = ReceiptQueue(path, ME, on_blocked=blocked.append)
    transport = Transport(TokenInvalid("gone", errcode="M_UNKNOWN_TOKEN", status=401))
    queue.submit(receipt("$a"))
    await drain(queue, transport, lambda: bool(blocked))
    assert queue.blocked and len(queue) == 1
    assert ReceiptQueue(path, ME).load() == [receipt("$a")]


async def test_another_users_queue_is_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    ReceiptQueue(path, "@other:test").submit(receipt("$a"))
    queue = ReceiptQueue(path, ME)
    assert queue.load() == [] and queue.dropped_for_other_user == 1
    assert json.loads(path.read_text())["user_id"] == ME


async def test_corrupt_queue_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text('{"version": 1, "user_id": "@me:test", "requests": [{"kind": "receipt"')
    queue = ReceiptQueue(path, ME)
    assert queue.load() == []
    [aside] = tmp_path.glob("q.json.unreadable-*")
    assert aside.read_text().endswith('[{"kind": "receipt"') and not path.exists()
    assert queue.problem == f"receipt queue {path} is not valid JSON; kept as {aside}"
    assert aside.stat().st_mode & 0o777 == 0o600


async def test_a_newer_fully_read_never_swallows_an_older_ones_receipt(tmp_path: Path) -> None:
    queue = ReceiptQueue(tmp_path / "q.json", ME)
    transport = Transport()
    transport.gate = asyncio.Event()
    with_receipt = FullyReadRequest("!r:test", "$b", PRIV, "$b")
    marker_only = FullyReadRequest("!r:test", "$c")
    queue.submit(with_receipt)
    assert queue.submit(marker_only) is None  # not a replacement: another key
    transport.gate.set()
    await drain(queue, transport, lambda: len(queue) == 0)
    assert sorted(transport.sent, key=lambda r: r.event_id) == [with_receipt, marker_only]


async def test_an_unexpected_error_in_sending_settles_the_request(tmp_path: Path) -> None:
    settled: list = []
    queue = ReceiptQueue(tmp_path / "q.json", ME, on_settled=lambda r, e: settled.append((r, e)))
    transport = Transport(ValueError("bad thread"))
    queue.submit(receipt("$a"))
    await drain(queue, transport, lambda: bool(settled))
    (request, error), = settled
    assert request == receipt("$a") and "ValueError: bad thread" in str(error)
    assert len(queue) == 0


def test_an_empty_thread_id_in_the_file_is_rejected() -> None:
    import pytest as _pytest

    with _pytest.raises(ValueError):
        request_from_json({"kind": "receipt", "room_id": "!r:t", "event_id": "$e", "receipt_type": "m.read", "thread_id": ""})


async def test_fifty_presses_in_under_a_second_send_two_requests_even_on_a_fast_server(tmp_path: Path) -> None:
    """Issue 6's burst: the server answers at once (no request in flight to coalesce
    behind), yet only the first and the furthest receipt leave."""
    # max_wait well past the burst: on a slow disk (a write per press) 50 presses could
    # outlast the default 3 s, which releases one more request by design.
    queue = ReceiptQueue(tmp_path / "q.json", ME, min_interval=2.0, max_wait=30.0)
    transport = Transport()
    task = asyncio.create_task(queue.run(transport))
    try:
        queue.submit(receipt("$e0"))
        await asyncio.sleep(0.01)
        assert [r.event_id for r in transport.sent] == ["$e0"]  # the first leaves at once
        for i in range(1, 50):
            queue.submit(receipt(f"$e{i}"))
            await asyncio.sleep(0.005)  # 50 presses well inside the interval
        await until_empty(queue)
    finally:
        await stop(task)
    assert [r.event_id for r in transport.sent] == ["$e0", "$e49"]


# ---- a bulk read through the queue (issue 14) --------------------------------------------

# More rooms than go out at once: three waves and one more.
BULK = [receipt(f"$e{i}", None, room=f"!room{i}:test") for i in range(3 * MAX_IN_FLIGHT + 1)]


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each write of the queue file, by how many requests it held (the real write)."""
    counted: list[int] = []
    real = queue_module.write_atomic

    def write(path: Path, payload: bytes) -> Path:
        counted.append(len(json.loads(payload)["requests"]))
        return real(path, payload)

    monkeypatch.setattr(queue_module, "write_atomic", write)
    return counted


async def test_a_bulk_submit_writes_the_file_once_with_every_request(tmp_path: Path, writes: list[int]) -> None:
    path = tmp_path / "q.json"
    queue = ReceiptQueue(path, ME)
    assert queue.submit_many(list(BULK)) == []
    assert writes == [len(BULK)]
    assert ReceiptQueue(path, ME).load() == BULK  # all of them on disk, in order
    # One more room on its own is a write of its own: the count is of writes, not calls.
    queue.submit(receipt("$one", None, room="!one:test"))
    assert writes == [len(BULK), len(BULK) + 1]


async def test_a_bulk_read_sends_at_most_max_in_flight_requests_at_once(tmp_path: Path, writes: list[int]) -> None:
    """Each room is a key of its own, free to start at once: only the queue's limit on
    requests in flight paces them. The sender holds every request until released."""
    in_flight: list[str] = []
    sent: list[str] = []
    most_at_once = 0
    release = asyncio.Event()

    async def send(request: ReceiptRequest) -> None:
        nonlocal most_at_once
        in_flight.append(request.room_id)
        sent.append(request.room_id)
        most_at_once = max(most_at_once, len(in_flight))
        try:
            await release.wait()
        finally:
            in_flight.remove(request.room_id)

    queue = ReceiptQueue(tmp_path / "q.json", ME)
    task = asyncio.create_task(queue.run(send))
    try:
        await asyncio.sleep(0)  # run() is sending
        queue.submit_many(list(BULK))
        assert writes == [len(BULK)]  # one write, then the sends
        async with asyncio.timeout(10):
            while len(in_flight) < MAX_IN_FLIGHT:
                await asyncio.sleep(0.005)
        # Well past the time every other key would have started too: the first wave only.
        for _ in range(20):
            await asyncio.sleep(0.005)
        assert len(in_flight) == MAX_IN_FLIGHT and sent == in_flight
        release.set()
        await until_empty(queue, 10)
    finally:
        await stop(task)
    assert most_at_once == MAX_IN_FLIGHT
    assert sorted(sent) == sorted(request.room_id for request in BULK)  # each room once
    assert json.loads((tmp_path / "q.json").read_text())["requests"] == []
