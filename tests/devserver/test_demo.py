"""``run_demo`` end to end on its own Synapse (first run seeds, second run reuses), the
isolated profile, the one-demo-per-data-dir lock, and LiveActivity when the server is gone.

The TUI is replaced by a real callback that runs ``readmark status --json`` in the demo
profile as the demo device, and syncs as the demo user over HTTP from a login of its own
(a sync as the demo device would take the room keys meant for readmark): no fakes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from app import paths
from app.devserver.activity import THREAD_NAME, LiveActivity
from app.devserver.actor import CLIENT_V3, MatrixActor
from app.devserver.demo import (
    DEMO_CONFIG,
    DEMO_DEVICE_ID,
    HOMESERVER_PID_NAME,
    DemoSession,
    demo_environment,
    demo_root,
    run_demo,
)
from app.devserver.peers import THREAD_NAME as PEERS_THREAD
from app.devserver.seed import DemoAccount, DemoUser, SeededThread
from app.devserver.synapse import free_port

ACTIVITY_INTERVAL = 1.0


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@dataclass
class TuiVisit:
    """What the stand-in TUI saw while the demo ran."""

    seconds_to_ready: float = 0.0
    session: DemoSession | None = None
    environment: dict[str, str] = field(default_factory=dict)
    config_text: str = ""
    session_file_inside_profile: bool = False
    homeserver_pid: int = 0
    second_demo_code: int | None = None
    second_demo_output: str = ""
    joined_rooms: int = 0
    new_message: dict[str, Any] | None = None
    sender_receipt: dict[str, Any] | None = None
    device_keys: dict[str, str] = field(default_factory=dict)  # the demo device's, on the server
    status_rooms: dict[str, dict[str, Any]] = field(default_factory=dict)  # by name, encrypted ones
    encrypted_post: dict[str, Any] | None = None  # the live activity's, seen over HTTP
    later_encrypted: set[str] = field(default_factory=set)  # its later posts in the same thread
    status_after_post: dict[str, Any] | None = None  # readmark's view of that room afterwards


def readmark_status(session: DemoSession) -> dict[str, Any]:
    """``readmark status --json`` as the demo device, as the TUI would run (in the profile)."""
    from app import cli
    from app.matrix.session import Session, delete_session, save_session

    save_session(Session(session.homeserver, session.user_id, session.device_id, session.access_token))
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            code = cli.main(["status", "--json"])
    finally:
        delete_session()
    assert code == 0, out.getvalue()
    return json.loads(out.getvalue())


def thread_of(event: dict[str, Any]) -> str:
    relation = event["content"].get("m.relates_to", {})
    return relation["event_id"] if relation.get("rel_type") == "m.thread" else "main"


def visit(began: float, root: Path, record: TuiVisit, *, try_second_demo: bool) -> Any:
    def open_tui(session: DemoSession) -> int:
        record.seconds_to_ready = time.monotonic() - began
        record.session = session
        record.environment = {name: os.environ[name] for name in
                              ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")}
        record.config_text = paths.config_file().read_text(encoding="utf-8")
        record.session_file_inside_profile = paths.session_file().resolve().is_relative_to(session.profile_dir)
        record.homeserver_pid = int((root / HOMESERVER_PID_NAME).read_text().strip())
        if try_second_demo:
            output = io.StringIO()
            record.second_demo_code = run_demo(reset=True, open_tui=lambda _s: 0, data_root=root, progress=output)
            record.second_demo_output = output.getvalue()

        # readmark first: its sync takes the room keys waiting for the demo device.
        record.status_rooms = {room["name"]: room for room in readmark_status(session)["rooms"] if room["encrypted"]}
        demo = MatrixActor.login(session.homeserver, session.user_id, session.password)
        try:
            watch(session, demo, record)
        finally:
            demo.logout()
        return 0

    return open_tui


def watch(session: DemoSession, demo: MatrixActor, record: TuiVisit) -> None:
    """What the live activity posts, over HTTP: a plain message and its receipts, then an
    encrypted post, which readmark must read."""
    keys = demo.request("POST", f"{CLIENT_V3}/keys/query", {"device_keys": {session.user_id: [session.device_id]}})
    record.device_keys = keys["device_keys"][session.user_id][session.device_id]["keys"]
    first = demo.sync(filter={"room": {"timeline": {"limit": 1}}})
    record.joined_rooms = len(first["rooms"]["join"])
    encrypted_rooms = {room_id for room_id, room in first["rooms"]["join"].items()
                       if any(e["type"] == "m.room.encryption" for e in room.get("state", {}).get("events", []))}
    since = first["next_batch"]

    def follow(timeout_ms: int = 1000) -> None:
        nonlocal since
        answer = demo.sync(since=since, timeout_ms=timeout_ms, filter={"room": {"timeline": {"limit": 10}}})
        since = answer["next_batch"]
        for room_id, room in answer.get("rooms", {}).get("join", {}).items():
            for event in room.get("timeline", {}).get("events", []):
                if event["sender"] == session.user_id:
                    continue
                if event["type"] == "m.room.message" and record.new_message is None:
                    record.new_message = {**event, "room_id": room_id}
                elif event["type"] == "m.room.encrypted" and room_id in encrypted_rooms:
                    post = record.encrypted_post
                    if post is None:
                        record.encrypted_post = {**event, "room_id": room_id}
                    elif room_id == post["room_id"] and thread_of(event) == thread_of(post):
                        record.later_encrypted.add(event["event_id"])

    deadline = time.monotonic() + 2 * ACTIVITY_INTERVAL + 10  # the interval, plus logins and slack
    while record.new_message is None and time.monotonic() < deadline:
        follow()
    if record.new_message is not None:
        # At once: the sender's next post in that thread moves the receipt on.
        message = record.new_message
        thread = message["content"].get("m.relates_to", {}).get("event_id", "main")

        def receipt() -> dict[str, Any] | None:
            at = demo.room_receipts(message["room_id"]).get(message["event_id"], {})
            return at.get("m.read", {}).get(message["sender"])

        record.sender_receipt = demo.wait_for(receipt, timeout=10)
        assert record.sender_receipt.get("thread_id") == thread

    # Every third post is encrypted; the first one also starts the encrypting clients.
    deadline = time.monotonic() + 3 * ACTIVITY_INTERVAL + 20
    while record.encrypted_post is None and time.monotonic() < deadline:
        follow()
    if record.encrypted_post is not None:
        post = record.encrypted_post
        [room] = [r for r in readmark_status(session)["rooms"] if r["room_id"] == post["room_id"]]
        record.status_after_post = room
        follow(timeout_ms=0)  # what came after it while readmark looked


@pytest.mark.synapse
@pytest.mark.slow
def test_run_demo_twice_reusing_the_data_dir(xdg_dirs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    root = demo_root()
    assert root.is_relative_to(xdg_dirs.cache)
    environment_before = dict(os.environ)
    threads_before = set(threading.enumerate())
    runs: list[tuple[float, TuiVisit, str]] = []

    # Read state left by a demo on a homeserver that is gone: the first run starts anew.
    leftover = root / "profile" / "state" / "readmark" / "receipt-queue.json"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("{}")
    leftover_peer = root / "peers" / "alice" / "device.json"
    leftover_peer.parent.mkdir(parents=True)
    leftover_peer.write_text('{"device_id": "FROM_THE_OLD_SERVER"}')
    kept = root / "profile" / "cache" / "readmark" / "kept"
    device_keys: list[dict[str, str]] = []

    for attempt in range(2):
        record = TuiVisit()
        output = io.StringIO()
        began = time.monotonic()
        code = run_demo(reset=False, data_root=None, activity_interval=ACTIVITY_INTERVAL, progress=output,
                        open_tui=visit(began, root, record, try_second_demo=attempt == 0))
        runs.append((time.monotonic() - began, record, output.getvalue()))

        assert code == 0, output.getvalue()
        session = record.session
        assert session is not None and session.user_id == "@demo:localhost"
        assert session.device_id == DEMO_DEVICE_ID  # every run: the cache is that login's
        assert session.profile_dir == root / "profile"
        profile = session.profile_dir.resolve()
        assert record.environment == {
            "XDG_CONFIG_HOME": str(profile / "config"), "XDG_DATA_HOME": str(profile / "data"),
            "XDG_STATE_HOME": str(profile / "state"), "XDG_CACHE_HOME": str(profile / "cache"),
        }
        assert record.config_text == DEMO_CONFIG and 'mode = "private"' in record.config_text
        assert record.session_file_inside_profile
        assert record.joined_rooms == 15  # thirteen rooms seeded, one of them an invite, and three spaces
        assert record.new_message is not None, "LiveActivity posted nothing within its interval"
        assert record.sender_receipt is not None

        # The encrypted rooms as readmark reads them: the seed's history and the live posts.
        assert set(record.status_rooms) == {"Launch", "Bob"}
        launch, dm = record.status_rooms["Launch"], record.status_rooms["Bob"]
        assert launch["undecryptable"] == 0 and dm["undecryptable"] == 0
        titles = {t["root_preview"] for t in launch["threads"] if t["thread_id"] != "main"}
        assert titles == {"Pricing page copy: final review", "Product video: the 90 s cut or the 3 min cut?"}
        assert dm["highlights"] == 0 and dm["local_highlights"] >= 1  # Bob's mention, by m.mentions
        post = record.encrypted_post
        assert post is not None, "LiveActivity posted nothing to an encrypted room"
        after = record.status_after_post
        assert after is not None and after["encrypted"] is True and after["undecryptable"] == 0
        thread = next(t for t in after["threads"] if t["thread_id"] == thread_of(post))
        assert thread["latest_event_id"] in {post["event_id"], *record.later_encrypted}
        assert thread["unread"] >= 1 and thread["undecryptable"] == 0
        device_keys.append(record.device_keys)

        # Everything the demo started is gone, and the real environment is back.
        assert process_gone(record.homeserver_pid)
        assert not (root / HOMESERVER_PID_NAME).exists()
        assert not any(t.name in (THREAD_NAME, PEERS_THREAD) for t in threading.enumerate())
        assert set(threading.enumerate()) <= threads_before
        assert dict(os.environ) == environment_before
        assert not paths.session_file().exists()
        assert not paths.config_file().exists()
        stray = [p for p in xdg_dirs.home.parent.rglob("session.json") if not p.is_relative_to(profile)]
        assert stray == []
        assert not leftover.exists()
        assert "FROM_THE_OLD_SERVER" not in leftover_peer.read_text()  # the peers' stores went with it
        if attempt == 0:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_text("written during the first run")
        else:
            assert kept.exists()  # the same homeserver: its profile stays

    # Ctrl-C inside the TUI: it propagates, and everything is stopped all the same.
    record = TuiVisit()

    def interrupted(session: DemoSession) -> int:
        record.homeserver_pid = int((root / HOMESERVER_PID_NAME).read_text().strip())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_demo(reset=False, open_tui=interrupted, activity_interval=ACTIVITY_INTERVAL, progress=io.StringIO())
    assert process_gone(record.homeserver_pid)
    assert not any(t.name in (THREAD_NAME, PEERS_THREAD) for t in threading.enumerate())
    assert dict(os.environ) == environment_before

    # The same device, with the same keys, on the reused homeserver: its store was reused.
    assert device_keys[0] == device_keys[1]
    assert len(device_keys[0]) == 2  # curve25519 and ed25519

    first_seconds, first, first_output = runs[0]
    second_seconds, second, second_output = runs[1]
    assert first.second_demo_code == 1
    assert f"a demo is already running (pid {os.getpid()})" in first.second_demo_output
    assert "seeding the demo account" in first_output and "generating its keys" in first_output
    assert "seeding" not in second_output and "generating" not in second_output
    assert "removed the old demo profile" in first_output and "removed the old" not in second_output
    assert "ready in" in second_output and "demo homeserver stopped" in second_output
    with capsys.disabled():
        print(f"\nrun_demo start-to-ready: first run {first.seconds_to_ready:.1f} s "
              f"(whole run {first_seconds:.1f} s), second run {second.seconds_to_ready:.1f} s "
              f"(whole run {second_seconds:.1f} s)\n{first_output}{second_output}")


# -- no server needed ----------------------------------------------------------------------------


def test_demo_environment_points_xdg_into_the_profile_and_restores(xdg_dirs: Any, tmp_path: Path) -> None:
    before = dict(os.environ)
    real_config = paths.config_file()
    with demo_environment(tmp_path / "profile") as profile:
        assert paths.config_dir().is_relative_to(profile)
        assert paths.session_file().is_relative_to(profile)
        assert paths.log_dir().is_relative_to(profile)
        assert paths.config_file().read_text(encoding="utf-8") == DEMO_CONFIG
    assert dict(os.environ) == before
    assert paths.config_file() == real_config and not real_config.exists()

    with pytest.raises(KeyError), demo_environment(tmp_path / "profile"):
        raise KeyError("the TUI failed")
    assert dict(os.environ) == before


def test_a_second_demo_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    from app.devserver.demo import LOCK_NAME, _DemoLock

    holder = _DemoLock(tmp_path / LOCK_NAME)
    assert holder.acquire() is None
    try:
        output = io.StringIO()
        called: list[DemoSession] = []
        code = run_demo(reset=True, open_tui=lambda s: called.append(s) or 0, data_root=tmp_path, progress=output)
        assert code == 1 and called == []
        assert output.getvalue().strip().endswith(f"a demo is already running (pid {os.getpid()}) with data in {tmp_path}")
    finally:
        holder.release()
    again = _DemoLock(tmp_path / LOCK_NAME)
    assert again.acquire() is None
    again.release()


@pytest.mark.parametrize("missing", ["synapse", "yaml"])
def test_without_synapse_the_demo_names_the_extra_to_install(
    missing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside a checkout ``pip install -e '.[dev]'`` means nothing: the one line names the
    ``demo`` extra, for pipx and for pip, and that extra exists and brings Synapse."""
    import importlib.util
    import tomllib

    from app.devserver.demo import LOCK_NAME

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a, **k: None if name == missing else real_find_spec(name, *a, **k)
    )
    output = io.StringIO()
    called: list[DemoSession] = []
    code = run_demo(reset=True, open_tui=lambda s: called.append(s) or 0, data_root=tmp_path, progress=output)

    assert code == 1 and called == []
    (line,) = output.getvalue().splitlines()
    assert "matrix-synapse" in line
    assert "pipx install --force 'readmark[demo]'" in line and "pip install 'readmark[demo]'" in line
    assert "-e" not in line.split() and "[dev]" not in line
    assert not (tmp_path / LOCK_NAME).exists()

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8"))
    extras = project["project"]["optional-dependencies"]
    assert any(req.replace(" ", "").startswith("matrix-synapse>=") for req in extras["demo"])
    synapse_in_dev = [req for req in extras["dev"] if req.startswith("matrix-synapse") or "[demo]" in req]
    assert synapse_in_dev, "the tests need Synapse too"


def test_a_homeserver_left_by_a_killed_demo_is_stopped_and_nothing_else(tmp_path: Path) -> None:
    from app.devserver.demo import _Progress, _stop_orphan

    config = tmp_path / "synapse" / "homeserver.yaml"
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    orphan = subprocess.Popen([*sleeper, "--config-path", str(config)], start_new_session=True)
    bystander = subprocess.Popen([*sleeper, "--config-path", str(tmp_path / "other.yaml")], start_new_session=True)
    try:
        pid_file = tmp_path / HOMESERVER_PID_NAME
        output = io.StringIO()
        pid_file.write_text(f"{bystander.pid}\n")
        _stop_orphan(pid_file, config, _Progress(output))
        assert bystander.poll() is None and not pid_file.exists()

        pid_file.write_text(f"{orphan.pid}\n")
        _stop_orphan(pid_file, config, _Progress(output))
        assert orphan.wait(timeout=5) is not None
        assert f"left running by an earlier demo (pid {orphan.pid})" in output.getvalue()
        assert not pid_file.exists()
    finally:
        for process in (orphan, bystander):
            process.kill()
            process.wait()


def unreachable_account() -> DemoAccount:
    """An account on a port nothing listens on: the server 'went away'."""
    alice = DemoUser("alice", "@alice:localhost", "pw-alice", "Alice")
    return DemoAccount(
        base_url=f"http://127.0.0.1:{free_port()}", server_name="localhost", user_id="@demo:localhost",
        password="demo-password", display_name="Demo", others={"alice": alice},
        rooms={"ops": "!ops:localhost", "launch": "!launch:localhost"}, invites={},
        room_names={"ops": "Ops", "launch": "Launch"}, members={"ops": ("alice",), "launch": ("alice",)},
        threads={"ops": (SeededThread("ops", "Deploy", "$root", ("$reply",)),)},
        message_counts={"ops": 2, "launch": 1}, receipts=(), relations=(), mentions=(), events_sent=0,
        seed_seconds=0.0, encrypted=("launch",),
    )


def test_live_activity_survives_the_server_going_away(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uncaught: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    caplog.set_level(logging.DEBUG, logger="app.devserver.activity")

    activity = LiveActivity(unreachable_account(), interval=0.05)
    activity.start()
    MatrixActor.wait_for(lambda: activity.errors >= 3, timeout=10, interval=0.02)
    began = time.monotonic()
    activity.stop()
    assert time.monotonic() - began < 2
    assert not activity.running
    assert not any(t.name == THREAD_NAME for t in threading.enumerate())
    activity.stop()  # twice is fine

    assert uncaught == []
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "paused" in warnings[0].getMessage()
    assert capfd.readouterr().err == ""  # nothing printed over the TUI


def test_live_activity_with_encrypting_clients_survives_the_server_going_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every post through an encrypting client, none answered: a warning, no traceback,
    nothing on the terminal, and stop() closes the clients' loop thread at once."""
    uncaught: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    caplog.set_level(logging.DEBUG, logger="app.devserver")

    activity = LiveActivity(unreachable_account(), interval=0.05, peer_stores=tmp_path / "peers", encrypted_every=1)
    assert activity.encrypted_rooms == ("launch",) and activity.rooms == ("ops",)
    activity.start()
    MatrixActor.wait_for(lambda: activity.errors >= 3, timeout=10, interval=0.02)
    began = time.monotonic()
    activity.stop()
    assert time.monotonic() - began < 2
    assert not activity.running
    assert not any(t.name in (THREAD_NAME, PEERS_THREAD) for t in threading.enumerate())

    assert uncaught == [] and activity.posted == ()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "paused" in warnings[0].getMessage()
    assert capfd.readouterr().err == ""


def test_live_activity_pauses_are_jittered_and_bounded_by_the_interval() -> None:
    one = LiveActivity(unreachable_account(), interval=4.0, jitter=0.5, seed=7)
    two = LiveActivity(unreachable_account(), interval=4.0, jitter=0.5, seed=7)
    pauses = [one._pause() for _ in range(200)]
    assert pauses == [two._pause() for _ in range(200)]  # seeded: reproducible
    assert all(2.0 <= p <= 4.0 for p in pauses) and len(set(pauses)) > 100
