"""The receipt log (``app/store/receipt_log.py``) as the TUI writes it: receipts sent from
keys in a Pilot-driven TUI on the real ``MatrixService`` and Synapse are appended, once the
server accepted each, one JSON line per receipt with its time, room, thread, type and
event (IDs and times only, never message text), to a file of mode 0600 in the state
directory. (``readmark mark``'s own record is ``tests/test_cli_audit.py``.)"""

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.model.ids import MAIN
from app.model.receipts import ReceiptType
from app.store import receipt_log
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import session_of
from tests.reliability.helpers import make_scene, until
from tests.ui.helpers import RecordingApp

pytestmark = pytest.mark.synapse


@pytest.fixture
def loose_umask():
    """A umask that would leave a new file world-readable: the log must be 0600 anyway."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def logged_lines() -> list[dict]:
    path = receipt_log.log_path()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


async def test_receipts_the_tui_sends_are_appended_to_the_receipt_log(make_actor, xdg_dirs, loose_umask) -> None:
    scene = make_scene(make_actor, name="Ops", replies=2, main=2)
    path = receipt_log.log_path()
    assert path.parent == xdg_dirs.state / "readmark" and not path.exists()
    before = int(time.time() * 1000)
    app = RecordingApp(MatrixService(MatrixClient.from_session(session_of(scene.me)), sync_timeout_ms=300),
                       Settings(receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and scene.room in app.screen.rooms.keys
                    and app.screen.status.sync_text.endswith("live"), 30, "the room, live")
        screen = app.screen
        # r on the main timeline, r in the thread (private), then p and R (public, unthreaded):
        # each waits for its line, so the order on disk is the order sent.
        screen.select(scene.room, MAIN)
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: len(logged_lines()) == 1, 20, "the first line")
        screen.select(scene.room, scene.root)
        await pilot.pause()
        await pilot.press("r")
        await until(pilot, lambda: len(logged_lines()) == 2, 20, "the thread's line")
        await pilot.press("p")
        await pilot.pause()
        assert screen.status.mode_text == "PUBLIC"
        await pilot.press("R")
        await until(pilot, lambda: len(logged_lines()) == 3, 20, "the room's line")
        await until(pilot, lambda: screen.service.queued == 0, 20, "nothing left queued")
        await pilot.press("q")
        await pilot.pause()
    after = int(time.time() * 1000)

    lines = logged_lines()
    assert [{k: v for k, v in line.items() if k != "ts"} for line in lines] == [
        {"room": scene.room, "thread": MAIN, "type": "m.read.private", "event": scene.main[-1]},
        {"room": scene.room, "thread": scene.root, "type": "m.read.private", "event": scene.replies[-1]},
        {"room": scene.room, "thread": None, "type": "m.read", "event": scene.main[-1]},
    ]
    assert all(set(line) == {"ts", "room", "thread", "type", "event"} for line in lines)
    times = [line["ts"] for line in lines]
    assert before <= times[0] <= times[1] <= times[2] <= after
    # The server accepted each: my receipts as the witness reads them.
    seen = scene.my_receipts_seen_by_witness()
    assert "m.read" in seen.get(scene.main[-1], {})
    assert all("m.read.private" not in by_type for by_type in seen.values())
    # What the audit reads back, and the file's mode whatever the umask.
    assert [(e.room_id, e.thread_id, e.receipt_type, e.event_id) for e in receipt_log.read()] == [
        (scene.room, MAIN, ReceiptType.PRIVATE, scene.main[-1]),
        (scene.room, scene.root, ReceiptType.PRIVATE, scene.replies[-1]),
        (scene.room, None, ReceiptType.PUBLIC, scene.main[-1]),
    ]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "Deploy plan" not in text and "step 1" not in text and "main 1" not in text
