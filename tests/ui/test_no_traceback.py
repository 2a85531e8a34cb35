"""An unexpected error inside the TUI reaches the user as one line, never a traceback
(Textual's default prints one with local variables, which could include secrets)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import sys

    from app.logs import setup_logging
    from app.ui.app import ReadmarkApp

    class Broken(ReadmarkApp):
        def on_mount(self) -> None:
            secret = "syt_c2VjcmV0_notatoken_0000"  # a local a traceback would show
            raise RuntimeError(sys.argv[1])

    setup_logging("INFO")
    app = Broken(None)
    app.run(headless=True)
    raise SystemExit(app.return_code)
    """
)


def run_broken_app(message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, message],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "COLUMNS": "400"},  # the one line stays one line
    )


def test_an_unexpected_error_is_one_line_and_logged(xdg_dirs) -> None:
    result = run_broken_app("boom")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "readmark: internal error: RuntimeError: boom" in output
    assert "Traceback" not in output and "syt_" not in output and "secret" not in output
    log = next(xdg_dirs.state.rglob("readmark.log")).read_text()
    assert "RuntimeError: boom" in log and "Traceback" in log


def test_the_line_is_redacted_and_cannot_drive_the_terminal(xdg_dirs) -> None:
    token = "syt_bWVAbG9jYWxob3N0_KrPxWqTmNbVcZyXwLuE_0a1b2c"
    # An OSC title change, a colour and a bell, as a server's error text could carry them.
    result = run_broken_app(f"bad answer for {token}: \x1b]0;pwned\x07\x1b[31mred\nsecond line")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert token not in output and "syt_" not in output
    assert "\x1b" not in output and "\x07" not in output
    [line] = [line for line in output.splitlines() if line.startswith("readmark: ")]
    assert line.startswith("readmark: internal error: RuntimeError: bad answer for <redacted>: ")
    assert "\\x1b]0;pwned\\x07\\x1b[31mred second line" in line
