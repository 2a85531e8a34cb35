"""Signals and secrets: SIGTERM and SIGHUP end the TUI the way ``q`` does, giving the
terminal back (main screen, mouse reporting off) in a real terminal (tmux, as in
``tests/e2e/test_tmux.py``); and a readmark process never dumps core, whatever limit it
was started with (``/proc/PID/limits``), so no core file holds its access token."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from app.matrix.session import Session, save_session
from tests.matrix.helpers import session_of

pytestmark = pytest.mark.faults
REPO = Path(__file__).resolve().parents[2]


def core_limit_raised() -> None:
    """For a child: a core limit readmark has to lower (the test process may run with a
    soft limit of 0, as this machine's shells do)."""
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


@pytest.fixture(autouse=True)
def a_core_limit_to_lower() -> None:
    if resource.getrlimit(resource.RLIMIT_CORE)[1] == 0:
        pytest.skip("the test process's hard core limit is 0: nothing for readmark to lower")


def core_limit_of(pid: int) -> tuple[str, str]:
    """(soft, hard) of "Max core file size" in /proc/PID/limits."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max core file size"):
            soft, hard = line[len("Max core file size"):].split()[:2]
            return soft, hard
    raise AssertionError(f"no core limit for {pid}")


def children_of(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


class Pane:
    """One tmux pane running a shell that runs readmark, then says how it ended and
    stays: what a person sees after the program is gone."""

    def __init__(self, env: dict[str, str], width: int = 150, height: int = 40) -> None:
        self.socket = f"readmark-signals-{uuid.uuid4().hex[:8]}"
        command = f"{shlex.join([sys.executable, '-m', 'app'])}; echo readmark exited $?; exec sleep 600"
        passed = [f"-e{k}={v}" for k, v in env.items() if k.startswith(("XDG_", "HOME", "READMARK"))]
        subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", "new-session", "-d", "-x", str(width), "-y", str(height),
             "-s", "sig", "-c", str(REPO), *passed, "sh", "-c", command],
            check=True, env=env, cwd=REPO, preexec_fn=core_limit_raised,
        )

    def tmux(self, *argv: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *argv], capture_output=True, text=True, check=True).stdout

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "sig")

    def flag(self, name: str) -> str:
        return self.tmux("display", "-p", "-t", "sig", f"#{{{name}}}").strip()

    def shell_pid(self) -> int:
        return int(self.flag("pane_pid"))

    def wait_for(self, check: Callable[[], object], what: str, timeout: float = 20.0) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"never saw {what}:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.mark.synapse
@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_quit_signal_gives_the_terminal_back_like_q(signum, make_actor, xdg_dirs) -> None:  # noqa: ANN001
    me, alice = make_actor("me"), make_actor("alice")
    room = alice.create_room("Ops", invite=[me.user_id])
    me.join(room)
    alice.send_text(room, "standup moved to 10:30")
    save_session(session_of(me))

    pane = Pane(dict(os.environ))
    try:
        pane.wait_for(lambda: "Ops" in pane.screen() and "live" in pane.screen(), "the TUI, live")
        shell = pane.shell_pid()
        (readmark,) = children_of(shell)
        # The terminal as the TUI holds it, so the checks below can fail.
        assert (pane.flag("alternate_on"), pane.flag("mouse_any_flag")) == ("1", "1")
        # Started with a core limit (the shell has it), readmark has none to dump.
        assert core_limit_of(shell) != ("0", "0")
        assert core_limit_of(readmark) == ("0", "0")

        os.kill(readmark, signum)
        screen = str(pane.wait_for(lambda: "readmark exited" in pane.screen() and pane.screen(), "readmark gone"))
        assert f"readmark exited {128 + signum}" in screen, screen
        assert (pane.flag("alternate_on"), pane.flag("mouse_any_flag")) == ("0", "0")
        assert "Ops" not in screen  # the shell's screen, not the TUI's last frame
    finally:
        pane.close()


def test_a_one_shot_command_has_no_core_limit_either(xdg_dirs) -> None:  # noqa: ANN001
    """``readmark status`` waiting on a server that accepts and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        port = listener.getsockname()[1]
        save_session(Session(f"http://127.0.0.1:{port}", "@me:localhost", "DEVICE", "syt_never_used_token"))
        process = subprocess.Popen([sys.executable, "-m", "app", "status"], cwd=REPO, env=os.environ.copy(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=core_limit_raised)
        try:
            deadline = time.monotonic() + 15
            connected = False
            while not connected and time.monotonic() < deadline:
                listener.settimeout(0.2)
                try:
                    connection, _ = listener.accept()  # it got as far as its first request
                    connected = True
                except TimeoutError:
                    assert process.poll() is None, process.communicate()
            assert connected
            limits = core_limit_of(process.pid)
            connection.close()
        finally:
            process.kill()
            process.communicate()
    finally:
        listener.close()
    assert limits == ("0", "0")
