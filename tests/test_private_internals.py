"""Private names of Textual, asyncio and matrix-nio are used in one module per framework:
``app/ui/textual_internals.py``, ``app/matrix/asyncio_internals.py`` and
``app/matrix/nio_internals.py``, each use with
the reason no public API does it and the test that fails when the framework changes.
A framework upgrade then means reading those two files, not the whole app.

The names are the ones readmark has used (some are replaced by public API now and must
not come back elsewhere). Names in code are read as tokens, so prose that mentions one
in a docstring is no use; a name as a string (``getattr(app, "_keymap")``) counts."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"
TEXTUAL_INTERNALS = APP / "ui" / "textual_internals.py"
ASYNCIO_INTERNALS = APP / "matrix" / "asyncio_internals.py"
NIO_INTERNALS = APP / "matrix" / "nio_internals.py"
INTERNALS = (TEXTUAL_INTERNALS, ASYNCIO_INTERNALS, NIO_INTERNALS)

# Still used, each in its module.
TEXTUAL_PRIVATE = {"_push_result_callback", "_fatal_error", "_exception", "_scroll_update", "_styles_cache"}
ASYNCIO_PRIVATE = {"_enter_task", "_leave_task", "_Started"}
NIO_PRIVATE = {"_account"}
# Replaced by public API: App.panic, the settings' [keys] table, SteadyFooter's own
# flag, on_click with prevent_default, get_visual_style and Style.parse.
REPLACED = {
    "_exit_renderables",
    "_close_messages_no_wait",
    "_keymap",
    "_bindings_ready",
    "_on_click",
    "_get_style",
    "_eager_task",
}
KNOWN = TEXTUAL_PRIVATE | ASYNCIO_PRIVATE | NIO_PRIVATE | REPLACED


def names_in_code(path: Path) -> set[str]:
    """Identifiers, and string literals that are exactly an identifier, in ``path``."""
    found: set[str] = set()
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline)
    for token in tokens:
        if token.type == tokenize.NAME:
            found.add(token.string)
        elif token.type == tokenize.STRING:
            text = token.string.strip("'\"rbuRBU")
            if text.isidentifier():
                found.add(text)
    return found


def uses() -> dict[Path, set[str]]:
    return {path: names_in_code(path) & KNOWN for path in sorted(APP.rglob("*.py"))}


def test_private_framework_names_appear_only_in_the_internals_modules() -> None:
    misplaced = {
        str(path.relative_to(APP.parent)): sorted(names)
        for path, names in uses().items()
        if names and path not in INTERNALS
    }
    assert misplaced == {}


@pytest.mark.parametrize(
    ("module", "expected"),
    [(TEXTUAL_INTERNALS, TEXTUAL_PRIVATE), (ASYNCIO_INTERNALS, ASYNCIO_PRIVATE), (NIO_INTERNALS, NIO_PRIVATE)],
    ids=["textual", "asyncio", "nio"],
)
def test_each_internals_module_holds_its_frameworks_names(module: Path, expected: set[str]) -> None:
    # The lists above stay true: a name no longer used leaves them (or moves to REPLACED).
    assert names_in_code(module) & KNOWN == expected


def test_no_module_imports_a_private_framework_module_but_the_internals() -> None:
    private_imports = {}
    for path in sorted(APP.rglob("*.py")):
        if path in INTERNALS:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith(("from textual._", "import textual._", "from asyncio.tasks import _", "from nio._")):
                private_imports[f"{path.relative_to(APP.parent)}:{number}"] = stripped
    assert private_imports == {}
