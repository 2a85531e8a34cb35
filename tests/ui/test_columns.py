"""``columns`` builds what a Content per column, padded with ``right`` and joined with
``assemble``, builds: the same text, the same styles on the same cells."""

from __future__ import annotations

from textual.content import Content

from app.ui.widgets.keyed_list import columns


def _one_per_column(*parts: tuple[str, int, str] | str) -> Content:
    pieces: list[Content | str] = []
    for part in parts:
        if isinstance(part, str):
            pieces.append(part)
            continue
        text, width, style = part
        content = Content.styled(text, style) if style and text else Content(text)
        so_far = Content.assemble(*pieces).plain if pieces else ""
        if content.cell_length >= width and text and so_far and not so_far[-1].isspace():
            pieces.append(" ")  # a full column keeps a space from what is before it
        pieces.append(content.right(width) if content.cell_length < width else content)
    return Content.assemble(*pieces)


def _styled_cells(content: Content) -> list[tuple[str, str]]:
    """Each character with the style names over it, spans merged."""
    cells = [(char, []) for char in content.plain]
    for start, end, style in content.spans:
        for index in range(start, end):
            cells[index][1].append(str(style))
    return [(char, " ".join(styles)) for char, styles in cells]


CASES = [
    (("12", 4, "bold"), " ", ("", 4, "$warning bold"), " ", ("🧵3", 4, "$secondary")),
    (("30+", 5, "bold"), ("longer than its width", 4, "$text-muted")),
    (("Zoë 日本", 12, "$text-muted"), ("7", 4, ""), ("3d", 7, "$text-muted")),
    (("bell\x07cr\rvt\x0b", 12, "bold"), " ", ("x", 3, "$accent")),
    (("alice", 8, "$text-muted"), ("9999", 4, ""), ("14 Nov", 7, ""), ("99k+", 5, "bold"), ("99k+@99k+", 5, "")),
    (("", 4, "bold"), " ", ("@99k+", 4, "$warning bold"), " ", ("🧵1234", 4, "$secondary")),
    (),
]


def test_columns_draw_as_one_content_per_column() -> None:
    for parts in CASES:
        fast, slow = columns(*parts), _one_per_column(*parts)
        assert fast.plain == slow.plain, parts
        assert fast.cell_length == slow.cell_length, parts
        assert _styled_cells(fast) == _styled_cells(slow), parts


def test_control_codes_are_dropped_before_the_styles_are_placed() -> None:
    # (Content.assemble places a later span by the length of a separator before its
    # control codes are dropped: one cell off. columns drops them first.)
    content = columns(("a\x07b", 3, "bold"), "\x08|", ("c", 2, "$accent"))
    assert content.plain == " ab| c"
    assert _styled_cells(content) == [(" ", ""), ("a", "bold"), ("b", "bold"), ("|", ""), (" ", ""), ("c", "$accent")]
