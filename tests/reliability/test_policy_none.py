"""A room whose policy is ``none`` (a rule in config.toml), in the TUI on the real Synapse
behind a recording proxy: r, R, a and every palette receipt entry send nothing (the proxy
sees no receipt, the witness none), f moves the fully-read marker alone, and the status
line says NONE and the rule."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.session import Session
from app.model.policy import Mode, PolicyRule
from app.model.receipts import ReceiptType
from app.ui.commands import main_screen_commands
from app.ui.screens.main import MainScreen
from tests.reliability.helpers import RecordingProxy, make_scene, receipts_sent, until

pytestmark = [pytest.mark.faults, pytest.mark.synapse]


async def test_a_none_room_sends_no_receipt_from_any_key_and_f_moves_the_marker(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=2, main=2)
    settings = Settings(receipt_mode=ReceiptType.PUBLIC, rules=(PolicyRule("room", scene.room, Mode.NONE),))
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session), sync_timeout_ms=500)
        from tests.ui.helpers import RecordingApp

        app = RecordingApp(service, settings)
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            screen = app.screen
            screen.select(scene.room)
            await pilot.pause()
            assert screen.status.mode_text == f"NONE · rule: room {scene.room}"
            await pilot.press("r", "R", "a", "A")
            await pilot.press("tab", "tab", "G", "r")
            await pilot.pause()
            for command in main_screen_commands(screen):
                if command.binding_id and command.binding_id.split(".")[0] == "receipt":
                    command.run()
                    await pilot.pause()
            assert all(sent.via != "receipt" for sent in receipts_sent(proxy))
            await pilot.press("f")
            await until(pilot, lambda: any(sent.via == "read_markers" for sent in receipts_sent(proxy)), 10)
            await until(pilot, lambda: service.queued == 0, 10)
        markers = [sent for sent in receipts_sent(proxy)]
        # One read_markers request, with m.fully_read only: no m.read, no m.read.private.
        assert {sent.receipt_type for sent in markers} == {"m.fully_read"}
    assert scene.me.fully_read(scene.room) == markers[-1].event_id
    receipts = scene.alice.room_receipts(scene.room)
    assert all(scene.me.user_id not in by_user for by_type in receipts.values() for by_user in by_type.values())
