"""Plain http to a host that is not this machine: the TUI warns, as ``readmark login`` does,
at start with a stored session and after a login on the login screen."""

from __future__ import annotations

from textual.widgets import Input

from app.ui.screens.main import MainScreen
from tests.ui.helpers import RecordingApp, main_screen
from tests.ui.local_service import LocalService
from tests.ui.recorded import recorded_account

SIZE = (160, 50)


class RemoteService(LocalService):
    """The in-memory service, with the transport flag a real `MatrixService` has."""

    def __init__(self, insecure_transport: bool) -> None:
        super().__init__(recorded_account())
        self.insecure_transport = insecure_transport


def warnings(app: RecordingApp) -> list[str]:
    return [message for title, message, severity in app.notified
            if title == "Insecure connection" and severity == "warning"]


async def test_a_stored_session_over_plain_http_warns_at_start() -> None:
    app = RecordingApp(RemoteService(insecure_transport=True))
    async with app.run_test(size=SIZE) as pilot:
        await main_screen(pilot)
    [warning] = warnings(app)
    assert "plain http" in warning and "unencrypted" in warning


async def test_https_or_loopback_does_not_warn() -> None:
    app = RecordingApp(RemoteService(insecure_transport=False))
    async with app.run_test(size=SIZE) as pilot:
        await main_screen(pilot)
    assert warnings(app) == []


async def test_a_login_over_plain_http_warns() -> None:
    async def login(homeserver: str, user: str, password: str) -> LocalService:
        return RemoteService(insecure_transport=True)

    app = RecordingApp(None, login=login, homeserver="http://matrix.example.org")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.query_one("#login-user", Input).value = "@me:example.org"
        app.screen.query_one("#login-password", Input).value = "secret"
        await pilot.click("#login-submit")
        for _ in range(50):
            await pilot.pause(0.05)
            if isinstance(app.screen, MainScreen):
                break
        assert isinstance(app.screen, MainScreen)
    assert len(warnings(app)) == 1
