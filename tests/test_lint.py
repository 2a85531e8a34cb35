"""pyflakes-level lint over the whole tree: undefined names, unused imports and variables,
syntax errors. An undefined name in a code path no test runs is a NameError waiting for a
user (one reached a background task once); ``ruff check --select F,E9`` finds it statically."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed (pip install -e '.[dev]')")
def test_ruff_finds_no_undefined_names_or_unused_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--select", "F,E9", "--output-format", "concise",
         "--no-cache", "app", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
