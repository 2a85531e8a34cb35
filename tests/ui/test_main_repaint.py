"""Navigation on the main screen repaints what changed, never the whole screen: a full
update re-renders every line of the screen, and is most of a key's cost with a big
account (issue 6, benchmark 4). What is on screen still equals a repaint from scratch."""

from __future__ import annotations

from textual._compositor import Compositor

from tests.ui.helpers import main_screen
from tests.ui.recorded import DESIGN, OPS

SIZE = (160, 50)


class FullUpdates:
    """Counts full-screen updates (``Compositor.render_full_update``) while installed."""

    def __init__(self, monkeypatch) -> None:  # noqa: ANN001
        self.count = 0
        original = Compositor.render_full_update

        def counting(compositor, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            self.count += 1
            return original(compositor, *args, **kwargs)

        monkeypatch.setattr(Compositor, "render_full_update", counting)


async def assert_screen_is_fresh(app, pilot) -> None:  # noqa: ANN001
    await pilot.pause()
    on_screen = app.export_screenshot()
    for widget in app.screen.walk_children(with_self=True):
        widget.refresh()
    await pilot.pause()
    assert app.export_screenshot() == on_screen


async def test_moving_between_rooms_and_threads_never_repaints_the_screen(make_app, monkeypatch) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        assert screen.selection.room_id == OPS
        await pilot.pause()
        full = FullUpdates(monkeypatch)
        await pilot.press("j")
        await pilot.pause()
        assert screen.selection.room_id == DESIGN
        # The titles of the threads and timeline panes follow the selection.
        assert "design-review" in screen.query_one("#threads").border_title
        await pilot.press("tab", "j", "j", "k", "n", "tab", "j", "shift+tab")
        await pilot.pause()
        assert full.count == 0
        await assert_screen_is_fresh(app, pilot)
        full.count = 0
        await pilot.press("shift+tab", "k")
        await pilot.pause()
        assert screen.selection.room_id == OPS
        assert "Ops" in screen.query_one("#threads").border_title
        assert full.count == 0
        await assert_screen_is_fresh(app, pilot)


async def test_a_title_that_stays_is_not_set_again(make_app, monkeypatch) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        rooms_pane = screen.query_one("#rooms")
        titled: list[object] = []
        original = type(rooms_pane).show_title

        def counting(widget, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if widget is rooms_pane:
                titled.append(args)
            return original(widget, *args, **kwargs)

        monkeypatch.setattr(type(rooms_pane), "show_title", counting)
        await pilot.press("j", "j")
        await pilot.pause()
        assert titled == []
        assert rooms_pane.border_title == "Rooms · activity"
        await pilot.press("s")
        await pilot.pause()
        assert rooms_pane.border_title == "Rooms · unread"


async def test_a_receipt_and_its_answer_lay_nothing_out(make_app, monkeypatch) -> None:
    from textual.screen import Screen

    from tests.ui.local_service import LocalService
    from tests.ui.recorded import recorded_account

    service = LocalService(recorded_account(), auto_settle=False)
    app = make_app(svc=service)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.press("tab", "j", "j")
        await pilot.pause()
        layouts: list[int] = []
        original = Screen._refresh_layout

        def counting(screen_, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            layouts.append(1)
            return original(screen_, *args, **kwargs)

        monkeypatch.setattr(Screen, "_refresh_layout", counting)
        await pilot.press("r")
        await pilot.pause()
        assert screen.status.last_text.startswith("1 queued  → private receipt")
        service.settle_all()
        await pilot.pause()
        await pilot.pause()
        assert screen.last_action.outcome == "settled"
        assert not screen.status.last_text.startswith("1 queued")
        assert layouts == []
        await assert_screen_is_fresh(app, pilot)


async def test_a_new_pane_title_repaints_its_border_line_only(make_app) -> None:
    from textual.geometry import Region

    from app.ui.widgets.keyed_list import KeyedList

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.pause()
        pane = screen.query_one("#threads", KeyedList)
        pane.show_title("another room ─ threads")
        assert pane._repaint_regions == {Region(0, 0, pane.outer_size.width, 1)}
        await pilot.pause()
        assert pane.border_title == "another room ─ threads"
        top = app.screen._compositor.render_strips()[pane.region.y].text
        assert "another room ─ threads" in top
        await assert_screen_is_fresh(app, pilot)


async def test_a_key_in_the_rooms_pane_is_one_frame_with_the_rooms_threads(make_app) -> None:
    """j in the rooms pane moves the cursor and shows the new room's threads and timeline
    in the same frame: no frame shows the cursor on one room and the threads of another
    (the highlight used to travel as a message, and Textual painted in between)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        screen.rooms.focus()
        await pilot.pause()
        frames: list[tuple[str | None, str | None]] = []
        original = app._display

        def display(target, renderable) -> None:  # noqa: ANN001
            original(target, renderable)
            if renderable is not None:
                selection = screen.selection
                frames.append((screen.rooms.cursor_key, selection.room_id if selection else None))

        app._display = display  # type: ignore[method-assign]
        for _ in range(3):
            before = len(frames)
            await pilot.press("j")
            await pilot.pause()
            after = frames[before:]
            assert after, "the key drew no frame"
            assert len(after) == 1, after
            assert all(cursor == selected for cursor, selected in after), after
        assert screen.selection is not None and screen.selection.room_id == screen.rooms.cursor_key
