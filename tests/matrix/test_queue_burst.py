"""Issue 6's burst, the queue's part: the first request starts from within ``submit``
(after it is on disk, before the caller goes on), and a burst stays at two requests
however long its presses take to arrive, as long as they do not pause. Timings here are
short windows with wide margins; what is asserted is counts and order, never times."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from app.matrix.errors import NetworkError
from app.matrix.queue import ReceiptQueue, request_to_json
from app.model.ids import MAIN
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType

ME = "@me:test"


def receipt(event: str, thread: str = MAIN) -> ReceiptRequest:
    return ReceiptRequest("!r:test", ReceiptType.PRIVATE, event, thread)


async def started(queue: ReceiptQueue, send) -> asyncio.Task:  # noqa: ANN001
    task = asyncio.create_task(queue.run(send))
    await asyncio.sleep(0)  # run() is now sending
    return task


async def stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def until_empty(queue: ReceiptQueue) -> None:
    async with asyncio.timeout(10):
        while len(queue):
            await asyncio.sleep(0.005)


async def test_the_first_request_starts_within_submit_once_it_is_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    seen: list = []
    settled: list = []
    answer = asyncio.Event()

    async def send(request: ReceiptRequest) -> None:
        on_disk = json.loads(path.read_text())["requests"]
        seen.append((request, on_disk, asyncio.current_task()))
        await answer.wait()

    queue = ReceiptQueue(path, ME, on_settled=lambda r, e: settled.append((r, e)))
    task = await started(queue, send)
    try:
        queue.submit(receipt("$a"))
        # No await since submit: the sender was already called, with the request on disk.
        ((request, on_disk, worker),) = seen
        assert request == receipt("$a") and on_disk == [request_to_json(receipt("$a"))]
        # ... as its own task (a timeout it starts cancels that, never the caller).
        assert worker is not asyncio.current_task() and worker is not None and not worker.done()
        answer.set()
        await until_empty(queue)
        assert settled == [(receipt("$a"), None)]
    finally:
        await stop(task)


async def test_an_answer_without_waiting_is_not_settled_within_submit(tmp_path: Path) -> None:
    """The caller applies the request optimistically after submit returns: settling
    (or rolling back) before that would leave the optimistic change behind."""
    settled: list = []
    sent: list = []

    async def instant(request: ReceiptRequest) -> None:
        sent.append(request)

    queue = ReceiptQueue(tmp_path / "q.json", ME, on_settled=lambda r, e: settled.append((r, e)))
    task = await started(queue, instant)
    try:
        queue.submit(receipt("$a"))
        assert sent == [receipt("$a")] and settled == []
        await until_empty(queue)
        assert settled == [(receipt("$a"), None)]
    finally:
        await stop(task)


async def test_a_failure_before_any_wait_is_retried_not_settled_within_submit(tmp_path: Path) -> None:
    settled: list = []
    sent: list = []

    async def flaky(request: ReceiptRequest) -> None:
        sent.append(request)
        if len(sent) == 1:
            raise NetworkError("unreachable")

    async def no_sleep(seconds: float) -> None:
        await asyncio.sleep(0)

    queue = ReceiptQueue(tmp_path / "q.json", ME, sleep=no_sleep, on_settled=lambda r, e: settled.append((r, e)))
    task = await started(queue, flaky)
    try:
        queue.submit(receipt("$a"))
        assert len(sent) == 1 and settled == [] and len(queue) == 1
        await until_empty(queue)
        assert sent == [receipt("$a")] * 2 and settled == [(receipt("$a"), None)]
    finally:
        await stop(task)


async def test_stopping_right_after_submit_keeps_the_request_queued(tmp_path: Path) -> None:
    """run() is cancelled before the worker's task ever ran a step of its own: the
    sender still gets the cancellation where it waits, and the request stays on disk."""
    path = tmp_path / "q.json"
    events: list[str] = []

    async def send(request: ReceiptRequest) -> None:
        events.append("sent")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            events.append("cancelled")
            raise

    queue = ReceiptQueue(path, ME)
    task = await started(queue, send)
    queue.submit(receipt("$a"))
    await stop(task)
    assert events == ["sent", "cancelled"]
    assert ReceiptQueue(path, ME).load() == [receipt("$a")]


async def test_keys_each_start_at_once(tmp_path: Path) -> None:
    sent: list = []

    async def send(request: ReceiptRequest) -> None:
        sent.append(request.thread_id)
        await asyncio.sleep(0.01)

    queue = ReceiptQueue(tmp_path / "q.json", ME)
    task = await started(queue, send)
    try:
        for thread in (MAIN, "$root1", "$root2"):
            queue.submit(receipt("$e", thread))
        assert sent == [MAIN, "$root1", "$root2"]
        await until_empty(queue)
    finally:
        await stop(task)


async def test_a_burst_longer_than_the_interval_still_sends_two_requests(tmp_path: Path) -> None:
    """Presses arrive for three intervals (the app handled them late) without a pause:
    the first and the furthest leave, nothing between."""
    sent: list = []

    async def send(request: ReceiptRequest) -> None:
        sent.append(request.event_id)

    # quiet is 100 times the gap between presses: only a stall of a second would look
    # like a pause.
    queue = ReceiptQueue(tmp_path / "q.json", ME, min_interval=0.1, quiet=1.0, max_wait=10.0)
    task = await started(queue, send)
    try:
        for i in range(30):
            queue.submit(receipt(f"$e{i}"))
            await asyncio.sleep(0.01)  # 30 presses over ~0.3 s or more
        await until_empty(queue)
    finally:
        await stop(task)
    assert sent == ["$e0", "$e29"]


async def test_a_slow_answer_does_not_release_the_next_request_while_presses_go_on(tmp_path: Path) -> None:
    """The first request is answered after the interval, in the middle of the burst:
    the waiting one does not leave then (it would be a third), but after the pause."""
    sent: list = []
    answer = asyncio.Event()

    async def send(request: ReceiptRequest) -> None:
        sent.append(request.event_id)
        if len(sent) == 1:
            await answer.wait()

    queue = ReceiptQueue(tmp_path / "q.json", ME, min_interval=0.05, quiet=1.0, max_wait=10.0)
    task = await started(queue, send)
    try:
        for i in range(30):
            queue.submit(receipt(f"$e{i}"))
            await asyncio.sleep(0.01)
            if i == 15:
                answer.set()
        await until_empty(queue)
    finally:
        await stop(task)
    assert sent == ["$e0", "$e29"]


async def test_presses_that_never_pause_still_go_out_every_max_wait(tmp_path: Path) -> None:
    sent: list = []
    submitted: list[int] = []

    async def send(request: ReceiptRequest) -> None:
        sent.append((request.event_id, len(submitted)))

    queue = ReceiptQueue(tmp_path / "q.json", ME, min_interval=0.02, quiet=10.0, max_wait=0.1)
    task = await started(queue, send)
    try:
        for i in range(60):
            submitted.append(i)
            queue.submit(receipt(f"$e{i}"))
            await asyncio.sleep(0.01)  # 0.6 s or more: several max_waits
        await until_empty(queue)
    finally:
        await stop(task)
    assert sent[0] == ("$e0", 1) and sent[-1][0] == "$e59"
    # Some request between the first and the last left while the presses went on.
    assert any(0 < index < len(sent) - 1 and count < 60 for index, (_, count) in enumerate(sent))


async def test_a_timeout_started_within_submit_cancels_the_worker_not_the_caller(tmp_path: Path) -> None:
    """aiohttp starts its request timeout in the sender's first step, which runs within
    submit: it must time out the request, not the task that called submit (the UI's)."""
    settled: list = []

    async def send(request: ReceiptRequest) -> None:
        async with asyncio.timeout(0.05):
            await asyncio.Event().wait()

    async def no_sleep(seconds: float) -> None:
        await asyncio.sleep(3600)  # no retry within the test

    queue = ReceiptQueue(tmp_path / "q.json", ME, sleep=no_sleep, on_settled=lambda r, e: settled.append((r, e)))
    task = await started(queue, send)
    try:
        queue.submit(receipt("$a"))
        async with asyncio.timeout(10):  # this task, the caller, is not the one cancelled
            while not settled:
                await asyncio.sleep(0.01)
        ((request, error),) = settled
        assert request == receipt("$a") and "TimeoutError" in str(error)
    finally:
        await stop(task)


async def test_a_submit_from_within_the_first_step_finds_the_worker_already_there(tmp_path: Path) -> None:
    """Re-entrancy: a sender that submits again for the same key during the step
    submit() runs eagerly must not get a second worker (two requests in flight at once
    for one key, one of them lost to the queue's bookkeeping)."""
    queue: ReceiptQueue
    in_flight: list[str] = []
    most_at_once = [0]
    answer = asyncio.Event()

    async def send(request: ReceiptRequest) -> None:
        in_flight.append(request.event_id)
        most_at_once[0] = max(most_at_once[0], len(in_flight))
        if request.event_id == "$a":
            queue.submit(receipt("$b"))  # from within the eager first step
        await answer.wait()
        in_flight.remove(request.event_id)

    queue = ReceiptQueue(tmp_path / "q.json", ME, on_settled=lambda r, e: None, min_interval=0.05, quiet=0.01)
    task = await started(queue, send)
    try:
        queue.submit(receipt("$a"))
        assert in_flight == ["$a"]
        # Past the pacing window with $a still unanswered: a second worker would send $b now.
        await asyncio.sleep(0.3)
        assert in_flight == ["$a"]
        answer.set()
        await until_empty(queue)
        assert most_at_once[0] == 1
        assert len(queue) == 0
    finally:
        await stop(task)
