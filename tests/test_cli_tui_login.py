"""The TUI's login (``cli._tui_login``, behind the login screen) on real Synapse: when the
new session cannot be stored, the new device is logged out again and the client closed,
as ``readmark login`` does, so no live device is left behind that nothing can use."""

from __future__ import annotations

import asyncio
import errno

import pytest

from app import cli
from app.devserver.actor import CLIENT_V3, MatrixActor, MatrixHttpError
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.session import Session, load_session


def _token_is_alive(session: Session) -> bool:
    actor = MatrixActor(session.homeserver, session.user_id, session.access_token, session.device_id)
    try:
        actor.request("GET", f"{CLIENT_V3}/account/whoami")
    except MatrixHttpError as error:
        assert error.errcode == "M_UNKNOWN_TOKEN"
        return False
    return True


def test_a_session_that_cannot_be_stored_is_logged_out_and_closed(make_actor, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    tried: list[Session] = []

    def disk_full(session: Session) -> None:
        tried.append(session)
        raise OSError(errno.ENOSPC, "No space left on device")

    closed: list[MatrixClient] = []
    real_close = MatrixClient.close

    async def recording_close(self: MatrixClient) -> None:
        closed.append(self)
        await real_close(self)

    monkeypatch.setattr(cli, "save_session", disk_full)
    monkeypatch.setattr(MatrixClient, "close", recording_close)
    password = f"pw-{actor.user_id[1:].split(':', 1)[0]}"
    with pytest.raises(cli.CliError) as raised:
        asyncio.run(cli._tui_login(actor.base_url, actor.user_id, password))
    assert "No space left on device" in str(raised.value) and "logged out again" in str(raised.value)
    [session] = tried
    assert not _token_is_alive(session)
    assert closed, "the client was not closed"
    assert load_session() is None


def test_a_stored_session_gives_a_service(make_actor) -> None:  # noqa: ANN001
    actor = make_actor("me")
    password = f"pw-{actor.user_id[1:].split(':', 1)[0]}"

    async def login() -> MatrixService:
        service = await cli._tui_login(actor.base_url, actor.user_id, password)
        await service.close()
        return service

    service = asyncio.run(login())
    assert service.user_id == actor.user_id and not service.insecure_transport
    stored = load_session()
    assert stored is not None and stored.user_id == actor.user_id and _token_is_alive(stored)


def _devices(session: Session) -> set[str]:
    actor = MatrixActor(session.homeserver, session.user_id, session.access_token, session.device_id)
    return {device["device_id"] for device in actor.request("GET", f"{CLIENT_V3}/devices")["devices"]}


def test_logging_in_again_after_the_server_ended_the_session_reuses_the_device(make_actor) -> None:  # noqa: ANN001
    actor = make_actor("me")
    localpart = actor.user_id[1:].split(":", 1)[0]
    password = f"pw-{localpart}"

    async def login(user: str) -> Session:
        service = await cli._tui_login(actor.base_url, user, password)
        await service.close()
        stored = load_session()
        assert stored is not None
        return stored

    first = asyncio.run(login(actor.user_id))
    # The server ends the session (as when the token is revoked elsewhere).
    MatrixActor(first.homeserver, first.user_id, first.access_token, first.device_id).request(
        "POST", f"{CLIENT_V3}/logout", {}
    )
    assert not _token_is_alive(first)
    again = asyncio.run(login(localpart))  # typed as a localpart this time
    assert again.device_id == first.device_id and again.access_token != first.access_token
    assert _token_is_alive(again)
    assert first.device_id in _devices(again)
    # Another user on the login screen gets a device of their own.
    other = make_actor("other")
    other_password = f"pw-{other.user_id[1:].split(':', 1)[0]}"

    async def other_login() -> Session:
        service = await cli._tui_login(other.base_url, other.user_id, other_password)
        await service.close()
        stored = load_session()
        assert stored is not None
        return stored

    assert asyncio.run(other_login()).device_id != first.device_id
