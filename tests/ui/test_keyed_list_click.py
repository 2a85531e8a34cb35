"""A click puts the cursor on the row under the mouse, a double click opens that row,
and a click on a row the cursor skips does nothing. The list's click handler runs
instead of Textual's own widget click handling (text selection, markup actions), not
after it."""

from __future__ import annotations

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.content import Content
from textual.widget import Widget

from app.ui.widgets.keyed_list import KeyedList, Row

KEYS = [f"row{i}" for i in range(8)]


class ListApp(App[None]):
    CSS = "KeyedList { height: 10; }"

    def __init__(self) -> None:
        super().__init__()
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield KeyedList(id="list")

    def on_mount(self) -> None:
        rows = {key: Row(Content(key)) for key in KEYS}
        rows["row4"] = Row(Content("a rule"), selectable=False, rule=True)
        self.query_one(KeyedList).update_rows(KEYS, rows)

    def on_keyed_list_selected(self, message: KeyedList.Selected) -> None:
        self.selected.append(message.key)


@pytest.fixture
def widget_clicks(monkeypatch: pytest.MonkeyPatch) -> list[Widget]:
    """The widgets Textual's base click handler ran for."""
    seen: list[Widget] = []
    original = Widget._on_click

    async def counting(self: Widget, event: events.Click) -> None:
        seen.append(self)
        await original(self, event)

    monkeypatch.setattr(Widget, "_on_click", counting)
    return seen


async def test_a_click_moves_the_cursor_and_a_double_click_opens(widget_clicks: list[Widget]) -> None:
    app = ListApp()
    async with app.run_test(size=(40, 12)) as pilot:
        pane = app.query_one(KeyedList)
        await pilot.pause()
        assert pane.cursor_key == "row0"

        await pilot.click(pane, offset=(2, 2))
        await pilot.pause()
        assert pane.cursor_key == "row2" and app.selected == []

        await pilot.click(pane, offset=(2, 5), times=2)
        await pilot.pause()
        assert pane.cursor_key == "row5" and app.selected == ["row5"]

        await pilot.click(pane, offset=(2, 4))  # the rule: not selectable
        await pilot.pause()
        assert pane.cursor_key == "row5" and app.selected == ["row5"]

        await pilot.click(pane, offset=(2, 9))  # below the last row
        await pilot.pause()
        assert pane.cursor_key == "row5"

        assert pane not in widget_clicks
        assert app.screen.get_selected_text() is None
