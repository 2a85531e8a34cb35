"""A line list changes what it shows without laying out the screen: a new row count
updates the scrollbar in place (a layout only when the scrollbar appears or goes), and
the scroll position and the rows drawn stay what a layout would have given."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.content import Content
from textual.screen import Screen

from app.ui.widgets.keyed_list import KeyedList, Row

HEIGHT = 10


class ListApp(App[None]):
    CSS = f"KeyedList {{ height: {HEIGHT}; }}"

    def compose(self) -> ComposeResult:
        yield KeyedList(id="list")


def rows(count: int, prefix: str = "row") -> tuple[list[str], dict[str, Row]]:
    keys = [f"{prefix}{i}" for i in range(count)]
    return keys, {key: Row(Content(key)) for key in keys}


class LayoutCounter:
    """Counts the screen's layouts (``Screen._refresh_layout``) while installed."""

    def __init__(self, monkeypatch) -> None:  # noqa: ANN001
        self.count = 0
        original = Screen._refresh_layout

        def counting(screen, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            self.count += 1
            return original(screen, *args, **kwargs)

        monkeypatch.setattr(Screen, "_refresh_layout", counting)


def drawn(keyed_list: KeyedList) -> list[str]:
    """The visible lines as text, rendered the way the screen draws them."""
    return [keyed_list.render_line(y).text.rstrip() for y in range(keyed_list.scrollable_content_region.height)]


async def test_a_new_row_count_lays_nothing_out_while_the_scrollbar_stays(monkeypatch) -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        keyed_list.update_rows(*rows(30))
        await pilot.pause()
        assert keyed_list.show_vertical_scrollbar
        layouts = LayoutCounter(monkeypatch)
        keyed_list.update_rows(*rows(50, "other"))
        await pilot.pause()
        assert layouts.count == 0
        assert keyed_list.virtual_size.height == 50
        assert keyed_list.max_scroll_y == 50 - HEIGHT
        assert keyed_list.vertical_scrollbar.window_virtual_size == 50
        assert drawn(keyed_list)[0] == "other0"


async def test_the_scrollbar_comes_and_goes_with_a_layout(monkeypatch) -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        keyed_list.update_rows(*rows(3))
        await pilot.pause()
        assert not keyed_list.show_vertical_scrollbar
        layouts = LayoutCounter(monkeypatch)
        keyed_list.update_rows(*rows(30))
        await pilot.pause()
        assert keyed_list.show_vertical_scrollbar
        assert layouts.count >= 1
        # The scrollbar takes a column: rows are drawn one cell narrower.
        assert keyed_list.scrollable_content_region.width == 39
        keyed_list.update_rows(*rows(4))
        await pilot.pause()
        assert not keyed_list.show_vertical_scrollbar
        assert keyed_list.scrollable_content_region.width == 40


async def test_a_shorter_list_scrolls_back_into_range() -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        keyed_list.update_rows(*rows(100))
        await pilot.pause()
        keyed_list.action_cursor_last()
        await pilot.pause()
        assert keyed_list.scroll_offset.y == 100 - HEIGHT
        keyed_list.update_rows(*rows(15, "short"))
        await pilot.pause()
        assert keyed_list.scroll_offset.y <= 15 - HEIGHT
        assert keyed_list.cursor_key == "short14"
        assert drawn(keyed_list)[-1] == "short14"
        keyed_list.update_rows(*rows(12, "shorter"))
        await pilot.pause()
        assert keyed_list.scroll_offset.y <= 12 - HEIGHT
        assert drawn(keyed_list)[-1] == "shorter11"


class LineCounter:
    """Counts the lines a list renders (``render_line`` calls) while installed."""

    def __init__(self, monkeypatch) -> None:  # noqa: ANN001
        self.lines: list[int] = []
        original = KeyedList.render_line

        def counting(keyed_list, y):  # noqa: ANN001, ANN202
            self.lines.append(y)
            return original(keyed_list, y)

        monkeypatch.setattr(KeyedList, "render_line", counting)

    def take(self) -> list[int]:
        lines, self.lines = sorted(set(self.lines)), []
        return lines


async def assert_screen_is_fresh(app: App, pilot) -> None:  # noqa: ANN001
    """What is on screen (widgets' cached lines) equals a repaint from scratch: no line
    was left stale by a partial repaint."""
    await pilot.pause()
    on_screen = app.export_screenshot()
    app.query_one(KeyedList).refresh()
    await pilot.pause()
    assert app.export_screenshot() == on_screen


async def test_a_cursor_move_repaints_two_lines(monkeypatch) -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        keyed_list.update_rows(*rows(30))
        keyed_list.focus()
        await pilot.pause()
        counter = LineCounter(monkeypatch)
        await pilot.press("j")
        await pilot.pause()
        assert counter.take() == [0, 1]
        await assert_screen_is_fresh(app, pilot)
        counter.take()
        await pilot.press("j", "j", "k")
        await pilot.pause()
        assert set(counter.take()) <= {0, 1, 2, 3}
        assert keyed_list.cursor_key == "row2"
        await assert_screen_is_fresh(app, pilot)


async def test_one_changed_row_repaints_one_line(monkeypatch) -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        order, all_rows = rows(30)
        keyed_list.update_rows(order, all_rows)
        await pilot.pause()
        counter = LineCounter(monkeypatch)
        # Equal rows (rebuilt, not changed) repaint nothing.
        keyed_list.update_rows(order, rows(30)[1])
        await pilot.pause()
        assert counter.take() == []
        keyed_list.update_rows(order, {"row4": Row(Content("row4 changed"))})
        await pilot.pause()
        assert counter.take() == [4]
        await assert_screen_is_fresh(app, pilot)
        counter.take()
        # Two rows swap places: their two lines.
        swapped = list(order)
        swapped[6], swapped[8] = swapped[8], swapped[6]
        keyed_list.update_rows(swapped)
        await pilot.pause()
        assert counter.take() == [6, 8]
        await assert_screen_is_fresh(app, pilot)
        # Emptied, then filled again.
        keyed_list.clear()
        await pilot.pause()
        assert drawn(keyed_list)[0] == "nothing here"
        await assert_screen_is_fresh(app, pilot)
        keyed_list.update_rows(*rows(5, "new"))
        await pilot.pause()
        assert drawn(keyed_list)[:6] == ["new0", "new1", "new2", "new3", "new4", ""]
        await assert_screen_is_fresh(app, pilot)


async def test_focus_repaints_the_cursor_line(monkeypatch) -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        keyed_list.update_rows(*rows(30))
        keyed_list.move_cursor_to("row3")
        keyed_list.blur()
        await pilot.pause()
        counter = LineCounter(monkeypatch)
        keyed_list.focus()
        await pilot.pause()
        assert 3 in counter.take()
        await assert_screen_is_fresh(app, pilot)
        keyed_list.blur()
        await pilot.pause()
        assert 3 in counter.take()
        await assert_screen_is_fresh(app, pilot)


async def test_partial_repaints_leave_no_stale_line_while_scrolled() -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        order, _ = rows(60)
        keyed_list.update_rows(*rows(60))
        keyed_list.focus()
        await pilot.pause()
        await pilot.press("G", "k", "k")
        await assert_screen_is_fresh(app, pilot)
        keyed_list.update_rows(order[::-1], {key: Row(Content(key.upper())) for key in order[40:50]})
        await assert_screen_is_fresh(app, pilot)
        keyed_list.update_rows(order[:25])
        await assert_screen_is_fresh(app, pilot)
        assert keyed_list.cursor_key in order[:25]
        await pilot.press("g", "pagedown")
        await assert_screen_is_fresh(app, pilot)


async def test_a_style_update_that_changes_nothing_keeps_the_strips(monkeypatch) -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        keyed_list.update_rows(*rows(30))
        keyed_list.focus()
        await pilot.pause()
        built: list[str] = []
        original = KeyedList._to_strip

        def counting(keyed_list_, content, width, style):  # noqa: ANN001, ANN202
            built.append(content.plain.strip())
            return original(keyed_list_, content, width, style)

        monkeypatch.setattr(KeyedList, "_to_strip", counting)
        # Styles re-applied (as on every focus change in the main screen), nothing changed.
        app.update_styles(keyed_list)
        keyed_list.refresh()
        await pilot.pause()
        assert built == []
        # Blurred: only the cursor's line is drawn in another style.
        keyed_list.blur()
        await pilot.pause()
        assert built == ["row0"]
        await assert_screen_is_fresh(app, pilot)


async def test_a_theme_change_draws_every_row_again() -> None:
    app = ListApp()
    async with app.run_test(size=(40, 20)) as pilot:
        keyed_list = app.query_one(KeyedList)
        keyed_list.update_rows(["a", "b"], {"a": Row(Content.styled("warn", "$warning")), "b": Row(Content("b"))})
        await pilot.pause()
        before = app.export_screenshot()
        app.theme = "textual-light" if app.theme != "textual-light" else "nord"
        await pilot.pause()
        await pilot.pause()
        assert app.export_screenshot() != before
        await assert_screen_is_fresh(app, pilot)
