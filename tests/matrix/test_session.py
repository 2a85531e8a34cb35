"""The session file: 0600 in a 0700 directory, written atomically, read back or refused in one line."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import paths
from app.matrix.client import MatrixClient
from app.matrix.session import Session, SessionError, delete_session, load_session, save_session

SESSION = Session("https://matrix.example.org", "@me:example.org", "DEVICEID", "syt_bWU_secretsecret_0abc")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_round_trip_with_private_modes() -> None:
    path = save_session(SESSION)
    assert path == paths.session_file()
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    assert load_session() == SESSION
    assert json.loads(path.read_text()) == {
        "version": 1,
        "homeserver": SESSION.homeserver,
        "user_id": SESSION.user_id,
        "device_id": SESSION.device_id,
        "access_token": SESSION.access_token,
    }
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left


def test_mode_is_0600_whatever_the_umask_and_the_old_file() -> None:
    target = paths.session_file()
    target.parent.mkdir(parents=True)
    target.write_text("{}")
    os.chmod(target, 0o644)
    os.chmod(target.parent, 0o755)
    old = os.umask(0)
    try:
        save_session(SESSION)
    finally:
        os.umask(old)
    assert mode_of(target) == 0o600 and mode_of(target.parent) == 0o700


def test_repr_never_shows_the_token() -> None:
    assert SESSION.access_token not in repr(SESSION)
    assert SESSION.access_token not in str(SESSION)
    assert "@me:example.org" in repr(SESSION)


def test_no_session_is_none_and_delete_says_whether_there_was_one() -> None:
    assert load_session() is None
    assert delete_session() is False
    save_session(SESSION)
    assert delete_session() is True
    assert load_session() is None


def test_a_failed_write_keeps_the_old_session(monkeypatch: pytest.MonkeyPatch) -> None:
    save_session(SESSION)
    newer = Session(SESSION.homeserver, SESSION.user_id, "OTHER", "syt_other_token_value")

    def full_disk(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched, pytest.raises(OSError):
        patched.setattr(os, "write", full_disk)
        save_session(newer)
    assert load_session() == SESSION
    assert [p.name for p in paths.session_file().parent.iterdir()] == ["session.json"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "is corrupt"),
        (b"\xff\xfe\x00garbage", "is corrupt"),
        (b"[1, 2]", "is not a JSON object"),
        (b'{"homeserver": "https://h", "user_id": "@a:h", "device_id": "D"}', "lacks 'access_token'"),
        (b'{"homeserver": "https://h", "user_id": "@a:h", "device_id": "D", "access_token": 5}', "lacks 'access_token'"),
        (b'{"version": 99, "homeserver": "h", "user_id": "u", "device_id": "d", "access_token": "t"}', "format version 99"),
    ],
)
def test_a_corrupt_file_is_one_line_session_error(content: bytes, says: str) -> None:
    target = paths.session_file()
    target.parent.mkdir(parents=True)
    target.write_bytes(content)
    with pytest.raises(SessionError) as caught:
        load_session()
    message = str(caught.value)
    assert says in message and "\n" not in message and "readmark logout" in message
    assert caught.value.__suppress_context__ or caught.value.__cause__ is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_load_as_a_session_or_a_session_error(content: bytes, tmp_path: Path) -> None:
    target = tmp_path / "fuzz" / "session.json"
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(content)
    try:
        result = load_session(target)
    except SessionError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(result, Session)


async def test_a_real_login_saved_and_restored_works(make_actor, synapse) -> None:  # noqa: ANN001
    actor = make_actor("me")
    password = f"pw-{actor.user_id[1:].split(':', 1)[0]}"
    client, session = await MatrixClient.login(synapse.base_url, actor.user_id, password)
    await client.close()
    save_session(session)
    restored = load_session()
    assert restored == session
    async with MatrixClient.from_session(restored) as again:
        assert await again.whoami() == actor.user_id
        assert again.device_id == session.device_id
