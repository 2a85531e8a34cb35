"""The lists keep their styled lines across style changes (``keep_styled_lines``: a
focus change restyles a pane's border, and Textual drew every line of it again). What
they draw must be what Textual's own styles cache draws in every state they pass
through: focused, blurred, a new title, new rows, another theme, another width."""

from __future__ import annotations

from textual._styles_cache import StylesCache
from textual.content import Content
from textual.geometry import Region
from textual.strip import Strip

from app.ui.widgets.keyed_list import KeyedList, Row
from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import recorded_account


def _drawn(widget: KeyedList) -> list[list]:
    """The widget's lines through its own cache, after Textual dropped its per-line
    cache, as a style change does."""
    widget._styles_cache.clear()
    region = Region(0, 0, widget.outer_size.width, widget.outer_size.height)
    return [list(strip) for strip in widget.render_lines(region)]


def _textual(widget: KeyedList) -> list[list]:
    region = Region(0, 0, widget.outer_size.width, widget.outer_size.height)
    strips: list[Strip] = StylesCache().render_widget(widget, region)
    return [list(strip) for strip in strips]


def _check(lists: list[KeyedList], state: str) -> None:
    for widget in lists:
        ours = _drawn(widget)
        assert len(ours) == widget.outer_size.height
        assert ours == _textual(widget), (state, widget.id)
        # The panes' frames are plain ones (border, padding): their content lines take
        # the short way, which this compares with Textual's.
        assert widget._styles_cache._sides is not None, (state, widget.id)
        # A second time: from the kept lines.
        assert _drawn(widget) == _textual(widget), (state, widget.id, "kept")


async def test_the_lists_kept_lines_are_textuals_in_every_state() -> None:
    app = RecordingApp(LocalService(recorded_account()))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        lists = [screen.rooms, screen.threads, screen.timeline]
        _check(lists, "start")
        assert screen.rooms.has_focus
        for step, keys in enumerate([("tab",), ("tab",), ("tab",), ("j",), ("tab", "j"), ("tab", "tab", "k")]):
            await pilot.press(*keys)
            await pilot.pause()
            _check(lists, f"step {step}: {keys}")
        # Back to a focus state drawn before: the lines come from the kept ones, and are
        # still Textual's (the cursor line too).
        screen.rooms.focus()
        await pilot.pause()
        assert screen.rooms.has_focus and not screen.threads.has_focus
        _check(lists, "rooms focused again")
        screen.threads.show_title("another title")
        await pilot.pause()
        _check(lists, "new title")
        themes = [name for name in app.available_themes if name != app.theme]
        app.theme = themes[0]
        await pilot.pause()
        _check(lists, f"theme {themes[0]}")
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        _check(lists, "resized")


async def test_a_kept_line_is_not_drawn_for_other_content() -> None:
    # The lines are kept by the identity of the content strip: a row whose text changed
    # (a count moved) is drawn anew, on the same y, in the same focus state.
    app = RecordingApp(LocalService(recorded_account()))
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await main_screen(pilot)
        rooms = screen.rooms
        before = _drawn(rooms)
        key = rooms.keys[0]
        row = rooms.row(key)
        assert row is not None
        rooms.update_rows(rooms.keys, {key: Row(Content("a name never seen"), row.right)})
        await pilot.pause()
        after = _drawn(rooms)
        assert after != before
        assert after == _textual(rooms)
        assert "a name never seen" in "".join(segment.text for segment in after[1])
