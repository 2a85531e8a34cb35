"""A room's receipt mode set with ``P`` in the TUI, on the real service and Synapse, is what
a second readmark profile of the same user reads: another login (its own device and XDG
directories, through ``readmark login``) whose ``readmark status --json`` says the room's
``receipt_policy`` is that mode, decided by ``this room``. The second profile has no
config and shares no file with the first, so the room's account data is the only way the
mode can reach it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.model.receipts import ReceiptType
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import session_of
from tests.reliability.helpers import until
from tests.ui.helpers import RecordingApp

pytestmark = pytest.mark.synapse
REPO = Path(__file__).resolve().parents[2]


def second_profile(tmp_path: Path) -> dict[str, str]:
    """The environment of a readmark profile of its own: every XDG directory apart."""
    env = os.environ.copy()
    root = tmp_path / "second-profile"
    for variable, name in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                           ("XDG_STATE_HOME", "state"), ("XDG_CACHE_HOME", "cache")):
        (root / name).mkdir(parents=True)
        env[variable] = str(root / name)
    return env


def readmark(env: dict[str, str], *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *argv], input=stdin, capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)


async def test_a_mode_set_with_P_is_read_by_a_second_profile_from_account_data(
    make_actor, synapse, tmp_path, xdg_dirs
) -> None:
    alice, me = make_actor("alice"), make_actor("me")
    room_id = alice.create_room("Standup", invite=[me.user_id])
    me.join(room_id)
    alice.send_text(room_id, "what did you do yesterday")
    env = second_profile(tmp_path)
    assert env["XDG_STATE_HOME"] != str(xdg_dirs.state) and env["XDG_DATA_HOME"] != str(xdg_dirs.data)

    app = RecordingApp(MatrixService(MatrixClient.from_session(session_of(me)), sync_timeout_ms=300),
                       Settings(receipt_mode=ReceiptType.PRIVATE))
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and room_id in app.screen.rooms.keys
                    and app.screen.status.sync_text.endswith("live"), 30, "the room, live")
        screen = app.screen
        screen.select(room_id)
        await pilot.pause()
        assert screen.status.mode_text == "PRIVATE"
        # P steps private, then public: public is neither the second profile's default
        # (private) nor what it would show if nothing reached the server.
        for shown in ("PRIVATE", "PUBLIC"):
            await pilot.press("P")
            await until(pilot, lambda: screen.last_action.outcome == "settled"
                        and screen.last_action.text == f"Standup: {shown} for every readmark of yours"
                        and screen.status.mode_text == f"{shown} · this room", 20, f"{shown} set")

        # The second profile, while the first still runs: its own login, then status.
        localpart = me.user_id[1:].split(":", 1)[0]
        login = await asyncio.to_thread(
            readmark, env, "login", "--homeserver", synapse.base_url, "--user", me.user_id, "--password-stdin",
            stdin=f"pw-{localpart}\n",
        )
        assert login.returncode == 0, login.stderr
        assert login.stdout.startswith(f"logged in as {me.user_id} (device ")
        assert f"(device {me.device_id})" not in login.stdout  # another device
        status = await asyncio.to_thread(readmark, env, "status", "--json")
        assert status.returncode == 0, status.stderr
        rooms = {room["room_id"]: room for room in json.loads(status.stdout)["rooms"]}
        assert rooms[room_id]["receipt_policy"] == {"mode": "public", "rule": "this room"}
        await pilot.press("q")
        await pilot.pause()
