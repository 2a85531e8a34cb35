"""A slow homeserver (the proxy adds seconds of latency) and one that cuts connections in
the middle of an answer, on /sync and /receipt: the UI never freezes, no receipt is sent
for an older event or twice with different targets, timeouts are reported."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.service import SyncState
from app.matrix.session import Session
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction
from app.model.receipts import ReceiptType
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import Recorder, eventually, in_thread
from tests.reliability.helpers import (
    Cut,
    RecordingProxy,
    Rule,
    assert_never_backwards,
    make_scene,
    path_contains,
    receipts_sent,
    screen_text,
    until,
)
from tests.ui.helpers import RecordingApp

pytestmark = [pytest.mark.faults, pytest.mark.synapse]
PUB = ReceiptType.PUBLIC
KEY_BOUND_S = 0.5  # how long a key's effect may take to show, times 4, before giving up
# Each hung request takes this long. Every key having its effect before the first hung
# receipt is answered proves no key waited on the network (a per-key time bound failed on
# a busy machine: ? took 0.56 s; eight such keys need 10 s of room, not 5).
HANG_S = 10.0
# The client's limit for one request in the hang test: well past HANG_S, so a hung request
# is answered, not timed out and retried (at 5 s against 5 s the timeout sometimes won and
# the same receipt was sent twice, which is allowed but not what this test counts).
HANG_LIMIT_S = 3 * HANG_S


def app_through(proxy: RecordingProxy, scene, *, request_timeout: float = 5, sync_timeout_ms: int = 500) -> RecordingApp:
    session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
    client = MatrixClient.from_session(session, request_timeout=request_timeout)
    service = MatrixService(client, sync_timeout_ms=sync_timeout_ms)
    service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
    return RecordingApp(service, Settings(receipt_mode=PUB))


@pytest.mark.serial
async def test_keys_answer_while_receipt_and_sync_hang(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=2, main=2)
    async with RecordingProxy(synapse.base_url) as proxy:
        app = app_through(proxy, scene, request_timeout=HANG_LIMIT_S)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            screen = app.screen
            # From now on every /sync and /receipt takes HANG_S.
            proxy.add(Rule(path_contains("/sync", "GET"), times=100, delay=HANG_S))
            proxy.add(Rule(path_contains("/receipt/", "POST"), times=100, delay=HANG_S))
            await pilot.press("r")  # main timeline: queued, its request now hangs
            assert screen.last_action.outcome == "sent"
            await until(pilot, lambda: receipts_sent(proxy), KEY_BOUND_S * 4, "the receipt reaching the server")
            [first_receipt] = receipts_sent(proxy)
            assert first_receipt.thread == MAIN
            await pilot.pause(0.3)
            timings = []
            for key, check in (
                ("tab", lambda: screen.focused is screen.threads),
                ("j", lambda: screen.selection.thread_id == scene.root),
                ("r", lambda: screen.last_action.text.startswith("public receipt, thread")),
                ("k", lambda: screen.selection.thread_id == MAIN),
                ("u", lambda: screen.view.unread_only),
                ("u", lambda: not screen.view.unread_only),
                ("question_mark", lambda: type(app.screen).__name__ == "HelpScreen"),
                ("escape", lambda: app.screen is screen),
            ):
                began = time.monotonic()
                await pilot.press(key)
                await until(pilot, check, KEY_BOUND_S * 4, f"the effect of {key}")
                timings.append((key, time.monotonic() - began))
            assert proxy.status_of(first_receipt.index) is None, f"the keys waited for the hung receipt: {timings}"
            assert "queued" in screen_text(pilot)
            await until(pilot, lambda: app.service.queued == 0, 4 * HANG_S, "the slow receipts settling")
            assert screen.last_action.outcome == "settled"
            await pilot.press("q")
            await pilot.pause()
    sent = receipts_sent(proxy)
    assert Counter(s.key for s in sent) == {(scene.room, "m.read", MAIN): 1, (scene.room, "m.read", scene.root): 1}
    seen = await in_thread(lambda: scene.alice.wait_for(
        lambda: (r := scene.my_receipts_seen_by_witness()) and scene.replies[-1] in r and scene.main[-1] in r and r))
    assert seen[scene.replies[-1]]["m.read"]["thread_id"] == scene.root


async def test_a_sync_timeout_is_reported_and_recovered(make_actor, synapse) -> None:
    """The proxy holds /sync past the client's limit twice: the service says offline with
    the reason ("did not answer within ..."), then comes back and misses nothing."""
    scene = make_scene(make_actor, replies=0, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session, request_timeout=1.0), sync_timeout_ms=300)
        service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            await eventually(lambda: service.status.state is SyncState.LIVE)
            proxy.add(Rule(path_contains("/sync", "GET"), times=1, delay=3.0))
            await eventually(lambda: service.status.state is SyncState.OFFLINE, timeout=10)
            late = await in_thread(lambda: scene.alice.send_text(scene.room, "while it was slow"))
            await eventually(lambda: service.account.rooms[scene.room].event(late), timeout=30)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.close()
    offline = [s for s in recorder.statuses if s.state is SyncState.OFFLINE]
    assert offline and all("did not answer within 1" in s.detail for s in offline), offline
    assert offline[0].retry_in is not None
    assert [e.event_id for e in service.account.rooms[scene.room].events].count(late) == 1


async def test_a_sync_timeout_is_shown_on_screen(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=0, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        app = app_through(proxy, scene, request_timeout=1.0, sync_timeout_ms=300)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            proxy.add(Rule(path_contains("/sync", "GET"), times=3, delay=3.0))
            await until(pilot, lambda: "offline" in app.screen.status.sync_text, 15)
            shown = screen_text(pilot) + "\n".join(text for _, text, _ in app.notified)
            await pilot.press("q")
            await pilot.pause()
    assert "did not answer" in shown


@pytest.mark.parametrize("where", ["receipt", "sync"])
async def test_connections_cut_mid_response(make_actor, synapse, where) -> None:
    """The server did the work, the answer is cut in half: the client retries the same
    request (it cannot know), never a different or older one, and loses nothing."""
    scene = make_scene(make_actor, replies=1, main=2)
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session, request_timeout=5), sync_timeout_ms=300)
        service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            await eventually(lambda: service.status.state is SyncState.LIVE and scene.room in service.account.rooms)
            if where == "sync":
                proxy.add(Cut(path_contains("/sync", "GET"), times=2, fraction=0.5))
                await eventually(lambda: service.status.state is SyncState.OFFLINE, timeout=10)
                assert "Response payload is not completed" in service.status.detail
                late = await in_thread(lambda: scene.alice.send_text(scene.room, "during the cuts"))
                await eventually(lambda: service.account.rooms[scene.room].event(late), timeout=30)
                target = late
            else:
                proxy.add(Cut(path_contains("/receipt/", "POST"), times=2, fraction=0.5))
                target = scene.main[-1]
            request = service.submit(scene.room, ReceiptAction(ActionKind.THREADED, PUB, MAIN))
            assert request.event_id == target
            outcome = await eventually(lambda: next((o for o in recorder.outcomes if o.request == request), None), 30)
            assert outcome.accepted, outcome.error
            await eventually(lambda: service.status.state is SyncState.LIVE)
            room = service.account.rooms[scene.room]
            ids = [e.event_id for e in room.events]
            assert len(ids) == len(set(ids))  # no event applied twice
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.close()
    sent = receipts_sent(proxy)
    assert {s.event_id for s in sent} == {target}  # retries repeat the same receipt, nothing else
    assert len(sent) == (3 if where == "receipt" else 1), sent
    assert_never_backwards(sent, [*scene.order, target] if target not in scene.order else scene.order)
    seen = await in_thread(lambda: scene.alice.wait_for(lambda: scene.my_receipt(target)))
    assert seen["thread_id"] == MAIN
