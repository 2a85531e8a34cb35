"""The help screen: every binding, the key it is on now (after ``[keys]`` remaps), what
it does, and what it sends to the server in the current receipt mode.

Bindings: ``escape``, ``q`` or ``?`` close it.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from app.model.receipts import ReceiptType
from app.paths import styles_dir
from app.ui import keymap
from app.ui.describe import mode_word



# The key column: as wide as the longest key as shown ("shift+tab, ←" and the like).
KEY_WIDTH = 14


class KeyTable(Widget):
    """A group's title, then its keys in a column and what each does beside it, wrapped
    under itself (a hanging indent), at whatever width the dialog has."""

    DEFAULT_CSS = """
    KeyTable {
        height: auto;
    }
    """

    def __init__(self, title: Content, entries: list[tuple[str, str, Content]], *, classes: str | None = None) -> None:
        """``entries``: (binding id, key as shown, what it does and sends)."""
        super().__init__(classes=classes)
        self._title = title
        self._entries = entries
        # The last width drawn at, each binding's lines at it, and all the lines: the
        # layout asks for the height and the paint for the lines, at the same width.
        self._drawn: tuple[int, dict[str, list[Content]], list[Content]] | None = None

    def _lines(self, width: int) -> list[Content]:
        return self._draw(width)[2]

    def entry_lines(self, binding_id: str) -> list[Content] | None:
        """The lines one binding takes, as drawn at the widget's width; None if not here."""
        return self._draw(self.size.width)[1].get(binding_id)

    def _draw(self, width: int) -> tuple[int, dict[str, list[Content]], list[Content]]:
        if self._drawn is not None and self._drawn[0] == width:
            return self._drawn
        lines = [self._title]
        by_binding: dict[str, list[Content]] = {}
        for binding_id, key, text in self._entries:
            # A key wider than the column (several keys remapped onto one binding) widens
            # its own entry's column; the text never wraps past the line.
            column = max(KEY_WIDTH, cell_len(key) + 1)
            text_width = max(width - column, 1)
            head = Content.assemble((key, "bold $accent"), " " * (column - cell_len(key)))
            entry: list[Content] = []
            for part in text.split("\n"):
                for line in part.wrap(text_width):
                    entry.append(Content.assemble(head, line))
                    head = Content(" " * column)
            by_binding[binding_id] = entry
            lines += entry
        self._drawn = (width, by_binding, lines)
        return self._drawn

    def render(self) -> Content:
        return Content("\n").join(self._lines(self.size.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines(width))


class HelpScreen(ModalScreen[None]):
    """What each key does and sends."""

    # Read when the screen first opens, not at every start (parsing and matching there;
    # the first ``?`` pays it, and a restyle, instead).
    CSS_PATH = styles_dir() / "help.tcss"

    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "close", id="help.close"),
    ]

    def __init__(self, mode: ReceiptType, keys: dict[str, str], word: str | None = None) -> None:
        super().__init__()
        self.mode = mode
        # The mode as the status line names it, with what decided (``NONE · rule: dm``).
        self.word = word or mode_word(mode)
        # Binding ID -> key as shown to the user, after remapping.
        self.keys = keys

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Static(
                Content.assemble(
                    ("readmark keys", "bold"),
                    "   receipt mode now: ",
                    (self.word, "bold $warning" if self.word.startswith("PUBLIC") else "bold $success"),
                    ("   (escape closes; remap with [keys] <id> = \"key\" in config.toml)", "$text-muted"),
                ),
                id="help-title",
            )
            # One widget per group of keys, not two per key in a row of their own: a
            # hundred widgets would make opening the help slow.
            with VerticalScroll(id="help-body"):
                for group in keymap.GROUPS:
                    entries = [
                        (spec.id, self._key(spec), self._text(spec)) for spec in keymap.KEYS if spec.group == group
                    ]
                    yield KeyTable(Content.styled(group, "bold $primary"), entries, classes="help-group")

    def _key(self, spec: keymap.KeySpec) -> str:
        return self.keys.get(spec.id, spec.key)

    def _text(self, spec: keymap.KeySpec) -> Content:
        parts: list[Content | str | tuple[str, str]] = [Content(spec.help), (f"  [{spec.id}]", "$text-muted")]
        if spec.wire:
            parts += ["\n", (f"sends: {spec.wire_for(self.mode)}", "$text-muted")]
        else:
            parts.append(("  sends: nothing", "$text-muted"))
        return Content.assemble(*parts)

    def entry_text(self, binding_id: str) -> str:
        """What the help shows for one binding, as drawn (key, then what it does and
        sends), whitespace collapsed: a wrapped line reads on."""
        for table in self.query(KeyTable):
            lines = table.entry_lines(binding_id)
            if lines is not None:
                return " ".join(" ".join(line.plain.split()) for line in lines)
        raise KeyError(binding_id)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
