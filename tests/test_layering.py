"""Imports point one way: model <- matrix <- ui <- cli. Checked in fresh interpreters."""

from __future__ import annotations

import subprocess
import sys

import pytest


def modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def top_level(names: set[str]) -> set[str]:
    return {name.split(".")[0] for name in names}


@pytest.mark.parametrize(
    "module",
    ["app.model", "app.model.account", "app.model.plan", "app.model.unread", "app.model.names"],
)
def test_model_imports_neither_nio_nor_textual_nor_io_layers(module: str) -> None:
    loaded = modules_after_import(module)
    assert not {"nio", "textual", "aiohttp", "sqlite3"} & top_level(loaded)
    assert not {m for m in loaded if m.startswith(("app.matrix", "app.ui", "app.store", "app.cli"))}


def test_matrix_layer_does_not_import_textual() -> None:
    loaded = modules_after_import("app.matrix.service")
    assert "textual" not in top_level(loaded)
    assert not {m for m in loaded if m.startswith(("app.ui", "app.cli"))}


def test_source_tree_keeps_nio_and_textual_in_their_packages() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "app"
    offenders = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped.startswith(("import ", "from ")):
                continue
            words = stripped.replace(",", " ").split()
            target = words[1]
            if target.split(".")[0] == "nio" and not rel.startswith("matrix/"):
                offenders.append(f"{rel}: {stripped}")
            if target.split(".")[0] == "textual" and not rel.startswith("ui/"):
                offenders.append(f"{rel}: {stripped}")
    assert offenders == []
