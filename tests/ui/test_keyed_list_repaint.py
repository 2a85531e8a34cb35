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
    CSS = "KeyedList { height: %d; }" % HEIGHT

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
