"""A pane of the main screen: a bordered container whose title says what it shows.

Setting Textual's ``border_title`` repaints the whole container: every line of its
border and background, and the compositing of everything inside it, about fifty lines
in a 160x50 terminal, on every ``j`` in the rooms pane (the threads pane's title names
the room). ``show_title`` repaints the top border line only, the one the title is on.
"""

from __future__ import annotations

from typing import Self

from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Region


class Pane(Vertical):
    """A ``Vertical`` with a title that changes cheaply."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._title_only = False

    def show_title(self, title: str) -> None:
        """Set the border title and repaint the line it is drawn on."""
        self._title_only = True
        try:
            self.border_title = Content(title)
        finally:
            self._title_only = False
        if not self.is_mounted or not self.size:
            super().refresh()
            return
        # refresh() takes regions relative to the content area; the top border line
        # sits above it, at minus the content offset.
        offset = self.content_offset
        super().refresh(Region(-offset.x, -offset.y, self.outer_size.width, 1))

    def refresh(self, *regions: Region, **kwargs: bool) -> Self:
        if self._title_only:
            # The refresh border_title asks for: show_title repaints the line itself.
            return self
        return super().refresh(*regions, **kwargs)
