"""The unlock screen: offered once a start when this device is not verified and the
account has secret storage. The recovery key (as Element shows it, spaces optional) or
its passphrase verifies the device and restores the key backup, with a progress bar.
Nothing typed is kept: the input is cleared whatever happens.

Bindings: ``enter`` verifies, ``escape`` skips (the status line keeps saying
``unverified``; ``readmark verify`` does it later).
"""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, ProgressBar, Static

from app.matrix.recovery import RecoveryError
from app.matrix.service import ReadStateService
from app.paths import styles_dir

EXPLANATION = (
    "This device is not verified yet: other people's clients share no room keys with it, "
    "and it has none for messages sent before it existed. Your recovery key (or its "
    "passphrase) verifies it and restores them from your key backup."
)


class UnlockScreen(ModalScreen[list[str] | None]):
    """Dismissed with what verifying did, or None when skipped."""

    CSS_PATH = styles_dir() / "unlock.tcss"
    BINDINGS = [Binding("escape", "skip", "Skip", id="unlock.skip")]

    def __init__(self, service: ReadStateService) -> None:
        super().__init__()
        self.service = service
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-dialog"):
            yield Static("Verify this device", id="unlock-title")
            yield Static(EXPLANATION, id="unlock-text")
            yield Input(placeholder="Recovery key or passphrase", password=True, id="unlock-input")
            yield ProgressBar(id="unlock-progress", show_eta=False)
            yield Static("enter: verify   escape: skip", id="unlock-message")

    def on_mount(self) -> None:
        self.query_one("#unlock-progress", ProgressBar).display = False
        self.query_one(Input).focus()

    @property
    def message(self) -> str:
        return str(self.query_one("#unlock-message", Static).content)

    def _say(self, text: str, *, error: bool = False) -> None:
        widget = self.query_one("#unlock-message", Static)
        widget.update(text)
        widget.set_class(error, "error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        secret = event.value.strip()
        event.input.value = ""
        if self.busy:
            return
        if not secret:
            self._say("type your recovery key or passphrase, or press escape to skip", error=True)
            return
        self._verify(secret)

    @work(exclusive=True, group="unlock", exit_on_error=False)
    async def _verify(self, secret: str) -> None:
        self.busy = True
        bar = self.query_one("#unlock-progress", ProgressBar)
        self._say("verifying...")

        def progress(done: int, total: int) -> None:
            bar.display = True
            bar.update(total=max(total, 1), progress=done)
            self._say(f"restoring room keys from the backup: {done}/{total}")

        try:
            lines = await self.service.verify(secret, progress)
        except RecoveryError as error:
            self.busy = False
            bar.display = False
            self._say(str(error), error=True)
            return
        self.busy = False
        self.dismiss(lines)

    def action_skip(self) -> None:
        if not self.busy:
            self.dismiss(None)
