"""The help's key tables: every line fits the width it is drawn at, a long text hangs
under itself, and a key wider than the key column widens its own entry."""

from __future__ import annotations

from textual.content import Content

from app.ui.screens.help import KEY_WIDTH, KeyTable


def test_lines_fit_and_hang_under_the_text() -> None:
    entries = [
        ("receipt.thread", "r", Content("read receipt " * 12 + " [receipt.thread]\nsends: POST /rooms/{room}/receipt")),
        ("cursor.down", "j, ↓, ctrl+n, ctrl+down, shift+j", Content("down  [cursor.down]\nsends: nothing")),
    ]
    table = KeyTable(Content("Group"), entries)
    for width in (100, 60, 40):
        lines = table._lines(width)
        assert lines[0].plain == "Group"
        assert all(line.cell_length <= width for line in lines), width
        assert lines[1].plain.startswith("r" + " " * (KEY_WIDTH - 1) + "read receipt")
        assert lines[2].plain.startswith(" " * KEY_WIDTH) and lines[2].plain.strip()
        wide = [line.plain for line in lines if line.plain.startswith("j, ↓")]
        assert len(wide) == 1 and wide[0].startswith("j, ↓, ctrl+n, ctrl+down, shift+j down")
        if width == 100:
            assert wide == ["j, ↓, ctrl+n, ctrl+down, shift+j down  [cursor.down]"]
