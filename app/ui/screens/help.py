"""The help screen: every binding, the key it is on now (after ``[keys]`` remaps), what
it does, and what it sends to the server in the current receipt mode.

Bindings: ``escape``, ``q`` or ``?`` close it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from app.model.receipts import ReceiptType
from app.ui import keymap
from app.ui.describe import mode_word

KEY_WIDTH = 14


class HelpScreen(ModalScreen[None]):
    """What each key does and sends."""

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "close", id="help.close"),
    ]

    def __init__(self, mode: ReceiptType, keys: dict[str, str]) -> None:
        super().__init__()
        self.mode = mode
        # Binding ID -> key as shown to the user, after remapping.
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(
                Content.assemble(
                    ("readmark keys", "bold"),
                    "   receipt mode now: ",
                    (mode_word(self.mode), "bold $warning" if self.mode is ReceiptType.PUBLIC else "bold $success"),
                    ("   (escape closes)", "$text-muted"),
                ),
                id="help-title",
            )
            with VerticalScroll(id="help-body"):
                for spec in keymap.KEYS:
                    yield Static(self._entry(spec), classes="help-entry", id=f"help-{spec.id.replace('.', '-')}")

    def _entry(self, spec: keymap.KeySpec) -> Content:
        key = self.keys.get(spec.id, spec.key)
        return Content.assemble(
            (key.ljust(KEY_WIDTH), "bold $accent"),
            Content(spec.help),
            "\n",
            " " * KEY_WIDTH,
            (f"sends: {spec.wire_for(self.mode)}", "$text-muted"),
            ("   id: " + spec.id, "$text-muted italic"),
        )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
