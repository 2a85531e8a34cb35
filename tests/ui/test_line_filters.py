"""The lists skip the app's ANSI-to-truecolor line filter (KeyedList.get_line_filters: it
only copied their segments). This holds only while every colour in their lines is
already RGB and nothing is dim: each list's lines, in every theme the app offers and with
focus, cursor, unread and muted rows on screen, must come out the same with the filter."""

from __future__ import annotations

from textual.filter import ANSIToTruecolor
from textual.geometry import Region
from textual.strip import Strip

from app.ui.widgets.keyed_list import KeyedList
from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import recorded_account


def _lines(widget: KeyedList, *, with_filter: bool) -> list[Strip]:
    widget._styles_cache.clear()
    if with_filter:
        widget.get_line_filters = widget.app.get_line_filters  # type: ignore[method-assign]
    try:
        return widget.render_lines(Region(0, 0, widget.outer_size.width, widget.outer_size.height))
    finally:
        if with_filter:
            del widget.get_line_filters
        widget._styles_cache.clear()


async def test_the_lists_draw_the_same_without_the_ansi_filter() -> None:
    app = RecordingApp(LocalService(recorded_account()))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        assert any(isinstance(f, ANSIToTruecolor) and f.enabled for f in app.get_line_filters())
        lists = [screen.rooms, screen.threads, screen.timeline]
        assert not any(isinstance(f, ANSIToTruecolor) for f in screen.rooms.get_line_filters())
        await pilot.press("tab", "j", "tab")  # a thread's timeline focused: cursor, unread, markers
        await pilot.pause()
        themes = [name for name in app.available_themes if not app.available_themes[name].name.endswith("ansi")]
        assert len(themes) > 2
        for theme in themes:
            app.theme = theme
            await pilot.pause()
            for widget in lists:
                without, with_ = _lines(widget, with_filter=False), _lines(widget, with_filter=True)
                assert len(without) == widget.outer_size.height
                assert [list(s) for s in without] == [list(s) for s in with_], (theme, widget.id)
