"""When the server ends the session (token revoked elsewhere), the TUI offers to log in
again, keeps what was queued, and sends it once the same user is back: real Synapse."""

from __future__ import annotations

import asyncio

from textual.widgets import Input

from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction
from app.model.receipts import ReceiptType
from app.ui.screens.login import LoginScreen
from app.ui.screens.main import MainScreen

from tests.ui.helpers import RecordingApp


async def until(pilot, check, seconds: float = 20.0) -> None:  # noqa: ANN001
    for _ in range(int(seconds / 0.1)):
        if check():
            return
        await pilot.pause(0.1)
    raise AssertionError("timed out waiting for the UI")


def password_of(actor) -> str:  # noqa: ANN001 - a MatrixActor
    """The password ``make_actor`` registered the actor with."""
    return f"pw-{actor.user_id[1:].split(':')[0]}"


async def login(homeserver: str, user: str, secret: str) -> MatrixService:
    """The app's ``login``: a real login, a service with short long-polls."""
    client, _ = await MatrixClient.login(homeserver, user, secret)
    return MatrixService(client, sync_timeout_ms=500)


def room_of_three(make_actor):  # noqa: ANN001, ANN201
    """Alice's room, which I and another user have joined."""
    alice, me, other = make_actor("alice"), make_actor("me"), make_actor("other")
    room = alice.create_room("Ops", invite=[me.user_id, other.user_id])
    me.join(room)
    other.join(room)
    return me, other, room


async def log_in_as(app: RecordingApp, pilot, actor, *, homeserver: bool = False) -> None:  # noqa: ANN001
    """Fill the login screen for ``actor`` (the homeserver field too, if asked) and submit
    from the keyboard (a click could land on the "Logged out" toast)."""
    screen = app.screen
    assert isinstance(screen, LoginScreen)
    if homeserver:
        screen.query_one("#login-homeserver", Input).value = actor.base_url
    screen.query_one("#login-user", Input).value = actor.user_id
    field = screen.query_one("#login-password", Input)
    field.focus()
    field.value = password_of(actor)
    await pilot.press("enter")


async def test_log_in_again_after_a_revoked_token_and_the_queue_goes_out(make_actor) -> None:
    alice, me = make_actor("alice"), make_actor("me")
    room = alice.create_room("Ops", invite=[me.user_id])
    me.join(room)
    latest = alice.send_text(room, "who has the pager?")

    first = await login(me.base_url, me.user_id, password_of(me))
    app = RecordingApp(first, Settings(receipt_mode=ReceiptType.PUBLIC), login=login, homeserver=me.base_url)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
        main = app.screen
        # Another session ends every device of mine; a key pressed now stays queued.
        await asyncio.to_thread(me.request, "POST", "/_matrix/client/v3/logout/all", {})
        await until(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#login-homeserver"), 15)
        assert any("log in again" in text.lower() for _, text, _ in app.notified)
        login_screen = app.screen
        assert login_screen.query_one("#login-user", Input).value == me.user_id
        assert login_screen.query_one("#login-homeserver", Input).value == me.base_url

        # A receipt asked for while logged out: the old service queues it on disk.
        request = first.submit(room, ReceiptAction(ActionKind.THREADED, ReceiptType.PUBLIC, MAIN))
        assert request.event_id == latest
        await until(pilot, lambda: first.queued == 1, 10)

        await log_in_as(app, pilot, me)
        await until(pilot, lambda: app.screen is main and app.service is not first, 20)
        await until(pilot, lambda: main.status.sync_text.endswith("live"), 20)
        await until(pilot, lambda: app.service.queued == 0, 20)
        await pilot.press("q")
        await pilot.pause()
    seen = await asyncio.to_thread(
        lambda: alice.wait_for(lambda: alice.room_receipts(room).get(latest, {}).get("m.read", {}).get(me.user_id))
    )
    assert seen["thread_id"] == MAIN


async def test_logging_in_as_someone_else_replaces_the_main_screen(make_actor) -> None:
    """The main screen is the app's first screen; another user's main screen replaces it,
    it does not stack over it."""
    me, other, room = room_of_three(make_actor)
    first = await login(me.base_url, me.user_id, password_of(me))
    app = RecordingApp(first, Settings(), login=login, homeserver=me.base_url)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
        old_main = app.screen
        assert app.screen_stack == [old_main]
        await asyncio.to_thread(me.request, "POST", "/_matrix/client/v3/logout/all", {})
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), 15)
        await log_in_as(app, pilot, other)
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen is not old_main, 20)
        new_main = app.screen
        assert app.screen_stack == [new_main] and app.main_screen is new_main
        assert new_main.user_id == other.user_id
        await until(pilot, lambda: new_main.status.sync_text.endswith("live"), 20)
        assert room in new_main.rooms.shown_room_ids
        assert new_main.status.account_text == other.user_id
        assert f" {other.user_id} " in str(new_main.status.render())
        await pilot.press("q")
        await pilot.pause()


async def test_started_at_the_login_screen_then_someone_else_after_a_logout(make_actor) -> None:
    """No session at start: the login screen over Textual's blank first screen. Logged in
    as one user, logged out by the server, logged in as another: the other's main screen
    replaces the first's (the stack once ended up empty here)."""
    me, other, room = room_of_three(make_actor)
    app = RecordingApp(None, Settings(), login=login, homeserver=me.base_url)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, LoginScreen))
        await log_in_as(app, pilot, me, homeserver=True)
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
        first_main = app.screen
        await asyncio.to_thread(me.request, "POST", "/_matrix/client/v3/logout/all", {})
        await until(pilot, lambda: isinstance(app.screen, LoginScreen), 15)
        await log_in_as(app, pilot, other, homeserver=True)
        await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen is not first_main, 20)
        assert app._exception is None
        assert app.main_screen is app.screen and app.screen.user_id == other.user_id
        assert [s for s in app.screen_stack if isinstance(s, MainScreen)] == [app.screen]
        await until(pilot, lambda: app.screen.status.sync_text.endswith("live"), 20)
        assert room in app.screen.rooms.shown_room_ids
        await pilot.press("q")
        await pilot.pause()
