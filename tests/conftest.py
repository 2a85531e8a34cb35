"""Fixtures shared by every test: isolated XDG directories, and a real local Synapse.

The ``synapse`` fixture is session-scoped and lazy: a run that never asks for it (the
model tests, say) never starts a homeserver. Tests that use it, directly or through
``make_actor``, get the ``synapse`` marker automatically, so ``-m "not synapse"`` skips them.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.devserver.actor import MatrixActor
from app.devserver.synapse import SynapseServer

_SYNAPSE_SERVER = pytest.StashKey[SynapseServer]()
_SYNAPSE_FIXTURES = {"synapse", "make_actor"}


@dataclass(frozen=True)
class XdgDirs:
    home: Path
    config: Path
    data: Path
    state: Path
    cache: Path


@pytest.fixture(autouse=True)
def xdg_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[XdgDirs]:
    """Point HOME and every XDG base directory into tmp_path: no test touches real user files."""
    root = tmp_path / "xdg"
    dirs = XdgDirs(
        home=root / "home",
        config=root / "config",
        data=root / "data",
        state=root / "state",
        cache=root / "cache",
    )
    for path in (dirs.home, dirs.config, dirs.data, dirs.state, dirs.cache):
        path.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(dirs.home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(dirs.config))
    monkeypatch.setenv("XDG_DATA_HOME", str(dirs.data))
    monkeypatch.setenv("XDG_STATE_HOME", str(dirs.state))
    monkeypatch.setenv("XDG_CACHE_HOME", str(dirs.cache))
    yield dirs


@pytest.fixture(autouse=True)
def no_process_hardening_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """``app.cli.main`` hardens its process first: umask 077, and core dumps off with the
    hard limit too, which only CAP_SYS_RESOURCE can raise again. Tests call ``main()``
    in-process, and the test process must keep both (later tests start readmark with a
    core limit, to see it lowered), so in-process ``main`` leaves them;
    ``tests/reliability/test_permissions.py`` and ``test_signals.py`` check them on real
    readmark processes."""
    import app.cli

    monkeypatch.setattr(app.cli, "harden_process", lambda: None)


@pytest.fixture(scope="session")
def synapse(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """One Synapse for the whole session, on a free port, with its data in a kept temp dir."""
    server = SynapseServer(tmp_path_factory.mktemp("synapse"))
    request.config.stash[_SYNAPSE_SERVER] = server
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_actor(synapse: SynapseServer) -> Callable[..., MatrixActor]:
    """Factory: ``make_actor("alice")`` registers ``@alice-<random>:localhost`` on the session server."""

    def make(localpart_prefix: str = "u") -> MatrixActor:
        return MatrixActor.register(synapse.base_url, f"{localpart_prefix}-{uuid.uuid4().hex[:10]}")

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if _SYNAPSE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.synapse)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # noqa: ANN001
    """After a failing run that used Synapse, keep a copy of its data dir and say where its log is.

    pytest keeps only its last three temp dirs, and other runs on the machine rotate them, so
    the copy goes to a directory of its own that nothing cleans up.
    """
    server = config.stash.get(_SYNAPSE_SERVER, None)
    if server is None or not (terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")):
        return
    kept = Path(tempfile.mkdtemp(prefix="readmark-synapse-")) / server.data_dir.name
    shutil.copytree(server.data_dir, kept, ignore=shutil.ignore_patterns("media_store"))
    terminalreporter.write_line(f"Synapse log (session server): {kept / server.log_path.name}")
