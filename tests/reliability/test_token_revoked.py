"""The access token is revoked from another session (a real ``M_UNKNOWN_TOKEN`` from
Synapse after ``/logout/all``; ``soft_logout: true`` injected by the proxy): the service
reports LOGGED_OUT, receipts queued meanwhile are kept on disk, sent by the next session
of the same user after ``readmark logout`` + ``readmark login``, and dropped with a
notice for another user (the queue's user guard, end to end)."""

from __future__ import annotations

import asyncio
import io
import json
import sys

import pytest

from app import cli, paths
from app.config import Settings
from app.devserver.actor import CLIENT_V3
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.service import SyncState
from app.matrix.session import load_session
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction, ReceiptRequest
from app.model.receipts import ReceiptType
from app.ui.screens.login import LoginScreen
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import Recorder, eventually, in_thread
from tests.reliability.helpers import RecordingProxy, Rule, make_scene, path_contains, receipts_sent, screen_text, until
from tests.ui.helpers import RecordingApp

pytestmark = [pytest.mark.faults, pytest.mark.synapse]
PUB = ReceiptType.PUBLIC


def password_of(actor) -> str:  # noqa: ANN001
    return f"pw-{actor.user_id[1:].split(':', 1)[0]}"


async def run_cli(capsys, monkeypatch, argv: list[str], stdin: str = "") -> tuple[int, str, str]:  # noqa: ANN001
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = await asyncio.to_thread(cli.main, argv)  # the CLI runs its own event loop
    out, err = capsys.readouterr()
    return code, out, err


async def cli_login(capsys, monkeypatch, proxy: RecordingProxy, actor) -> None:  # noqa: ANN001
    code, out, err = await run_cli(
        capsys, monkeypatch,
        ["login", "--homeserver", proxy.base_url, "--user", actor.user_id, "--password-stdin"],
        password_of(actor) + "\n",
    )
    assert code == 0, err
    assert out.startswith(f"logged in as {actor.user_id}")


def queue_file() -> dict:
    return json.loads((paths.state_dir() / "receipt-queue.json").read_text())


async def revoked_with_two_receipts_queued(scene, proxy, capsys, monkeypatch) -> tuple[ReceiptRequest, ReceiptRequest]:  # noqa: ANN001
    """Log in through the CLI, run the service, revoke every token of the user from
    another session, and queue two receipts: one the queue tries (and is told the token
    is gone), one pressed after the service said LOGGED_OUT."""
    await cli_login(capsys, monkeypatch, proxy, scene.me)
    service = MatrixService(MatrixClient.from_session(load_session()), sync_timeout_ms=500)
    service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
    recorder = Recorder()
    task = asyncio.create_task(service.run(recorder))
    try:
        await eventually(lambda: service.status.state is SyncState.LIVE and scene.room in service.account.rooms)
        # Hold the syncs so that the queue, not the sync loop, meets the dead token first.
        proxy.add(Rule(path_contains("/sync", "GET"), times=100, delay=2.0))
        await asyncio.sleep(0.6)
        await in_thread(lambda: scene.me.request("POST", f"{CLIENT_V3}/logout/all", {}))
        first = service.submit(scene.room, ReceiptAction(ActionKind.THREADED, PUB, scene.root))
        assert isinstance(first, ReceiptRequest)
        await eventually(lambda: service.status.state is SyncState.LOGGED_OUT, timeout=15)
        assert "M_UNKNOWN_TOKEN" in service.status.detail
        second = service.submit(scene.room, ReceiptAction(ActionKind.THREADED, PUB, MAIN))
        assert isinstance(second, ReceiptRequest)
        assert service.queued == 2
        assert not recorder.outcomes  # nothing settled, nothing rolled back: kept
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await service.close()
    proxy.rules.clear()
    stored = queue_file()
    assert stored["user_id"] == scene.me.user_id and len(stored["requests"]) == 2
    # The dead session: `readmark logout` clears it locally (the queue is not the session's).
    code, out, err = await run_cli(capsys, monkeypatch, ["logout"])
    assert code == 0 and "already ended on the homeserver" in out, (out, err)
    assert load_session() is None and len(queue_file()["requests"]) == 2
    return first, second


async def test_revoked_token_keeps_receipts_for_the_next_login_of_the_same_user(
    make_actor, synapse, capsys, monkeypatch  # noqa: ANN001
) -> None:
    scene = make_scene(make_actor, replies=1, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        first, second = await revoked_with_two_receipts_queued(scene, proxy, capsys, monkeypatch)
        tried = len(receipts_sent(proxy))
        assert tried == 1  # the one the queue tried with the dead token
        await cli_login(capsys, monkeypatch, proxy, scene.me)
        service = MatrixService(MatrixClient.from_session(load_session()), sync_timeout_ms=500)
        service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            await eventually(lambda: len(recorder.outcomes) == 2, timeout=20)
            assert all(o.accepted for o in recorder.outcomes), recorder.outcomes
            assert {o.request for o in recorder.outcomes} == {first, second}
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.close()
    assert [s.event_id for s in receipts_sent(proxy)[tried:]].count(first.event_id) == 1
    seen = await in_thread(lambda: scene.alice.wait_for(
        lambda: (r := scene.my_receipts_seen_by_witness()) and first.event_id in r and second.event_id in r and r))
    assert seen[first.event_id]["m.read"]["thread_id"] == scene.root


async def test_revoked_token_drops_receipts_for_another_user_with_a_notice(
    make_actor, synapse, capsys, monkeypatch  # noqa: ANN001
) -> None:
    scene = make_scene(make_actor, replies=1, main=1)
    other = make_actor("other")
    async with RecordingProxy(synapse.base_url) as proxy:
        await revoked_with_two_receipts_queued(scene, proxy, capsys, monkeypatch)
        tried = len(receipts_sent(proxy))
        await cli_login(capsys, monkeypatch, proxy, other)
        service = MatrixService(MatrixClient.from_session(load_session()), sync_timeout_ms=500)
        service.session_mode = ReceiptType.PUBLIC  # receipts of both kinds are sent below
        recorder = Recorder()
        task = asyncio.create_task(service.run(recorder))
        try:
            await eventually(lambda: service.status.state is SyncState.LIVE)
            await asyncio.sleep(0.5)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await service.close()
    assert any("dropped 2 queued receipts of another account" in s.detail for s in recorder.statuses), recorder.statuses
    assert receipts_sent(proxy)[tried:] == []  # nothing of the first user's was sent
    assert queue_file() == {"version": 1, "user_id": other.user_id, "requests": []}
    assert await in_thread(lambda: scene.my_receipts_seen_by_witness()) == {}


async def test_the_tui_shows_that_another_users_receipts_were_dropped(
    make_actor, synapse, capsys, monkeypatch  # noqa: ANN001
) -> None:
    scene = make_scene(make_actor, replies=1, main=1)
    other = make_actor("other")
    async with RecordingProxy(synapse.base_url) as proxy:
        await revoked_with_two_receipts_queued(scene, proxy, capsys, monkeypatch)
        await cli_login(capsys, monkeypatch, proxy, other)
        app = RecordingApp(MatrixService(MatrixClient.from_session(load_session()), sync_timeout_ms=500), Settings())
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            await pilot.pause(0.5)
            shown = screen_text(pilot) + "\n".join(f"{title}: {text}" for title, text, _ in app.notified)
            await pilot.press("q")
            await pilot.pause()
    assert "dropped 2 queued receipts" in shown


async def test_soft_logout_is_reported_and_keeps_the_queue(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=1, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        client, _session = await MatrixClient.login(proxy.base_url, scene.me.user_id, password_of(scene.me))
        app = RecordingApp(MatrixService(client, sync_timeout_ms=500), Settings(receipt_mode=PUB))
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            screen = app.screen
            soft = {"errcode": "M_UNKNOWN_TOKEN", "error": "Access token has expired", "soft_logout": True}
            proxy.add(Rule(path_contains("/receipt/", "POST"), times=100, status=401, body=soft))
            proxy.add(Rule(path_contains("/sync", "GET"), times=100, status=401, body=soft))
            await pilot.press("r")
            await until(pilot, lambda: "logged out" in screen.status.sync_text, 15)
            await pilot.pause(1.0)
            assert "logged out" in screen.status.sync_text  # and it stays said
            assert app.service.status.state is SyncState.LOGGED_OUT
            assert "logged out" in screen_text(pilot)
            assert any(title == "Logged out" and "Access token has expired" in text for title, text, _ in app.notified)
            assert app.service.queued == 1 and screen.last_action.outcome == "sent"  # kept, not rolled back
            await pilot.press("q")
            await pilot.pause()
    assert queue_file()["user_id"] == scene.me.user_id and len(queue_file()["requests"]) == 1
    assert await in_thread(lambda: scene.my_receipts_seen_by_witness()) == {}


async def test_after_a_revoked_token_the_tui_offers_to_log_in_again(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=0, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        client, _session = await MatrixClient.login(proxy.base_url, scene.me.user_id, password_of(scene.me))
        app = RecordingApp(MatrixService(client, sync_timeout_ms=500), Settings())
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            await in_thread(lambda: scene.me.request("POST", f"{CLIENT_V3}/logout/all", {}))
            await until(pilot, lambda: "logged out" in app.screen.status.sync_text, 15)
            await pilot.pause(0.3)
            offered = isinstance(app.screen, LoginScreen) or any(
                "log in" in f"{title} {text}".lower() for title, text, _ in app.notified
            )
            await pilot.press("q")
            await pilot.pause()
    assert offered
