"""Small helpers for Pilot tests: wait for the first paint, read what a pane shows."""

from __future__ import annotations

from dataclasses import replace

from app.config import Settings

from textual import events
from textual.pilot import Pilot
from textual.widget import Widget

from app.ui.app import ReadmarkApp
from app.ui.screens.main import MainScreen
from app.ui.widgets.keyed_list import KeyedList


async def main_screen(pilot: Pilot) -> MainScreen:
    """The main screen once the service's first state is shown."""
    app = pilot.app
    assert isinstance(app, ReadmarkApp)
    for _ in range(50):
        await pilot.pause()
        screen = app.screen
        if isinstance(screen, MainScreen) and screen.selection is not None and screen.timeline.keys:
            return screen
    raise AssertionError("the main screen never showed the account")


def shown(pane: KeyedList, key: str) -> str:
    """The line a pane draws for ``key``, as it is on screen (plain text)."""
    index = pane.keys.index(key)
    pane.scroll_to(y=index, animate=False, immediate=True)
    return pane.render_line(index - pane.scroll_offset.y).text


class RecordingApp(ReadmarkApp):
    """The app, keeping every notification it showed: (title, message, severity).

    Rooms are shown as one flat list (``[display] group_rooms = false``) unless
    ``grouped``: the tests of everything but the groups read rows keyed by room ID.
    The groups have their own tests (tests/ui/test_groups.py) and snapshots."""

    def __init__(self, *args: object, grouped: bool = False, **kwargs: object) -> None:
        if len(args) >= 2:
            args = (args[0], replace(args[1] or Settings(), group_rooms=grouped), *args[2:])  # type: ignore[arg-type]
        else:
            kwargs["settings"] = replace(kwargs.get("settings") or Settings(), group_rooms=grouped)  # type: ignore[arg-type]
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.notified: list[tuple[str, str, str]] = []

    def notify(  # type: ignore[override]
        self, message: str, *, title: str = "", severity: str = "information", **kwargs: object
    ) -> None:
        self.notified.append((title, message, severity))
        super().notify(message, title=title, severity=severity, **kwargs)  # type: ignore[arg-type]


async def wheel(pilot: Pilot, widget: Widget, *, down: bool = True, times: int = 1) -> None:
    """Turn the mouse wheel over ``widget``, ``times`` notches: the events a terminal's
    wheel brings, posted to the app as its driver posts them (Pilot has no wheel)."""
    event = events.MouseScrollDown if down else events.MouseScrollUp
    x, y = widget.region.x + 2, widget.region.y + 2
    for _ in range(times):
        pilot.app.post_message(event(None, x, y, 0, 1 if down else -1, 0, False, False, False, screen_x=x, screen_y=y))
        await pilot.pause()


async def drag_scrollbar(pilot: Pilot, widget: Widget, start: int, end: int) -> None:
    """Drag ``widget``'s vertical scrollbar from line ``start`` of it to line ``end``
    (press, move, release: what a mouse does)."""
    scrollbar = widget.vertical_scrollbar
    await pilot.mouse_down(scrollbar, offset=(0, start))
    await pilot.hover(scrollbar, offset=(0, end))
    await pilot.mouse_up(scrollbar, offset=(0, end))
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def screen_lines(app: ReadmarkApp) -> list[str]:
    """The active screen's lines as the terminal gets them (text, control characters
    included: what a line would send)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]
