"""The help screen: every binding, the key it is on now (after ``[keys]`` remaps), what
it does, and what it sends to the server in the current receipt mode.

Bindings: ``escape``, ``q`` or ``?`` close it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from app.model.receipts import ReceiptType
from app.ui import keymap
from app.ui.describe import mode_word



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
                    ("   (escape closes; remap with [keys] <id> = \"key\" in config.toml)", "$text-muted"),
                ),
                id="help-title",
            )
            with VerticalScroll(id="help-body"):
                for group in keymap.GROUPS:
                    yield Static(Content.styled(group, "bold $primary"), classes="help-group")
                    for spec in keymap.KEYS:
                        if spec.group == group:
                            with Horizontal(classes="help-entry", id=f"help-{spec.id.replace('.', '-')}"):
                                yield Static(Content(self.keys.get(spec.id, spec.key)), classes="help-key")
                                yield Static(self._text(spec), classes="help-text")

    def _text(self, spec: keymap.KeySpec) -> Content:
        parts: list[Content | str | tuple[str, str]] = [Content(spec.help), (f"  [{spec.id}]", "$text-muted")]
        if spec.wire:
            parts += ["\n", (f"sends: {spec.wire_for(self.mode)}", "$text-muted")]
        else:
            parts.append(("  sends: nothing", "$text-muted"))
        return Content.assemble(*parts)

    def entry_text(self, binding_id: str) -> str:
        """What the help says for one binding, as plain text: key, then description."""
        entry = self.query_one(f"#help-{binding_id.replace('.', '-')}")
        key, text = (str(widget.render()) for widget in entry.query(Static))
        return f"{key} {text}"

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
