"""A pane's scrollbar is repainted when a colour it is drawn in changes, not whenever the
stylesheet sets one (``textual_internals.steady_scrollbars``: a focus change re-set all
seven scrollbar colours of two panes and repainted both scrollbars in a frame of their
own). What the scrollbar shows must follow a colour that did change."""

from __future__ import annotations

from textual.color import Color
from textual.geometry import Region

from tests.ui.helpers import main_screen

SIZE = (160, 9)


def _thumb_colours(scrollbar) -> set:  # noqa: ANN001
    lines = scrollbar.render_lines(Region(0, 0, scrollbar.outer_size.width, scrollbar.outer_size.height))
    return {
        colour
        for line in lines
        for segment in line
        if segment.style
        for colour in (segment.style.color, segment.style.bgcolor)
        if colour is not None
    }


async def test_a_scrollbar_is_repainted_only_for_a_colour_that_changed(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        rooms = screen.rooms
        await pilot.pause()
        assert rooms.show_vertical_scrollbar, "the account's rooms overflow the pane"
        scrollbar = rooms.vertical_scrollbar
        await pilot.pause()
        assert not scrollbar._repaint_required

        # Tab away and back: the stylesheet sets every scrollbar colour again, unchanged.
        await pilot.press("tab")
        assert not scrollbar._repaint_required
        await pilot.pause()
        await pilot.press("shift+tab")
        assert rooms.has_focus
        assert not scrollbar._repaint_required

        # The same colour set again: no repaint.
        rooms.styles.scrollbar_color = rooms.styles.scrollbar_color
        assert not scrollbar._repaint_required

        # Another colour: repainted, and drawn in it.
        before = _thumb_colours(scrollbar)
        rooms.styles.scrollbar_color = Color(200, 10, 10)
        assert scrollbar._repaint_required
        await pilot.pause()
        after = _thumb_colours(scrollbar)
        assert after != before
        assert any(colour.triplet == (200, 10, 10) for colour in after if colour.triplet)
