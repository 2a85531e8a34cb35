"""ReadmarkApp: the Textual application. It owns the one reactive read state (the
service's ``AccountState``), runs the service's sync loop in a named worker, turns the
service's reports into messages, and handles every worker failure in one place.

Build it with a ready ``ReadStateService``, or with ``service=None`` and a ``login``
coroutine function, in which case a login screen comes first.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from app.config import Settings
from app.matrix.service import ReadStateService, SyncState, SyncStatus
from app.model.account import AccountState
from app.model.summary import RoomSummary
from app.logs import log_file, printable_line
from app.paths import styles_dir
from app.ui import keymap
from app.ui.commands import ReadmarkCommands
from app.ui.messages import (
    ListenerBridge,
    QueueChanged,
    ReceiptSettled,
    ReceiptSubmitted,
    SyncStatusChanged,
)
from app.ui.screens.help import HelpScreen
from app.ui.screens.login import LoginScreen
from app.ui.screens.main import MainScreen
from app.ui.textual_internals import UnhandledErrorHook, give_result_callback, steady_scrollbars

log = logging.getLogger(__name__)

Login = Callable[[str, str, str], Awaitable[ReadStateService]]

# help.tcss and login.tcss are their screens' CSS_PATH: read when first shown.
STYLESHEETS = ("app.tcss", "main.tcss")
CLOSE_TIMEOUT_S = 5.0
# Signals that end the TUI the way q does. Their default action kills the process on
# the spot, leaving the terminal in the alternate screen with mouse reporting on.
QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class ReadmarkApp(UnhandledErrorHook, App[None]):
    """The readmark TUI.

    Bindings (ids in ``app.ui.keymap``): ``?`` help, ``ctrl+p`` palette, ``q`` quit.
    The main screen's and the panes' bindings are documented there.
    """

    TITLE = "readmark"
    CSS_PATH = [styles_dir() / name for name in STYLESHEETS]
    BINDINGS = keymap.bindings(keymap.APP)
    COMMANDS = App.COMMANDS | {ReadmarkCommands}

    # The app draws nothing itself: the screens bound to these repaint what changed, so
    # a change here must not repaint the whole screen.
    account: reactive[AccountState | None] = reactive(None, init=False, repaint=False)
    preview: reactive[Sequence[RoomSummary]] = reactive((), init=False, repaint=False)
    sync_status: reactive[SyncStatus] = reactive(
        lambda: SyncStatus(SyncState.STARTING), init=False, repaint=False
    )
    queued: reactive[int] = reactive(0, init=False, repaint=False)

    def __init__(
        self,
        service: ReadStateService | None,
        settings: Settings | None = None,
        *,
        login: Login | None = None,
        homeserver: str = "",
    ) -> None:
        super().__init__()
        # A focus change repaints a pane's scrollbar only if its colours changed.
        steady_scrollbars()
        self.settings = settings if settings is not None else Settings()
        self.service: ReadStateService | None = service
        self._login = login
        self._homeserver = homeserver
        # The one writer of ``account``: what the service publishes.
        self._listener = ListenerBridge(self, self._account_published)
        # Each quit signal's handler from before the app ran, put back when it ends.
        self._saved_signal_handlers: dict[int, object] = {}
        self._quitting_on: int | None = None

    # ---- theme ----------------------------------------------------------

    # Textual looks the theme up by name on every ask (two copies of the dict of themes),
    # and asks for each line it draws (the ANSI theme, in its styles cache): a real part
    # of a first paint and of each key. The theme is kept until its name changes or a
    # theme is (un)registered.
    _theme_cache: tuple[str, Theme] | None = None

    @property
    def current_theme(self) -> Theme:
        name = self.theme
        cached = self._theme_cache
        if cached is None or cached[0] != name:
            cached = self._theme_cache = (name, super().current_theme)
        return cached[1]

    def register_theme(self, theme: Theme) -> None:
        super().register_theme(theme)
        self._theme_cache = None

    def unregister_theme(self, theme_name: str) -> None:
        super().unregister_theme(theme_name)
        self._theme_cache = None

    # ---- start ----------------------------------------------------------

    def on_mount(self) -> None:
        self._catch_quit_signals()
        if self.settings.keys:
            self.set_keymap(dict(self.settings.keys))
            unknown = sorted(set(self.settings.keys) - set(keymap.BY_ID))
            if unknown:
                self.notify(
                    f"[keys] in config.toml names no binding: {', '.join(unknown)}. "
                    "The help screen (?) shows each binding's id.",
                    title="Unknown key binding ids",
                    severity="warning",
                    timeout=10,
                    markup=False,
                )
        if self.service is not None:
            self._started(self.service)
        elif self._login is not None:
            self.push_screen(LoginScreen(self._homeserver))
        else:
            self.exit(return_code=2, message="readmark: no Matrix session; run `readmark login` first")

    def get_default_screen(self) -> Screen:
        """With a session the main screen is the first screen: pushed over Textual's
        blank default one, it would cost a second screen's styling and resume on every
        start. Without one, the blank screen, under the login screen."""
        if self.service is None:
            return super().get_default_screen()
        screen = self._main_screen(self.service)
        # What push_screen gives a screen: switch_screen pops it when another user's
        # main screen replaces this one (logging in as someone else), and Textual leaves
        # the first screen without one (tests/ui/test_relogin.py fails if this changes).
        give_result_callback(screen, self)
        return screen

    def _main_screen(self, service: ReadStateService) -> MainScreen:
        self.service = service
        service.use_modes(self.settings.mode_rules)
        service.attach(self._listener)
        # A cached account is painted from its room summaries first; the rooms are
        # decoded after that first frame (service.run loads them and publishes the
        # account), so a start costs what the screen shows, not what the cache holds.
        preview = tuple(service.preview())
        self.preview = preview
        self.account = None if preview else service.account
        self.queued = service.queued
        return MainScreen(service, self.settings, width=self.size.width).data_bind(
            ReadmarkApp.account,
            ReadmarkApp.preview,
            ReadmarkApp.sync_status,
            ReadmarkApp.queued,
        )

    def _start(self, service: ReadStateService) -> None:
        """A main screen for a service logged in from the TUI: it replaces the screen
        on top (the login screen, or the main screen of another user)."""
        self.switch_screen(self._main_screen(service))
        self._started(service)

    def _started(self, service: ReadStateService) -> None:
        self._warn_if_insecure(service)
        if self.preview:
            self.call_after_refresh(self.run_sync)
        else:
            self.run_sync()

    def _warn_if_insecure(self, service: ReadStateService) -> None:
        """Plain http to a host that is not this machine: the token travels in clear (the
        CLI's login prints the same warning)."""
        if getattr(service, "insecure_transport", False):
            self.notify(
                "This homeserver is reached over plain http: the access token travels "
                "unencrypted. Use https unless this network is trusted.",
                title="Insecure connection",
                severity="warning",
                timeout=15,
                markup=False,
            )

    @property
    def main_screen(self) -> MainScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        return None

    # ---- workers --------------------------------------------------------

    def report_unhandled_error(self, error: Exception | None) -> None:
        """An unhandled exception: Textual would print a traceback with locals (which can
        hold the access token). Users get one line; the details go to the log file."""
        log.error("unexpected error in the TUI", exc_info=error)
        self.bell()
        where = log_file()
        detail = f" (details in {where})" if where else ""
        # The exception's text can carry a token or a terminal escape sequence (a server's
        # error text, a room name): the line goes out as the CLI's own do.
        line = printable_line(f"internal error: {type(error).__name__}: {error}{detail}")
        self.panic(Text(f"readmark: {line}", no_wrap=False))

    @work(exclusive=True, group="sync", exit_on_error=False, name="sync")
    async def run_sync(self) -> None:
        assert self.service is not None
        await self.service.run(self._listener)

    @work(exclusive=True, group="login", exit_on_error=False, name="login")
    async def log_in(self, homeserver: str, user: str, password: str) -> None:
        assert self._login is not None
        service = await self._login(homeserver, user, password)
        old = self.service
        main = self.main_screen
        if old is None or main is None:
            self._start(service)
            return
        # Logging in again after the server ended the session: the old service stops
        # (its queue is on disk and the new one picks it up, for the same user only).
        try:
            await asyncio.wait_for(old.close(), CLOSE_TIMEOUT_S)
        except Exception:
            log.exception("closing the old service failed")
        if service.user_id == main.user_id:
            # The same user's session mode carries on; the new service publishes to us.
            service.use_modes(self.settings.mode_rules)
            service.session_mode = old.session_mode
            service.attach(self._listener)
            self.service = main.service = service
            self.account = service.account
            self.queued = service.queued
            if isinstance(self.screen, LoginScreen):
                self.pop_screen()
            self._warn_if_insecure(service)
            self.run_sync()
        else:
            # Down to the old main screen, which the new one replaces (under it may be
            # Textual's blank first screen, when the TUI started at the login screen).
            while self.screen is not main:
                self.pop_screen()
            self._start(service)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Every worker failure lands here, once."""
        worker = event.worker
        if event.state is WorkerState.ERROR:
            error = worker.error
            message = (str(error) or type(error).__name__) if error is not None else "unknown error"
            log.error("worker %s failed: %s", worker.group, message, exc_info=error)
            if worker.group == "sync":
                self.sync_status = SyncStatus(SyncState.OFFLINE, detail=message)
                self.notify(message, title="Sync stopped", severity="error", timeout=10, markup=False)
            elif worker.group == "login":
                if isinstance(self.screen, LoginScreen):
                    self.screen.show_error(message)
            else:
                self.notify(message, title="Something failed", severity="error", markup=False)
        elif event.state is WorkerState.SUCCESS and worker.group == "sync":
            self.sync_status = SyncStatus(SyncState.OFFLINE, detail="sync stopped")

    # ---- what the service reports ---------------------------------------

    def _account_published(self, account: AccountState) -> None:
        self.account = account

    def on_sync_status_changed(self, message: SyncStatusChanged) -> None:
        previous = self.sync_status
        status = message.status
        self.sync_status = status
        if status.state is SyncState.LOGGED_OUT:
            if previous.state is not SyncState.LOGGED_OUT:
                self._logged_out(status.detail or "the server ended this session")
        elif status.state is SyncState.FOLLOWING:
            if previous.state is not SyncState.FOLLOWING:
                self.notify(
                    f"{status.detail or 'Another readmark'} owns this profile. This window shows what it "
                    "saves and hands your receipts to it to send; it takes over when that one quits.",
                    title="Another readmark is running",
                    severity="warning",
                    timeout=15,
                    markup=False,
                )
        elif status.state is SyncState.STOPPED:
            if previous.state is not SyncState.STOPPED:
                self.notify(
                    f"{status.detail}. Syncing stopped: trying again cannot change this answer; restart "
                    "readmark once it is fixed. Receipts are still sent.",
                    title="Sync stopped",
                    severity="error",
                    timeout=20,
                    markup=False,
                )
        elif status.state is SyncState.OFFLINE:
            # Say why once, when it goes offline; the status line then counts down.
            if previous.state is not SyncState.OFFLINE and status.detail:
                self.notify(status.detail, title="Offline", severity="warning", timeout=8, markup=False)
        elif status.detail and status.detail != previous.detail:
            self.notify(status.detail, title="readmark", severity="information", timeout=10, markup=False)

    def _logged_out(self, reason: str) -> None:
        reason = reason.rstrip(". ")
        queued = self.service.queued if self.service is not None else 0
        kept = f" {queued} receipt(s) stay queued and go out after you log in again." if queued else ""
        if self._login is None:
            self.notify(f"{reason}.{kept} Quit and run `readmark login` to log in again.", title="Logged out",
                        severity="error", timeout=30, markup=False)
            return
        self.notify(f"{reason}. Log in again to go on.{kept}", title="Logged out",
                    severity="error", timeout=15, markup=False)
        main = self.main_screen
        if not isinstance(self.screen, LoginScreen):
            self.push_screen(
                LoginScreen(self._homeserver, main.user_id if main is not None else "", f"Logged out: {reason}")
            )

    def on_queue_changed(self, message: QueueChanged) -> None:
        self.queued = message.pending

    def on_receipt_settled(self, message: ReceiptSettled) -> None:
        screen = self.main_screen
        if screen is not None:
            screen.receipt_settled(message.outcome)

    def on_receipt_submitted(self, message: ReceiptSubmitted) -> None:
        log.info("receipt action %s in %s: %s", message.action, message.room_id, message.result)

    # ---- app actions ----------------------------------------------------

    def key_display(self, binding_id: str) -> str:
        """The key a binding is on now, after ``[keys]`` remaps, as the Footer shows it."""
        spec = keymap.BY_ID[binding_id]
        # The [keys] table is the keymap given to set_keymap; Textual normalises the
        # key names it keeps ("?" to "question_mark"), which display the same.
        remapped = self.settings.keys.get(binding_id)
        if remapped is None and spec.key_display:
            return spec.key_display
        keys = remapped or spec.key
        return ", ".join(self.get_key_display(Binding(key.strip(), "")) for key in keys.split(","))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        screen = self.main_screen
        mode = screen.mode.receipt_type if screen is not None else self.settings.receipt_mode
        keys = {spec.id: self.key_display(spec.id) for spec in keymap.KEYS}
        self.push_screen(HelpScreen(mode, keys, screen.mode.word if screen is not None else None))

    async def action_quit(self) -> None:
        """Quit; receipts not yet sent stay queued on disk (the service's ``close``)."""
        await self._quit()

    async def _quit(self, return_code: int = 0) -> None:
        if self.service is not None:
            try:
                await asyncio.wait_for(self.service.close(), CLOSE_TIMEOUT_S)
            except Exception:  # quitting must not fail; the queue is already durable
                log.exception("closing the service failed")
        self.exit(return_code=return_code)

    # ---- signals --------------------------------------------------------

    def _catch_quit_signals(self) -> None:
        """SIGTERM and SIGHUP quit as q does: the service closes (what is queued stays on
        disk) and Textual gives the terminal back (main screen, no mouse reporting).
        Only the main thread of a running loop can take signals; elsewhere (a test's
        thread) the default stays."""
        loop = asyncio.get_running_loop()
        for signum in QUIT_SIGNALS:
            previous = signal.getsignal(signum)
            try:
                loop.add_signal_handler(signum, self._quit_on_signal, signum)
            except (ValueError, RuntimeError, NotImplementedError):
                continue
            self._saved_signal_handlers[signum] = previous

    def _quit_on_signal(self, signum: int) -> None:
        # 128 + N, as a shell reports a process the signal ended.
        return_code = 128 + signum
        if self._quitting_on is not None:
            # A second signal while the service closes: leave now, still restoring the terminal.
            self.exit(return_code=return_code)
            return
        self._quitting_on = signum
        log.info("quitting on %s", signal.Signals(signum).name)
        self.call_later(self._quit, return_code)

    def on_unmount(self) -> None:
        """Put back the handlers from before the app ran (``readmark demo`` has its own,
        which stop its homeserver): asyncio would reset them to the defaults."""
        loop = asyncio.get_running_loop()
        for signum, previous in self._saved_signal_handlers.items():
            loop.remove_signal_handler(signum)
            if previous is not None:
                signal.signal(signum, previous)  # type: ignore[arg-type]
        self._saved_signal_handlers.clear()
