"""Imports point one way: model <- matrix <- ui <- cli. Checked in fresh interpreters."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


def modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize(
    "module",
    [
        "app.model",
        "app.model.account",
        "app.model.plan",
        "app.model.sending",
        "app.model.unread",
        "app.model.names",
        "app.model.ids",
        "app.model.edits",
        "app.model.event_text",
        "app.model.push",
    ],
)
def test_model_imports_neither_nio_nor_textual_nor_io_layers(module: str) -> None:
    loaded = modules_after_import(module)
    assert not {"nio", "textual", "aiohttp", "sqlite3"} & top_level(loaded)
    assert not {m for m in loaded if m.startswith(("app.matrix", "app.ui", "app.store", "app.cli"))}


def test_the_core_does_no_io_and_no_waiting() -> None:
    """The read-state core decides; the service around it waits and sends."""
    loaded = modules_after_import("app.matrix.core")
    assert not {"asyncio", "nio", "textual", "aiohttp", "sqlite3"} & top_level(loaded)
    io_layers = ("app.store", "app.ui", "app.cli", "app.matrix.client", "app.matrix.queue", "app.matrix.service")
    assert not {m for m in loaded if m.startswith(io_layers)}


@pytest.mark.parametrize(
    "module",
    [
        "app.matrix.service",
        "app.matrix.core",
        "app.matrix.client",
        "app.matrix.translate",
        "app.matrix.wire_events",
        "app.matrix.naming",
        "app.matrix.wire",
        "app.matrix.answers",
        "app.matrix.crypto",
        "app.matrix.queue",
        "app.matrix.key_export",
        "app.matrix.secrets",
        "app.store.cache",
        "app.commands",
        "app.config",
        "app.logs",
    ],
)
def test_layers_below_the_ui_import_neither_textual_nor_the_ui(module: str) -> None:
    loaded = modules_after_import(module)
    assert "textual" not in top_level(loaded)
    assert not {m for m in loaded if m in ("app.ui", "app.cli") or m.startswith(("app.ui.", "app.cli."))}


@pytest.mark.parametrize("module", ["app.matrix.translate", "app.matrix.wire_events", "app.store.cache"])
def test_the_sync_translation_and_the_cache_are_pure_of_nio(module: str) -> None:
    """Sync JSON to model is a pure function: nio and the network are the client's."""
    assert not {"nio", "aiohttp"} & top_level(modules_after_import(module))


def test_the_key_export_format_is_pure() -> None:
    """Reading and writing Element's key files needs neither nio nor I/O nor an event loop."""
    loaded = modules_after_import("app.matrix.key_export")
    assert not {"nio", "aiohttp", "asyncio", "sqlite3", "textual"} & top_level(loaded)
    assert {m for m in loaded if m.startswith("app.")} == {"app.matrix", "app.matrix.key_export"}


def test_the_secret_storage_crypto_is_pure() -> None:
    """Recovery keys, 4S, signatures and backup session data need no nio, no I/O, no loop."""
    loaded = modules_after_import("app.matrix.secrets")
    assert not {"nio", "aiohttp", "asyncio", "sqlite3", "textual"} & top_level(loaded)
    assert {m for m in loaded if m.startswith("app.")} == {"app.matrix", "app.matrix.secrets"}


def test_the_cli_loads_textual_and_nio_only_for_the_commands_that_need_them() -> None:
    loaded = modules_after_import("app.cli")
    assert not {"textual", "nio", "aiohttp"} & top_level(loaded)
    assert not {m for m in loaded if m == "app.ui" or m.startswith("app.ui.")}


# `import nio`, `from textual.widgets import X`, and the dynamic forms:
# importlib.import_module("nio"), asyncio.to_thread(importlib.import_module, "nio"),
# __import__("textual.app").
_STATIC_IMPORT = re.compile(r"^\s*(?:import|from)\s+([\w.]+)")
_DYNAMIC_IMPORT = re.compile(r"""(?:import_module|__import__)\b[^"'\n]*["']([\w.]+)["']""")
_HOME = {"nio": "matrix/", "textual": "ui/"}


def _imports_in(text: str) -> list[tuple[str, str]]:
    """(top-level package, line) for every import the source makes, static or dynamic."""
    found = []
    for line in text.splitlines():
        for pattern in (_STATIC_IMPORT, _DYNAMIC_IMPORT):
            for match in pattern.finditer(line):
                found.append((match.group(1).split(".")[0], line.strip()))
    return found


def test_the_scan_sees_dynamic_imports() -> None:
    source = "\n".join([
        "import nio",
        "    from textual.widgets import Static",
        "x = importlib.import_module('nio')",
        'await asyncio.to_thread(importlib.import_module, "nio")',
        '__import__("textual.app")',
        'print("import nio")',
    ])
    assert [package for package, _ in _imports_in(source)] == ["nio", "textual", "nio", "nio", "textual"]


def test_source_tree_keeps_nio_and_textual_in_their_packages() -> None:
    root = Path(__file__).resolve().parents[1] / "app"
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        for package, line in _imports_in(path.read_text(encoding="utf-8")):
            home = _HOME.get(package)
            if home is not None and not rel.startswith(home):
                offenders.append(f"{rel}: {line}")
    assert offenders == []
