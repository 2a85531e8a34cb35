"""Every use readmark makes of a private Textual attribute, each behind one name here.

Textual's private names change without notice between releases; keeping them in this
module makes a Textual upgrade one file to read (pyproject pins the major version, so
an upgrade is a decision). Each entry says why no public API does the job and which
test fails if Textual changes what it relies on. tests/test_private_internals.py checks
that the names appear nowhere else in app/.
"""

from __future__ import annotations

from textual.app import App
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget


def give_result_callback(screen: Screen, app: App) -> None:
    """Give ``screen`` the empty result callback ``push_screen`` gives every screen it
    pushes, for a screen that is not pushed: the one ``App.get_default_screen`` returns.

    Why private: a result callback is only ever added by ``push_screen`` and
    ``switch_screen``, and a screen returned by ``get_default_screen`` goes through
    neither. ``switch_screen`` pops one from the screen it replaces, so replacing that
    first screen (logging in as another user) fails on an empty list without it.
    Pushing the main screen instead would cost a second screen's styling and resume
    on every start. If Textual renames ``Screen._push_result_callback``, every start
    with a session fails (all Pilot tests); if ``switch_screen`` stops popping,
    tests/ui/test_relogin.py shows whether the extra callback matters.
    """
    screen._push_result_callback(app, None)


class UnhandledErrorHook:
    """A mixin for an ``App`` (before ``App`` in the bases): an unhandled exception goes
    to ``report_unhandled_error`` instead of Textual's traceback.

    Why private: Textual has no public hook for an unhandled exception. ``App.
    _handle_exception`` calls ``_fatal_error``, which prints a Rich traceback with local
    variables (they can hold the access token) and ends the app; overriding it is the
    only way to print something else. The exception itself is ``App._exception`` (the
    first unhandled one, which Pilot re-raises); nothing public holds it. An exception
    with ``__rich__`` goes to ``App.panic`` instead, never here. If Textual renames
    either, its traceback comes back: tests/ui/test_no_traceback.py fails.
    """

    def _fatal_error(self) -> None:
        self.report_unhandled_error(self._exception)  # type: ignore[attr-defined]

    def report_unhandled_error(self, error: Exception | None) -> None:
        """Say what went wrong and end the app (``App.panic`` ends it with a message)."""
        raise NotImplementedError


def update_scrollbars(widget: Widget, virtual_size: Size) -> None:
    """Show or hide ``widget``'s scrollbars and size their thumbs for ``virtual_size``,
    without the layout that setting ``virtual_size`` (a layout reactive) does.

    Why private: ``Widget._scroll_update`` is what Textual's own size update runs after a
    layout; no public method updates the scrollbars alone. A line list's size in the
    layout does not depend on its row count, only its scrollbar does, so a layout of
    the whole screen for each change of a pane's length is work for nothing. If Textual
    renames it, every list whose length changes fails; if it stops updating
    ``show_vertical_scrollbar``, the thumb or the scroll position,
    tests/ui/test_keyed_list_repaint.py fails.
    """
    widget._scroll_update(virtual_size)


__all__ = ["UnhandledErrorHook", "give_result_callback", "update_scrollbars"]
