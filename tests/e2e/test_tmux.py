"""readmark in a real terminal, as a person uses it: tmux runs the installed command (the
``readmark`` console script beside this interpreter, the one ``pip install`` made; only
when that script is missing, ``python -m app``), send-keys types, capture-pane reads the
screen, and a second user checks what the homeserver received."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from app.matrix.session import save_session
from app.model.ids import MAIN

from tests.matrix.helpers import session_of

pytestmark = [pytest.mark.synapse, pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")]

_CONSOLE_SCRIPT = Path(sys.executable).with_name("readmark")
README_COMMAND = [str(_CONSOLE_SCRIPT)] if _CONSOLE_SCRIPT.is_file() else [sys.executable, "-m", "app"]


class Terminal:
    def __init__(self, command: list[str], env: dict[str, str], width: int = 150, height: int = 40) -> None:
        self.socket = f"readmark-e2e-{uuid.uuid4().hex[:8]}"
        # COLUMNS and LINES would fix Textual's size whatever the pane's (pytest-xdist's
        # workers set them to 80x24): the terminal's own size is what a person has.
        env = {name: value for name, value in env.items() if name not in ("COLUMNS", "LINES")}
        self.env = env
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
             "-s", "e2e", *[f"-e{k}={v}" for k, v in env.items() if k.startswith(("XDG_", "HOME", "READMARK"))],
             " ".join(command)],
            check=True,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        )

    def screen(self) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "capture-pane", "-p", "-t", "e2e"], capture_output=True, text=True
        )
        return result.stdout

    def press(self, *keys: str) -> None:
        for key in keys:
            subprocess.run(["tmux", "-L", self.socket, "send-keys", "-t", "e2e", key], check=True)
            time.sleep(0.15)

    def wait_for(self, predicate: Callable[[str], bool], what: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"screen never showed {what}:\n{screen}")

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "e2e"], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def has_count(row: str, count: str) -> bool:
    """``count`` stands alone in the row: ``5`` is not found in ``15``, ``50`` or ``🧵5``."""
    return re.search(rf"(?<!\S){re.escape(count)}(?!\S)", row) is not None


def line_with(screen: str, name: str) -> str:
    """The rooms pane's row for a room (the pane is the left-most column)."""
    for line in screen.splitlines():
        rooms_column = line.split("││")[0]
        if f" {name} " in rooms_column and "Rooms" not in rooms_column:
            return rooms_column
    return ""


def test_a_person_triages_in_a_real_terminal(make_actor, xdg_dirs) -> None:
    me, alice = make_actor("me"), make_actor("alice")
    ops = alice.create_room("Ops", invite=[me.user_id])
    me.join(ops)
    root = alice.send_text(ops, "Deploy plan for Friday")
    replies = [alice.send_thread_reply(ops, root, text) for text in ("I can take the DB part", "done with DB")]
    alice.send_text(ops, "standup moved to 10:30", mentions=[me.user_id])
    latest_main = alice.send_text(ops, "who has the pager?")
    quiet = alice.create_room("Quiet", invite=[me.user_id])
    me.join(quiet)
    save_session(session_of(me))

    terminal = Terminal([*README_COMMAND], dict(os.environ))
    try:
        screen = terminal.wait_for(lambda s: "Ops" in s and "PRIVATE" in s and "live" in s, "the rooms, live")
        ops_row = line_with(screen, "Ops")
        assert has_count(ops_row, "5") and has_count(ops_row, "@1"), ops_row  # 3 main + 2 in the thread, one mention

        # p: the mode is loud on screen.
        terminal.press("p")
        terminal.wait_for(lambda s: "PUBLIC" in s and "PRIVATE" not in s, "PUBLIC")

        # r on the selected room's main timeline: a public threaded receipt on main.
        terminal.press("r")
        terminal.wait_for(lambda s: "public receipt" in s, "the status line naming the receipt")
        seen = alice.wait_for(lambda: alice.room_receipts(ops).get(latest_main, {}).get("m.read", {}).get(me.user_id))
        assert seen["thread_id"] == MAIN

        # n jumps to the unread thread; r reads it, threaded.
        terminal.press("n")
        terminal.wait_for(lambda s: "Deploy plan" in s, "the thread")
        terminal.press("r")
        seen = alice.wait_for(lambda: alice.room_receipts(ops).get(replies[-1], {}).get("m.read", {}).get(me.user_id))
        assert seen["thread_id"] == root
        calm = terminal.wait_for(
            lambda s: line_with(s, "Ops") and not any(c.isdigit() for c in line_with(s, "Ops")),
            "Ops calm: nothing unread",
        )
        assert "@" not in line_with(calm, "Ops")

        # A new message arrives live; R reads the whole room, unthreaded.
        newest = alice.send_text(ops, "pager is with Bob")
        terminal.wait_for(lambda s: has_count(line_with(s, "Ops"), "1"), "the new message counted")
        terminal.press("R")
        seen = alice.wait_for(lambda: alice.room_receipts(ops).get(newest, {}).get("m.read", {}).get(me.user_id))
        assert "thread_id" not in seen

        # f moves the fully-read marker to the room's latest event.
        terminal.press("f")
        assert me.wait_for(lambda: me.fully_read(ops) == newest)

        # q quits; the terminal session ends with the program.
        terminal.press("q")
        deadline = time.monotonic() + 10
        while terminal.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not terminal.alive()
    finally:
        terminal.close()
