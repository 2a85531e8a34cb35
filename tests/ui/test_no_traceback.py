"""An unexpected error inside the TUI reaches the user as one line, never a traceback
(Textual's default prints one with local variables, which could include secrets)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    from app.logs import setup_logging
    from app.ui.app import ReadmarkApp

    class Broken(ReadmarkApp):
        def on_mount(self) -> None:
            secret = "syt_c2VjcmV0_notatoken_0000"  # a local a traceback would show
            raise RuntimeError("boom")

    setup_logging("INFO")
    app = Broken(None)
    app.run(headless=True)
    raise SystemExit(app.return_code)
    """
)


def test_an_unexpected_error_is_one_line_and_logged(xdg_dirs) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "readmark: internal error: RuntimeError: boom" in output
    assert "Traceback" not in output and "syt_" not in output and "secret" not in output
    log = next(xdg_dirs.state.rglob("readmark.log")).read_text()
    assert "RuntimeError: boom" in log and "Traceback" in log
