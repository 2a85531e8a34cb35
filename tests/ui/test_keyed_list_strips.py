"""``KeyedList._to_strip`` draws a row as Textual's ``Visual.to_strips`` would: the same
text in the same cells with the same colours and attributes, for every row of every
pane, under the cursor or not. Only the per-cell offsets text selection reads are left
out (the lists do not allow text selection)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.strip import Strip
from textual.visual import Visual

from app.ui.widgets.keyed_list import CURSOR, ROW, RULE, KeyedList, Row
from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import recorded_account


def _cells(strip: Strip) -> list[tuple[str, RichStyle | None]]:
    """Each cell's character and style, offsets (meta) dropped."""
    cells = []
    for segment in strip:
        style = segment.style.copy() if segment.style else None
        if style is not None:
            style._meta = None
        cells.extend((char, style) for char in segment.text)
    return cells


def _reference(pane: KeyedList, row: Row, width: int, classes: tuple[str, ...]) -> Strip:
    style = pane.get_visual_style(*classes)
    strips = Visual.to_strips(pane, pane._layout(row, width), width, 1, style)
    return (strips[0] if strips else Strip([Segment("")])).crop_extend(0, width, style.rich_style)


async def test_every_row_is_drawn_as_textual_draws_it() -> None:
    app = RecordingApp(LocalService(recorded_account()))
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await main_screen(pilot)
        compared = 0
        for pane in (screen.rooms, screen.threads, screen.timeline):
            for width in (pane.scrollable_content_region.width, 30, 12):
                for classes in (ROW, CURSOR, RULE):
                    style = pane.get_visual_style(*classes)
                    for key in pane.keys:
                        row = pane.row(key)
                        assert row is not None
                        fast = pane._to_strip(pane._layout(row, width), width, style)
                        assert _cells(fast) == _cells(_reference(pane, row, width, classes)), (key, width, classes)
                        assert fast.cell_length == width
                        compared += 1
        # Styled rows (bold unread names, coloured counts, rules) were among them.
        assert compared > 100


async def test_a_row_that_does_not_fit_one_line_takes_textuals_way() -> None:
    app = RecordingApp(LocalService(recorded_account()))
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await main_screen(pilot)
        pane = screen.rooms
        style = pane.get_visual_style(*ROW)
        from textual.content import Content

        for text in ("tab\there", "two\nlines", "x" * 300):
            content = Content(text)
            strip = pane._to_strip(content, 40, style)
            strips = Visual.to_strips(pane, content, 40, 1, style)
            reference = (strips[0] if strips else Strip([Segment("")])).crop_extend(0, 40, style.rich_style)
            assert _cells(strip) == _cells(reference)


async def test_a_span_style_resolves_as_textual_resolves_it_in_a_widget() -> None:
    """``KeyedList._span_style`` (public API only) against ``Widget._get_style``, which
    Visual.to_strips uses: theme variables, the list's component classes, unknown ones,
    and text that is no style."""
    app = RecordingApp(LocalService(recorded_account()))
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await main_screen(pilot)
        for pane in (screen.rooms, screen.timeline):
            for name in ("$accent bold", "$text-muted", "$warning on $panel", "italic", "not a style $$", "",
                         ".keyed-list--cursor", ".keyed-list--rule", ".no-such-component"):
                assert pane._span_style(name) == pane._get_style(name), name
