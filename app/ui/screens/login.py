"""The login screen, shown when there is no stored session: homeserver, user and
password. The app's ``login`` callable (the same code the CLI's ``login`` uses) does
the work in a worker; errors come back here in words.

Bindings: ``enter`` in a field moves on, and logs in from the password field.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static

from app.paths import styles_dir


class LoginScreen(Screen[None]):
    """Asks for homeserver, user and password; ``ReadmarkApp.log_in`` does the rest."""

    # Read when the screen first opens: a start with a session never needs it.
    CSS_PATH = styles_dir() / "login.tcss"

    def __init__(self, homeserver: str = "", user: str = "", reason: str = "") -> None:
        super().__init__()
        self._homeserver = homeserver
        self._user = user
        self._reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="login-dialog"):
            yield Static(Content.styled("Log in to Matrix", "bold"), id="login-title")
            if self._reason:
                yield Static(Content(self._reason), id="login-reason")
            yield Label("Homeserver")
            yield Input(self._homeserver, placeholder="https://matrix.example.org", id="login-homeserver")
            yield Label("User")
            yield Input(self._user, placeholder="@me:example.org or me", id="login-user")
            yield Label("Password")
            yield Input(placeholder="password", password=True, id="login-password")
            yield Button("Log in", variant="primary", id="login-submit")
            yield Static("", id="login-error")
        yield Footer()

    def on_mount(self) -> None:
        first_empty = next((i for i in self.query(Input) if not i.value), None)
        (first_empty or self.query_one("#login-password", Input)).focus()

    @on(Input.Submitted)
    def _field_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "login-password":
            self._submit()
        else:
            self.focus_next()

    @on(Button.Pressed, "#login-submit")
    def _button_pressed(self) -> None:
        self._submit()

    def _submit(self) -> None:
        homeserver = self.query_one("#login-homeserver", Input).value.strip()
        user = self.query_one("#login-user", Input).value.strip()
        password = self.query_one("#login-password", Input).value
        fields = (("homeserver", homeserver), ("user", user), ("password", password))
        missing = [name for name, value in fields if not value]
        if missing:
            self.show_error("missing: " + ", ".join(missing))
            return
        self.set_busy(True)
        self.app.log_in(homeserver, user, password)  # type: ignore[attr-defined]

    def set_busy(self, busy: bool) -> None:
        button = self.query_one("#login-submit", Button)
        button.disabled = busy
        button.label = "Logging in…" if busy else "Log in"
        if busy:
            self.show_error("")

    def show_error(self, message: str) -> None:
        self.query_one("#login-error", Static).update(Content(message))
        if message:
            self.set_busy(False)
