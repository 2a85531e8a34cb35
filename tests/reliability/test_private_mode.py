"""Private mode never sends ``m.read``, by any path: the keys r, R, a and f, every
command-palette entry (the public variants included: they must refuse), retries after
429, 5xx, resets and a refusal, and the CLI's ``mark`` defaults. Every request to the
server is recorded by the proxy and checked; the witness sees no public receipt of mine.
(A server without private receipts, where nothing may fall back to public, is
``tests/matrix/test_live_synapse.py``.)"""

from __future__ import annotations

import asyncio

import pytest

from app import cli
from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.session import Session, save_session
from app.model.receipts import ReceiptType
from app.ui.commands import main_screen_commands
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import in_thread
from tests.reliability.helpers import RecordingProxy, Rule, make_scene, path_contains, receipts_sent, until
from tests.ui.helpers import RecordingApp

pytestmark = [pytest.mark.faults, pytest.mark.synapse]


def no_public_receipt(proxy: RecordingProxy) -> None:
    for seen in proxy.seen:
        if seen.method == "POST" and ("/receipt/m.read/" in seen.path_qs or b'"m.read"' in seen.body):
            raise AssertionError(f"a public receipt went out: {seen.method} {seen.path_qs} {seen.body!r}")


async def test_no_code_path_sends_m_read_in_private_mode(make_actor, synapse, capsys) -> None:  # noqa: ANN001
    scene = make_scene(make_actor, replies=2, main=2)
    second_root = scene.alice.send_text(scene.room, "Second thread")
    scene.alice.send_thread_reply(scene.room, second_root, "its reply")
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        # Retries everywhere: each receipt or marker path meets a 429, a 503 and a reset.
        for fragment in ("/receipt/", "/read_markers"):
            proxy.add(Rule(path_contains(fragment, "POST"), times=1, status=429,
                           body={"errcode": "M_LIMIT_EXCEEDED", "error": "slow", "retry_after_ms": 100}))
            proxy.add(Rule(path_contains(fragment, "POST"), times=1, status=503, body={"error": "busy"}))
            proxy.add(Rule(path_contains(fragment, "POST"), times=1, reset=True))
        service = MatrixService(MatrixClient.from_session(session), sync_timeout_ms=500)
        app = RecordingApp(service, Settings(receipt_mode=ReceiptType.PRIVATE))
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            screen = app.screen
            assert "PRIVATE" in screen.status.mode_text.upper()

            async def fresh_message(text: str) -> None:
                event = await in_thread(lambda: scene.alice.send_text(scene.room, text))
                await until(pilot, lambda: service.account.rooms[scene.room].event(event))

            # The keys, in the rooms pane and in the timeline.
            await pilot.press("r")
            await fresh_message("one")
            await pilot.press("R")
            await fresh_message("two")
            await pilot.press("a")  # read and next: now in a thread
            await pilot.press("a")
            await fresh_message("three")
            await pilot.press("f")
            await pilot.press("tab", "tab", "G", "r", "f")
            # Every palette entry that can send something, private and public variants.
            await fresh_message("four")
            def refusals() -> int:
                return sum("a public receipt needs PUBLIC mode" in text for _, text, _ in app.notified)

            ran = 0
            for command in main_screen_commands(screen):
                if command.binding_id and command.binding_id.split(".")[0] in ("receipt", "marker"):
                    before = refusals()
                    command.run()
                    ran += 1
                    # A public variant refuses, saying why; a private one does not.
                    assert refusals() == before + ("needs PUBLIC mode" in command.title), command.title
                    await fresh_message(f"after {command.title}")
            assert ran == 12 and refusals() == 4  # the three bulk reads among them, private too
            # And one public variant through the palette itself.
            await pilot.press("ctrl+p")
            await pilot.press(*"Read room: public")
            await pilot.press("enter")
            await until(pilot, lambda: screen.last_action.outcome == "refused")
            assert "press p" in screen.last_action.text
            await until(pilot, lambda: service.queued == 0, 30, "every receipt settled")
            await pilot.press("q")
            await pilot.pause()

        # The CLI's defaults (no --public, no config): private everywhere.
        save_session(session)
        for argv in (["mark", scene.room], ["mark", scene.room, "--unthreaded"],
                     ["mark", scene.room, "--thread", scene.root], ["mark", scene.room, "--fully-read", "--with-receipt"]):
            if "--thread" in argv:
                await in_thread(lambda: scene.alice.send_thread_reply(scene.room, scene.root, "for the cli"))
            else:
                await in_thread(lambda: scene.alice.send_text(scene.room, "for the cli"))
            for _ in range(10):  # Synapse may take a moment to put the new message in a sync
                code = await asyncio.to_thread(cli.main, argv)
                out, err = capsys.readouterr()
                if "already read" not in err:
                    break
                await asyncio.sleep(0.2)
            assert code == 0, (argv, err)
            assert "public" not in out

    no_public_receipt(proxy)
    kinds = {s.receipt_type for s in receipts_sent(proxy)}
    assert kinds == {"m.read.private", "m.fully_read"}, kinds
    private = [s for s in receipts_sent(proxy) if s.receipt_type == "m.read.private"]
    assert len({(s.thread, s.event_id) for s in private}) >= 8  # the paths above really sent
    assert any(s.via == "read_markers" for s in private)  # f with a receipt, through /read_markers
    retried = [i for i, seen in enumerate(proxy.seen) if proxy.status_of(i) in (0, 429, 503) and seen.method == "POST"]
    assert len(retried) == 6  # the retries happened, and stayed private
    # The witness sees no receipt of mine at all; my own sync has the private ones.
    assert await in_thread(lambda: scene.my_receipts_seen_by_witness()) == {}
    mine = await in_thread(lambda: scene.me.room_receipts(scene.room))
    assert any(scene.me.user_id in by_type.get("m.read.private", {}) for by_type in mine.values())
