"""429 (with ``retry_after_ms``), 5xx and connection resets on ``/receipt``,
``/read_markers`` and ``/sync``, injected by the recording proxy in front of the real
Synapse: waited out or retried with capped backoff, and the receipt arrives (the witness
sees it). 400/403/404 are not retried: reported with errcode and message, rolled back.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.queue import ReceiptQueue
from app.matrix.retry import CAP as BACKOFF_CAP
from app.matrix.service import SyncState
from app.matrix.session import Session
from app.model.ids import MAIN
from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, ReceiptRequest
from app.model.receipts import ReceiptType
from app.model.unread import thread_unread
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import Recorder, eventually, in_thread
from tests.reliability.helpers import RecordingProxy, Rule, make_scene, path_contains, receipts_sent, until
from tests.ui.helpers import RecordingApp

pytestmark = [pytest.mark.faults, pytest.mark.synapse]
PUB = ReceiptType.PUBLIC

RETRY_AFTER_MS = 700
FAULTS = {
    "429": dict(status=429, body={"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": RETRY_AFTER_MS}),
    "503": dict(status=503, body={"errcode": "M_UNKNOWN", "error": "upstream overloaded"}),
    "reset": dict(reset=True),
}
ENDPOINTS = {"receipt": ("/receipt/", "POST"), "read_markers": ("/read_markers", "POST"), "sync": ("/sync", "GET")}


async def start(scene, proxy: RecordingProxy, **kwargs) -> tuple[MatrixService, Recorder, asyncio.Task]:
    session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
    service = MatrixService(MatrixClient.from_session(session, request_timeout=5), sync_timeout_ms=500, **kwargs)
    # These tests send receipts of both kinds: in private mode the core refuses public ones
    # (tested on their own in tests/matrix/test_core.py and tests/reliability/test_private_mode.py).
    service.session_mode = ReceiptType.PUBLIC
    recorder = Recorder()
    task = asyncio.create_task(service.run(recorder))
    await eventually(lambda: service.status.state is SyncState.LIVE and scene.room in service.account.rooms)
    return service, recorder, task


async def stop(service: MatrixService, task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await service.close()


def requests_to(proxy: RecordingProxy, fragment: str, method: str) -> list[int]:
    return [i for i, seen in enumerate(proxy.seen) if fragment in seen.path_qs and seen.method == method]


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@pytest.mark.parametrize("fault", sorted(FAULTS))
async def test_transient_faults_are_retried_and_the_receipt_arrives(make_actor, synapse, endpoint, fault) -> None:
    scene = make_scene(make_actor, replies=1, main=2)
    fragment, method = ENDPOINTS[endpoint]
    async with RecordingProxy(synapse.base_url) as proxy:
        service, recorder, task = await start(scene, proxy)
        try:
            first = len(proxy.seen)
            proxy.add(Rule(path_contains(fragment, method), times=2, **FAULTS[fault]))
            if endpoint == "sync":
                # The next syncs fail twice; a message sent meanwhile still arrives.
                late = await in_thread(lambda: scene.alice.send_text(scene.room, "sent during the fault"))
                await eventually(lambda: service.account.rooms[scene.room].event(late), timeout=30)
                assert any(s.state is SyncState.OFFLINE for s in recorder.statuses)
                await eventually(lambda: service.status.state is SyncState.LIVE)
                request = service.submit(scene.room, ReceiptAction(ActionKind.THREADED, PUB, MAIN))
                target = late
            elif endpoint == "receipt":
                request = service.submit(scene.room, ReceiptAction(ActionKind.THREADED, PUB, scene.root))
                assert isinstance(request, ReceiptRequest)
                target = scene.replies[-1]
            else:
                request = service.submit(scene.room, ReceiptAction(ActionKind.FULLY_READ, PUB, with_receipt=True))
                assert isinstance(request, FullyReadRequest)
                target = scene.main[-1]
            outcome = await eventually(lambda: next((o for o in recorder.outcomes if o.request == request), None), 30)
            assert outcome.accepted, outcome.error
            assert service.queued == 0
        finally:
            await stop(service, task)

    tried = [i for i in requests_to(proxy, fragment, method) if i >= first]
    statuses = [proxy.status_of(i) for i in tried]
    failed = {"429": 429, "503": 503, "reset": 0}[fault]
    assert statuses[:2] == [failed, failed] and statuses[2] == 200, statuses
    if endpoint != "sync":
        assert len(tried) == 3, statuses  # two failures, one success, nothing more
    if fault == "429":
        # The server's retry_after_ms was waited out.
        gaps = [proxy.times[b] - proxy.times[a] for a, b in itertools.pairwise(tried[:3])]
        assert all(gap >= RETRY_AFTER_MS / 1000 - 0.02 for gap in gaps), gaps
    # The witness sees the receipt.
    seen = await in_thread(lambda: scene.alice.wait_for(lambda: scene.my_receipt(target)))
    if endpoint == "receipt":
        assert seen["thread_id"] == scene.root
    elif endpoint == "read_markers":
        assert "thread_id" not in seen
        assert scene.me.fully_read(scene.room) == target
    else:
        assert seen["thread_id"] == MAIN


async def test_sync_backoff_is_capped(make_actor, synapse) -> None:
    """Twelve 502s in a row on /sync: the waits grow, then stay at the 30 s cap (a fake
    clock: the countdown the status bar shows is what is checked)."""
    scene = make_scene(make_actor, replies=0, main=1)
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        await asyncio.sleep(0)

    async with RecordingProxy(synapse.base_url) as proxy:
        proxy.add(Rule(path_contains("/sync", "GET"), times=12, status=502, body={"error": "bad gateway"}))
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session), sync_timeout_ms=500, sleep=fake_sleep)
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            await eventually(lambda: service.status.state is SyncState.LIVE, timeout=30)
        finally:
            await stop(service, task)
    # Each attempt's countdown starts at its delay (then counts down by one-second sleeps).
    starts = []
    previous = None
    for status in recorder.statuses:
        if status.state is SyncState.OFFLINE and (previous is None or previous.state is not SyncState.OFFLINE):
            starts.append(status.retry_in)
        previous = status
    assert len(starts) == 12, starts
    assert all(0 < start <= 30 for start in starts), starts
    assert starts[-1] >= 15 and starts[0] <= 1, starts  # grew, and stopped at the cap
    assert all("502" in s.detail or "bad gateway" in s.detail for s in recorder.statuses if s.state is SyncState.OFFLINE)


async def test_receipt_backoff_is_capped(make_actor, synapse, tmp_path) -> None:
    """Twelve 503s on /receipt through the real facade: delays grow to the cap, no more."""
    scene = make_scene(make_actor, replies=0, main=1)
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)
        await asyncio.sleep(0)

    settled: list = []
    async with RecordingProxy(synapse.base_url) as proxy:
        proxy.add(Rule(path_contains("/receipt/", "POST"), times=12, status=503, body={"error": "busy"}))
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        async with MatrixClient.from_session(session) as client:
            queue = ReceiptQueue(tmp_path / "q.json", scene.me.user_id, sleep=fake_sleep,
                                 on_settled=lambda r, e: settled.append((r, e)))

            async def send(request: ReceiptRequest) -> None:
                await client.send_receipt(request.room_id, request.receipt_type.value, request.event_id, request.thread_id)

            queue.submit(ReceiptRequest(scene.room, PUB, scene.main[0], MAIN))
            task = asyncio.create_task(queue.run(send))
            try:
                await eventually(lambda: settled, timeout=30)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    assert settled[0][1] is None
    assert len(waited) == 12 and all(0 < w <= BACKOFF_CAP for w in waited), waited
    assert waited[0] <= 0.5 and min(waited[-4:]) >= BACKOFF_CAP / 2, waited
    assert len(receipts_sent(proxy)) == 13
    assert await in_thread(lambda: scene.alice.wait_for(lambda: scene.my_receipt(scene.main[0])))


REFUSALS = {
    "400-receipt": ("/receipt/", 400, "M_INVALID_PARAM", "event_id is not related to thread"),
    "403-read_markers": ("/read_markers", 403, "M_FORBIDDEN", "You are not allowed to do that"),
    "404-receipt": ("/receipt/", 404, "M_NOT_FOUND", "Unknown room"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
async def test_refusals_are_final_and_reported_with_errcode_and_message(make_actor, synapse, case) -> None:
    fragment, status, errcode, message = REFUSALS[case]
    scene = make_scene(make_actor, replies=1, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        service, recorder, task = await start(scene, proxy)
        try:
            before = service.account.rooms[scene.room]
            proxy.add(Rule(path_contains(fragment, "POST"), times=5, status=status,
                           body={"errcode": errcode, "error": message}))
            if fragment == "/receipt/":
                action = ReceiptAction(ActionKind.THREADED, PUB, scene.root)
            else:
                action = ReceiptAction(ActionKind.FULLY_READ, PUB, with_receipt=True)
            request = service.submit(scene.room, action)
            outcome = await eventually(lambda: next((o for o in recorder.outcomes if o.request == request), None))
            await asyncio.sleep(1.0)  # room for a wrong retry to show itself
            assert not outcome.accepted
            assert outcome.error == f"{errcode}: {message}"
            assert len(requests_to(proxy, fragment, "POST")) == 1
            assert service.queued == 0
            # Rolled back: the counts are what they were.
            after = service.account.rooms[scene.room]
            assert thread_unread(after, scene.root).unread == thread_unread(before, scene.root).unread
            assert after.fully_read == before.fully_read
        finally:
            await stop(service, task)
    assert await in_thread(lambda: scene.my_receipts_seen_by_witness()) == {}


@pytest.mark.serial
async def test_a_refusal_is_shown_in_the_tui_with_errcode_and_message(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=1, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session), sync_timeout_ms=500)
        app = RecordingApp(service, Settings(receipt_mode=PUB))
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            screen = app.screen
            proxy.add(Rule(path_contains("/receipt/", "POST"), times=5, status=403,
                           body={"errcode": "M_FORBIDDEN", "error": "You are not allowed to do that"}))
            began = time.monotonic()
            await pilot.press("r")
            await until(pilot, lambda: screen.last_action.outcome == "failed")
            assert "M_FORBIDDEN: You are not allowed to do that" in screen.last_action.text
            assert any(
                severity == "error" and "M_FORBIDDEN: You are not allowed to do that" in text
                for _title, text, severity in app.notified
            ), app.notified
            await pilot.pause(1.0)
            assert len(requests_to(proxy, "/receipt/", "POST")) == 1
            assert time.monotonic() - began < 5
            await pilot.press("q")
            await pilot.pause()
    assert await in_thread(lambda: scene.my_receipts_seen_by_witness()) == {}


@pytest.mark.serial
async def test_receipts_waiting_out_a_backoff_go_as_soon_as_a_sync_gets_through(make_actor, synapse, monkeypatch) -> None:  # noqa: ANN001
    """After a long outage the queue's backoff can be up to 30 s: when the sync loop is
    back, receipts go at once instead of after their wait (the status bar would say live
    with receipts still queued). A long first backoff of the queue's (15 s) makes the case
    certain."""
    import app.matrix.queue as queue_module

    monkeypatch.setattr(queue_module, "retry_delay", lambda error, attempt: 15.0)
    scene = make_scene(make_actor, replies=0, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        service, recorder, task = await start(scene, proxy)
        try:
            proxy.add(Rule(path_contains("/receipt/", "POST"), times=1, status=503, body={"error": "restarting"}))
            proxy.add(Rule(path_contains("/sync", "GET"), times=1, status=502, body={"error": "restarting"}))
            began = time.monotonic()
            request = service.submit(scene.room, ReceiptAction(ActionKind.THREADED, PUB, MAIN))
            outcome = await eventually(lambda: next((o for o in recorder.outcomes if o.request == request), None), 8)
            assert outcome.accepted and time.monotonic() - began < 8
        finally:
            await stop(service, task)
    tried = requests_to(proxy, "/receipt/", "POST")
    assert [proxy.status_of(i) for i in tried] == [503, 200]
    assert await in_thread(lambda: scene.alice.wait_for(lambda: scene.my_receipt(scene.main[0])))
