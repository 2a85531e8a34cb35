"""The Footer of the main screen: Textual's, recomposed only when what it shows changes.

Textual's ``Footer`` removes and mounts all its keys whenever the screen's bindings are
refreshed, which happens on every focus change (tab between panes, ``enter``, ``n``
from the rooms pane): new widgets, then layouts, for a footer that looks the same. The
three panes share one set of bindings, so moving between them changes nothing here;
the footer recomposes only when the bindings it shows (key, action, description,
enabled, tooltip) differ from the ones it last composed, as when the room filter takes
the focus.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


def shown_bindings(screen: Screen) -> tuple:
    """What the footer is composed from: every active binding (the hidden ones too:
    the command palette's key is shown whatever its ``show``), enabled or not."""
    return tuple(
        (key, binding, enabled, tooltip)
        for key, (_node, binding, enabled, tooltip) in screen.active_bindings.items()
    )


class SteadyFooter(Footer):
    """A ``Footer`` that keeps its keys while the bindings they show stay the same."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._composed: tuple | None = None
        # Footer composes no keys until the screen first reports its bindings
        # (bindings_changed); until then there is nothing composed to compare with.
        self._bindings_reported = False

    def compose(self) -> ComposeResult:
        if self._bindings_reported:
            self._composed = shown_bindings(self.screen)
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if not self.app.screen_stack:
            # Shutting down: the last screen has left the stack (the main screen is the
            # first screen), and the bindings can no longer be asked for.
            return
        if (
            self._composed is not None
            and self.is_attached
            and screen is self.screen
            and shown_bindings(screen) == self._composed
        ):
            return
        self._bindings_reported = True
        super().bindings_changed(screen)
