"""Every file readmark creates is readable by the user only (0600), in directories only
the user can enter (0700), whatever the umask: the session holds the access token, the
cache and the log hold message text and room names.

Two layers are tested apart. In-process (``cli.run``: ``main`` without its umask), each
file's own mode: login, the TUI's service with a receipt, ``status``, ``mark``, under
umask 022 and 000. As processes (``python -m app``, through ``main``), the same commands
under umask 000, and a running ``readmark``'s umask as the kernel reports it (077)."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app import cli, logs, paths
from app.config import Settings
from app.devserver.demo import demo_environment
from app.logs import log_file, setup_logging, teardown_logging
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.session import load_session
from app.model.account import AccountState
from app.model.receipts import ReceiptType
from app.store import cache
from app.ui.screens.main import MainScreen
from tests.reliability.helpers import RecordingProxy, Rule, make_scene, path_contains, until
from tests.ui.helpers import RecordingApp

pytestmark = pytest.mark.faults
REPO = Path(__file__).resolve().parents[2]


def password_of(actor) -> str:  # noqa: ANN001
    return f"pw-{actor.user_id[1:].split(':', 1)[0]}"


def readmark_dirs(xdg_dirs) -> list[Path]:  # noqa: ANN001
    """readmark's own directory in each XDG base it uses (the log dir is in the state
    dir's); the base dirs themselves are the test's."""
    return [xdg_dirs.data / "readmark", xdg_dirs.state / "readmark", xdg_dirs.cache / "readmark"]


def loose_modes(xdg_dirs) -> dict[str, str]:  # noqa: ANN001
    """Every path under readmark's dirs whose mode is not 0600 (files) or 0700 (dirs)."""
    loose: dict[str, str] = {}
    for root in readmark_dirs(xdg_dirs):
        if not root.exists():
            continue
        for path in (root, *root.rglob("*")):
            mode = stat.S_IMODE(path.lstat().st_mode)
            wanted = 0o700 if path.is_dir() else 0o600
            if mode != wanted:
                loose[str(path)] = oct(mode)
    return loose


def files_under(xdg_dirs) -> set[str]:  # noqa: ANN001
    return {str(p.relative_to(root.parent)) for root in readmark_dirs(xdg_dirs) for p in root.rglob("*") if p.is_file()}


@pytest.mark.synapse
@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
async def test_each_file_is_private_whatever_the_umask(umask, make_actor, synapse, xdg_dirs, monkeypatch, capsys) -> None:  # noqa: ANN001
    scene = make_scene(make_actor, replies=1, main=2)
    previous = os.umask(umask)
    try:
        setup_logging(logging.DEBUG)  # as main does, first

        async def run(*argv: str, stdin: str = "") -> str:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
            code = await asyncio.to_thread(cli.run, list(argv))
            out, err = capsys.readouterr()
            assert code == 0, err
            return out

        await run("login", "--homeserver", synapse.base_url, "--user", scene.me.user_id, "--password-stdin",
                  stdin=password_of(scene.me))
        # The TUI's service: a sync, a receipt through the queue file, the cache on quit.
        service = MatrixService(MatrixClient.from_session(load_session()), sync_timeout_ms=500)
        app = RecordingApp(service, Settings(receipt_mode=ReceiptType.PUBLIC))
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            await pilot.press("r")
            await until(pilot, lambda: service.queued == 0 and app.screen.last_action.outcome == "settled")
            await pilot.press("q")
            await pilot.pause()
        await run("status", "--json")
        await run("mark", scene.room, "--fully-read")
    finally:
        teardown_logging()
        os.umask(previous)
    assert all(root.is_dir() for root in readmark_dirs(xdg_dirs))
    made = files_under(xdg_dirs)
    for expected in ("readmark/session.json", "readmark/readmark.sqlite3", "readmark/log/readmark.log"):
        assert expected in made, made
    assert loose_modes(xdg_dirs) == {}


def test_the_cache_companions_take_the_database_files_mode(xdg_dirs) -> None:  # noqa: ANN001
    """SQLite creates ``-wal`` and ``-shm`` with the database file's mode, not the
    umask's: so a database file created 0600 keeps them 0600 too."""
    previous = os.umask(0)
    try:
        cache.save_account(AccountState("@me:test", {}, next_batch="s1"), device_id="D")
        path = cache.cache_path()
        db = cache._connect(path)  # noqa: SLF001 - a connection held open, as the TUI's save has one
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR REPLACE INTO meta VALUES ('probe', 'x')")
            db.execute("COMMIT")
            companions = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
            assert all(p.exists() for p in companions)
            modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in (path, *companions)}
        finally:
            db.close()
    finally:
        os.umask(previous)
    assert modes == {"readmark.sqlite3": "0o600", "readmark.sqlite3-wal": "0o600", "readmark.sqlite3-shm": "0o600"}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_what_an_older_readmark_left_readable_is_tightened(xdg_dirs) -> None:  # noqa: ANN001
    path = cache.cache_path()
    path.parent.mkdir(parents=True, mode=0o755)
    os.chmod(path.parent, 0o755)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
    os.chmod(path, 0o644)
    log = log_file()
    log.parent.mkdir(parents=True)
    for directory in (log.parent, log.parent.parent):
        os.chmod(directory, 0o755)
    log.write_text("old\n")
    os.chmod(log, 0o644)

    cache.save_account(AccountState("@me:test", {}, next_batch="s1"), device_id="D")
    setup_logging()
    logging.getLogger("test").info("a line")
    teardown_logging()
    assert loose_modes(xdg_dirs) == {}


def test_the_log_is_private_after_a_rotation(xdg_dirs) -> None:  # noqa: ANN001
    previous = os.umask(0)
    try:
        setup_logging()
        logs._handler.doRollover()  # noqa: SLF001 - what the handler does at its size limit
        logging.getLogger("test").info("after the rotation")
        teardown_logging()
    finally:
        os.umask(previous)
    assert Path(str(log_file()) + ".1").exists()
    for path in log_file().parent.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(log_file().parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.state_dir().stat().st_mode) == 0o700


def test_the_demo_profile_is_private(tmp_path: Path) -> None:
    profile = tmp_path / "demo" / "profile"
    previous = os.umask(0)
    try:
        with demo_environment(profile):
            config = paths.config_file()
            assert config.read_text().startswith("# Written by `readmark demo`")
    finally:
        os.umask(previous)
    loose = {
        str(p): oct(stat.S_IMODE(p.stat().st_mode))
        for p in (profile, *profile.rglob("*"))
        if stat.S_IMODE(p.stat().st_mode) != (0o700 if p.is_dir() else 0o600)
    }
    assert loose == {}


def as_process(umask: int):  # noqa: ANN201
    def setup() -> None:
        os.umask(umask)

    return setup


@pytest.mark.synapse
async def test_readmark_processes_run_with_umask_077(make_actor, synapse, xdg_dirs) -> None:  # noqa: ANN001
    scene = make_scene(make_actor, replies=1, main=2)

    def run(*argv: str, stdin: str = "") -> None:
        result = subprocess.run([sys.executable, "-m", "app", *argv], cwd=REPO, env=os.environ.copy(), input=stdin,
                                capture_output=True, text=True, timeout=60, preexec_fn=as_process(0))
        assert result.returncode == 0, result.stderr

    async with RecordingProxy(synapse.base_url) as proxy:
        await asyncio.to_thread(run, "login", "--homeserver", proxy.base_url, "--user", scene.me.user_id,
                                "--password-stdin", stdin=password_of(scene.me))
        await asyncio.to_thread(run, "status", "--json")
        await asyncio.to_thread(run, "mark", scene.room, "--public")
        # A running status, held on its sync: what the kernel says of its umask.
        proxy.add(Rule(path_contains("/sync", "GET"), times=1, delay=2.0))
        before = len(proxy.seen)
        process = subprocess.Popen([sys.executable, "-m", "app", "status"], cwd=REPO, env=os.environ.copy(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=as_process(0))
        try:
            deadline = time.monotonic() + 10
            while not any("/sync" in s.path_qs for s in proxy.seen[before:]) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            status = Path(f"/proc/{process.pid}/status").read_text()
        finally:
            out, err = await asyncio.to_thread(process.communicate, timeout=30)
        assert process.returncode == 0, err
    umask_line = next(line for line in status.splitlines() if line.startswith("Umask:"))
    assert umask_line.split()[1] == "0077", umask_line
    assert loose_modes(xdg_dirs) == {}
