"""``readmark demo``: a private Synapse with a seeded, live account, and an isolated profile.

Layout under ``data_root`` (default ``app.paths.cache_dir()/demo``)::

    demo.lock           held (flock) while a demo runs; holds its pid
    homeserver.pid      the running demo homeserver's pid (to clean up after a killed demo)
    synapse/            the homeserver's data dir, reused between runs (``reset=True`` wipes it)
    synapse/readmark-demo.json   written once seeding finished: the DemoAccount
    profile/            XDG config/data/state/cache dirs the TUI runs with (removed with the
                        homeserver's data: its cache and receipt queue name that server's rooms,
                        and its crypto store holds the keys of that server's demo device)
    peers/<localpart>/  the colleagues' encrypting clients' stores (removed with it too)

The demo user reads as one fixed device (``DEMO_DEVICE_ID``) whose crypto store lives in
the profile. Its keys are on the server before the encrypted rooms are seeded, and the
device is never logged out (a logout would delete it and its keys, and the store's room
keys would then belong to a device the colleagues no longer encrypt for): the next run on
the same homeserver logs in as the same device and finds its keys and its store as they
were. Should the two part ways (a profile deleted by hand, a device deleted elsewhere),
the device starts afresh with a new store.

Two demos at once: each start picks a free port, so demos with different data roots never
collide. Two demos on the *same* data root cannot share it (one SQLite database, and a
reset would pull it from under the other), so the second one stops at once with
"a demo is already running (pid N)" and exit code 1. The lock is an ``flock``: the kernel
drops it when its process dies, so a crashed demo never leaves a stale lock.

Everything the demo starts is stopped in ``finally`` (Ctrl-C, SIGTERM and SIGHUP
included): the live activity thread and its encrypting clients, the homeserver's process
group.
A homeserver left behind by a demo killed with SIGKILL is found through ``homeserver.pid``
and stopped by the next demo.

Progress goes to ``progress`` (stderr by default) as lines with timings; this module never
touches the user's real session or config: the TUI runs inside ``demo_environment``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app import paths
from app.devserver.activity import LiveActivity
from app.devserver.actor import CLIENT_V3, MatrixActor, MatrixHttpError
from app.devserver.peers import PeersError
from app.devserver.seed import DEMO_KEY, SEED_VERSION, DemoAccount, DemoUser, seed_demo_account
from app.store.files import private_dir, write_atomic

if TYPE_CHECKING:  # the launcher imports pyyaml, which only comes with matrix-synapse
    from app.devserver.synapse import SynapseServer

LOCK_NAME = "demo.lock"
HOMESERVER_PID_NAME = "homeserver.pid"
SYNAPSE_DIR_NAME = "synapse"
PROFILE_DIR_NAME = "profile"
PEERS_DIR_NAME = "peers"
DEMO_DEVICE_ID = "READMARK_DEMO"
MARKER_NAME = "readmark-demo.json"

DEMO_CONFIG = """\
# Written by `readmark demo` for its own isolated profile; your real config is untouched.
[receipts]
mode = "private"
"""

_XDG_SUBDIRS = {
    "XDG_CONFIG_HOME": "config",
    "XDG_DATA_HOME": "data",
    "XDG_STATE_HOME": "state",
    "XDG_CACHE_HOME": "cache",
}


@dataclass(frozen=True)
class DemoSession:
    """What the TUI needs to open the demo account, and where its profile lives."""

    homeserver: str
    user_id: str
    password: str = field(repr=False)
    access_token: str = field(repr=False)
    device_id: str
    profile_dir: Path


def demo_root() -> Path:
    return paths.cache_dir() / "demo"


# -- the isolated profile ----------------------------------------------------------------------


def _inside(path: Path, parent: Path) -> bool:
    return path.resolve().is_relative_to(parent.resolve())


@contextlib.contextmanager
def demo_environment(profile_dir: Path) -> Iterator[Path]:
    """Point every XDG base directory at ``profile_dir`` while the block runs, with a demo
    ``config.toml`` (private receipts) in it; restore the environment afterwards.

    On platforms whose directories do not follow XDG (platformdirs on macOS), HOME is
    pointed into the profile as well. If any readmark path still lies outside the profile,
    this raises rather than let the demo touch real files.
    """
    profile_dir = Path(profile_dir).resolve()
    saved = {name: os.environ.get(name) for name in (*_XDG_SUBDIRS, "HOME")}
    try:
        private_dir(profile_dir)
        for name, subdir in _XDG_SUBDIRS.items():
            private_dir(profile_dir / subdir)
            os.environ[name] = str(profile_dir / subdir)
        located = (paths.config_dir, paths.data_dir, paths.state_dir, paths.cache_dir, paths.log_dir)
        if not all(_inside(where(), profile_dir) for where in located):
            home = private_dir(profile_dir / "home")
            os.environ["HOME"] = str(home)
        outside = [str(where()) for where in located if not _inside(where(), profile_dir)]
        if outside:
            raise RuntimeError(f"cannot isolate the demo profile: {outside[0]} is outside {profile_dir}")
        config = paths.config_file()
        private_dir(config.parent)
        write_atomic(config, DEMO_CONFIG.encode("utf-8"))
        yield profile_dir
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- the demo user's reading device ---------------------------------------------------------


class DemoDeviceError(Exception):
    """The demo device's encryption keys could not be set up; one line."""


def _device_keys_on_server(actor: MatrixActor) -> bool:
    answer = actor.request("POST", f"{CLIENT_V3}/keys/query", {"device_keys": {actor.user_id: [actor.device_id]}})
    return actor.device_id in answer.get("device_keys", {}).get(actor.user_id, {})


def prepare_demo_device(base_url: str, user_id: str, password: str, profile_dir: Path,
                        say: Callable[[str], None] = lambda _line: None) -> MatrixActor:
    """Log the demo user in as ``DEMO_DEVICE_ID`` with its encryption keys on the server and
    its crypto store in ``profile_dir``, as ``readmark login`` sets a device up.

    A device whose store is in the profile and whose keys are on the server is ready as it
    is: setting it up again would upload nothing, and opening its store here would load
    nio before the TUI's first screen (readmark loads it after); the TUI's service tops
    its one-time keys up. Raises ``DemoDeviceError``, ``MatrixHttpError`` or ``OSError``.
    """
    from app.matrix.client import MatrixClient
    from app.matrix.crypto import remove_store, store_directory
    from app.matrix.encryption import set_up_device
    from app.matrix.session import Session

    async def set_up(actor: MatrixActor) -> str | None:
        async with MatrixClient.from_session(Session(base_url, actor.user_id, actor.device_id,
                                                     actor.access_token)) as client:
            return await set_up_device(client)

    # The store's place is the profile's data dir: only known inside its environment.
    with demo_environment(profile_dir):
        has_store = store_directory(DEMO_DEVICE_ID).exists()
        demo = MatrixActor.login(base_url, user_id, password, device_id=DEMO_DEVICE_ID)
        has_keys = _device_keys_on_server(demo)
        if has_store and has_keys:
            return demo
        if has_store:
            # The server forgot the device: the store's identity is nobody's any more.
            remove_store(DEMO_DEVICE_ID)
            say("the demo device's keys are gone from the homeserver: new keys for it")
        elif has_keys:
            # The keys belong to a store that is gone, and a device keeps its identity key
            # for good: a logout deletes the device, and the login makes it anew.
            demo.logout()
            demo = MatrixActor.login(base_url, user_id, password, device_id=DEMO_DEVICE_ID)
            say("the demo device's crypto store is gone: the device starts afresh")
        problem = asyncio.run(set_up(demo))
    if problem is not None:
        raise DemoDeviceError(problem)
    return demo


# -- one demo at a time per data root -----------------------------------------------------------


class _DemoLock:
    """An exclusive ``flock`` on ``demo.lock``, which holds the owner's pid for the message."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> int | None:
        """None when acquired; otherwise the holder's pid (0 if it has not written it yet)."""
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.read(fd, 32).decode("ascii", "replace").strip()
            finally:
                os.close(fd)
            return int(holder) if holder.isdigit() else 0
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return None

    def release(self) -> None:
        import fcntl

        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


# -- progress ---------------------------------------------------------------------------------


class _Progress:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    @contextlib.contextmanager
    def step(self, label: str) -> Iterator[list[str]]:
        """``label… 1.4 s``; the block may append a detail shown after the time."""
        self.stream.write(f"{label}… ")
        self.stream.flush()
        began = time.monotonic()
        details: list[str] = []
        try:
            yield details
        except BaseException:
            self.line(f"failed after {time.monotonic() - began:.1f} s")
            raise
        extra = f" ({', '.join(details)})" if details else ""
        self.line(f"{time.monotonic() - began:.1f} s{extra}")


# -- the demo -----------------------------------------------------------------------------------


def _read_marker(marker: Path) -> DemoAccount | None:
    try:
        account = DemoAccount.from_json(json.loads(marker.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return account if account.seed_version == SEED_VERSION else None


def _write_marker(marker: Path, account: DemoAccount) -> None:
    temporary = marker.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(account.to_json(), handle, indent=2, ensure_ascii=False)
    os.replace(temporary, marker)


def _stop_orphan(pid_file: Path, config_path: Path, progress: _Progress) -> None:
    """Stop a homeserver a killed demo left running on this data dir (we hold the lock, so
    any such process is an orphan). Only a process whose command line names this data dir's
    config is touched."""
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        pid_file.unlink(missing_ok=True)
        return
    if str(config_path).encode() in cmdline:
        progress.line(f"stopping a demo homeserver left running by an earlier demo (pid {pid})")
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
    pid_file.unlink(missing_ok=True)


def _start_server(synapse_dir: Path) -> SynapseServer:
    """Start on a free port; pick another if someone took it between choosing and binding."""
    from app.devserver.synapse import SynapseServer, SynapseStartError

    for attempt in range(3):
        server = SynapseServer(synapse_dir)
        try:
            server.start(timeout=90)
            return server
        except SynapseStartError as error:
            if "Address already in use" not in str(error) or attempt == 2:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) unwind like Ctrl-C, so ``finally`` runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    saved = {sig: signal.signal(sig, unwind) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def run_demo(
    *,
    reset: bool,
    open_tui: Callable[[DemoSession], int],
    data_root: Path | None = None,
    activity_interval: float = 6.0,
    progress: TextIO | None = None,
) -> int:
    """Start (and on first use seed) the demo homeserver, keep it lively, run ``open_tui``.

    Returns ``open_tui``'s exit code, or 1 when the demo cannot start (the reason is one line
    on ``progress``). Exceptions from ``open_tui`` (KeyboardInterrupt included) propagate
    after everything the demo started has been stopped.
    """
    out = _Progress(progress if progress is not None else sys.stderr)
    began = time.monotonic()
    root = Path(data_root) if data_root is not None else demo_root()
    # The demo's profile (a session, a cache of message text) and the homeserver's data
    # live under it: readable by the user only, like the rest of readmark's cache dir.
    if data_root is None:
        private_dir(paths.cache_dir())
    private_dir(root)
    if importlib.util.find_spec("synapse") is None or importlib.util.find_spec("yaml") is None:
        out.line(
            "readmark demo needs the matrix-synapse package, which readmark's demo extra brings:"
            " pipx install --force 'readmark[demo]' (or pip install 'readmark[demo]';"
            " in a checkout, make demo)"
        )
        return 1

    lock = _DemoLock(root / LOCK_NAME)
    holder = lock.acquire()
    if holder is not None:
        who = f"pid {holder}" if holder else "pid unknown"
        out.line(f"readmark demo: a demo is already running ({who}) with data in {root}")
        return 1

    synapse_dir = root / SYNAPSE_DIR_NAME
    pid_file = root / HOMESERVER_PID_NAME
    marker = synapse_dir / MARKER_NAME
    server: SynapseServer | None = None
    activity: LiveActivity | None = None
    try:
        with _stop_on_signals():
            _stop_orphan(pid_file, synapse_dir.resolve() / "homeserver.yaml", out)
            if reset and synapse_dir.exists():
                shutil.rmtree(synapse_dir)
                out.line(f"reset: removed {synapse_dir}")
            account = _read_marker(marker)
            if account is None and synapse_dir.exists():
                # Seeding never finished (interrupted), or an older seed: start clean.
                out.line("the demo data is incomplete or from another version; starting clean")
                shutil.rmtree(synapse_dir)
            first_run = not (synapse_dir / "generated.yaml").exists()
            out.line(f"readmark demo: data in {root}")
            profile_dir = root / PROFILE_DIR_NAME
            peers_dir = root / PEERS_DIR_NAME
            if first_run and profile_dir.exists():
                # Its read-state cache and receipt queue name rooms of the homeserver
                # that was just removed, and its crypto store a device of that server.
                try:
                    shutil.rmtree(profile_dir)
                except OSError as error:
                    out.line(f"readmark demo: could not remove the old demo profile: {error}")
                    return 1
                out.line(f"new homeserver: removed the old demo profile {profile_dir}")
            if first_run and peers_dir.exists():
                # The colleagues' devices in these stores were that server's.
                try:
                    shutil.rmtree(peers_dir)
                except OSError as error:
                    out.line(f"readmark demo: could not remove the old demo peers' stores: {error}")
                    return 1
                out.line(f"new homeserver: removed the old demo peers' stores {peers_dir}")

            label = "starting homeserver (first run: generating its keys)" if first_run else "starting homeserver"
            try:
                with out.step(label) as details:
                    server = _start_server(synapse_dir)
                    details.append(server.base_url)
            except Exception as error:  # SynapseStartError, OSError: one line, log path
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                out.line(f"readmark demo: the homeserver did not start: {reason} (log: {synapse_dir / 'homeserver.log'})")
                return 1
            write_atomic(pid_file, f"{server.pid}\n".encode("ascii"))

            # The same device every run: readmark keeps a login's cache only for that
            # login, so the next run paints from what this one cached, and the room keys
            # its store received stay this device's.
            notes: list[str] = []
            devices: list[MatrixActor] = []

            def ready(user: DemoUser) -> None:
                devices.append(prepare_demo_device(server.base_url, user.user_id, user.password,
                                                   profile_dir, notes.append))

            try:
                if account is None:
                    with out.step("seeding the demo account") as details:
                        account = seed_demo_account(server.base_url, peer_stores=peers_dir, prepare_demo_device=ready)
                        details.append(f"{account.events_sent} events in {len(account.rooms) + len(account.invites)} rooms")
                    _write_marker(marker, account)
                else:
                    account = account.with_base_url(server.base_url)
                    with out.step(f"logging in as {account.user_id}"):
                        ready(DemoUser(DEMO_KEY, account.user_id, account.password, account.display_name))
                for note in notes:
                    out.line(note)
                demo = devices[0]
            except (MatrixHttpError, OSError, PeersError, DemoDeviceError) as error:
                out.line(f"readmark demo: could not prepare the demo account: {error} "
                         f"(log: {synapse_dir / 'homeserver.log'}; `readmark demo --reset` starts clean)")
                return 1

            activity = LiveActivity(account, interval=activity_interval, peer_stores=peers_dir)
            activity.start()
            session = DemoSession(
                homeserver=server.base_url,
                user_id=demo.user_id,
                password=account.password,
                access_token=demo.access_token,
                device_id=demo.device_id,
                profile_dir=profile_dir,
            )
            out.line(f"ready in {time.monotonic() - began:.1f} s: {account.user_id} "
                     f"(password {account.password}) on {server.base_url}")
            with demo_environment(session.profile_dir):
                return open_tui(session)
    finally:
        stopping = time.monotonic()
        if activity is not None:
            activity.stop()
        if server is not None:
            server.stop()
            pid_file.unlink(missing_ok=True)
            out.line(f"demo homeserver stopped ({time.monotonic() - stopping:.1f} s)")
        lock.release()
