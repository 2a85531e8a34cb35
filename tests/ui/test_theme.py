"""The app keeps its theme between lookups (a cache): a new theme still shows at once,
in the lists' rows too (their strips and styles are cached per theme)."""

from __future__ import annotations

from textual.theme import Theme

from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import recorded_account


def _row_colours(app: RecordingApp) -> set[str]:
    screen = app.screen
    y = screen.rooms.region.y + 1  # the first row, under the border
    strip = screen._compositor.render_strips()[y]
    return {str(segment.style.bgcolor) for segment in strip if segment.style is not None}


async def test_a_new_theme_shows_at_once() -> None:
    app = RecordingApp(LocalService(recorded_account()))
    async with app.run_test(size=(160, 40)) as pilot:
        await main_screen(pilot)
        await pilot.pause()
        assert app.current_theme.name == app.theme
        dark = _row_colours(app)
        app.theme = "textual-light"
        await pilot.pause()
        await pilot.pause()
        assert app.current_theme.name == "textual-light"
        assert _row_colours(app) != dark
        # A theme registered again under the same name replaces the cached one.
        app.register_theme(Theme(name="textual-light", primary="#ff0000", dark=False))
        assert app.current_theme.primary == "#ff0000"
