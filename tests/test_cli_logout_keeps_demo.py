"""``readmark logout`` removes the session file and the read-state cache file, nothing else.

The cache dir also holds ``readmark demo``'s homeserver, lock and profile (under
``cache_dir()/demo``, see ``app.devserver.demo``); a logout used to delete the whole
cache dir and with it a demo, even a running one. The receipt queue (state dir) is not the
session's either: it goes out when the same user logs in again.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from app import cli, paths
from app.devserver.demo import HOMESERVER_PID_NAME, LOCK_NAME, PROFILE_DIR_NAME, SYNAPSE_DIR_NAME
from app.devserver.synapse import free_port
from app.matrix.session import Session, load_session, save_session
from app.store.cache import cache_path


def _fake_demo() -> list[Path]:
    """A demo data root as ``readmark demo`` leaves it, with a file in each part."""
    root = paths.cache_dir() / "demo"
    files = [
        root / LOCK_NAME,
        root / HOMESERVER_PID_NAME,
        root / SYNAPSE_DIR_NAME / "homeserver.db",
        root / PROFILE_DIR_NAME / "data" / "readmark" / "session.json",
    ]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# kept: {path.name}\n")
    return files


def _fake_cache() -> list[Path]:
    """The cache file with its WAL companions (what ``delete_cache`` removes)."""
    main = cache_path()
    main.parent.mkdir(parents=True, exist_ok=True)
    files = [main, main.with_name(main.name + "-wal"), main.with_name(main.name + "-shm")]
    for path in files:
        path.write_bytes(b"cached")
    return files


def _logout(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = cli.main(["logout", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_only_session_and_cache_gone(demo: list[Path], cache: list[Path], others: list[Path]) -> None:
    assert not paths.session_file().exists()
    assert [path for path in cache if path.exists()] == []
    for path in demo + others:
        assert path.read_text() == f"# kept: {path.name}\n", path


def _other_files() -> list[Path]:
    queue = paths.state_dir() / "receipt-queue.json"
    config = paths.config_file()
    for path in (queue, config):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"# kept: {path.name}\n")
    return [queue, config]


def test_forced_logout_keeps_the_demo(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    save_session(Session(f"http://127.0.0.1:{free_port()}", "@me:localhost", "DEV", "syt_unreachable_token_abc"))
    demo, cache, others = _fake_demo(), _fake_cache(), _other_files()
    code, out, err = _logout(capsys, monkeypatch, "--force")
    assert code == 0, err
    assert "removed the session locally anyway" in out
    _assert_only_session_and_cache_gone(demo, cache, others)


def test_logout_on_synapse_keeps_the_demo(make_actor, capsys, monkeypatch) -> None:  # noqa: ANN001
    actor = make_actor("me")
    save_session(Session(actor.base_url, actor.user_id, actor.device_id, actor.access_token))
    # A real cache file, written by a sync.
    assert cli.main(["status"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert cache_path().exists()
    demo, others = _fake_demo(), _other_files()
    main = cache_path()
    cache = [main, main.with_name(main.name + "-wal"), main.with_name(main.name + "-shm")]
    code, out, err = _logout(capsys, monkeypatch)
    assert code == 0, err
    assert out == f"logged out {actor.user_id} (device {actor.device_id})\n"
    assert load_session() is None
    _assert_only_session_and_cache_gone(demo, cache, others)
