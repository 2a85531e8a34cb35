"""The main screen's Footer keeps its keys while moving between panes (Textual's
recomposes on every focus change: new widgets and layouts for the same keys), and is
never stale: after every step it shows what a freshly composed Footer would."""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from app.ui.widgets.footer import SteadyFooter
from tests.ui.helpers import main_screen

SIZE = (160, 50)


def shown(footer: SteadyFooter) -> list[tuple[str, str, str, bool]]:
    return [(k.key, k.description, k.action, k._disabled) for k in footer.query(FooterKey)]


def fresh(footer: SteadyFooter) -> list[tuple[str, str, str, bool]]:
    """What Textual's own Footer would compose right now."""
    keys = []
    with footer._context():  # compose binds the keys to the footer's reactives
        widgets = list(Footer.compose(footer))
    for widget in widgets:
        for key in [widget, *getattr(widget, "_pending_children", [])]:
            if isinstance(key, FooterKey):
                keys.append((key.key, key.description, key.action, key._disabled))
    return keys


async def test_moving_between_panes_keeps_the_footer_keys(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.pause()
        footer = screen.query_one(SteadyFooter)
        keys = list(footer.query(FooterKey))
        assert keys and shown(footer) == fresh(footer)
        for key in ("tab", "tab", "enter", "shift+tab", "escape", "n"):
            await pilot.press(key)
            await pilot.pause()
            assert list(footer.query(FooterKey)) == keys, key
            assert shown(footer) == fresh(footer), key


async def test_the_footer_follows_the_room_filter_and_back(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_screen(pilot)
        await pilot.pause()
        footer = screen.query_one(SteadyFooter)
        before = shown(footer)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.pause()
        assert shown(footer) == fresh(footer)
        assert shown(footer) != before  # the filter's input has other bindings
        await pilot.press("escape")
        await pilot.pause()
        await pilot.pause()
        assert shown(footer) == fresh(footer) == before
