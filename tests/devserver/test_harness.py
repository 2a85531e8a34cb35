"""The harness itself, checked against the real Synapse: process lifetime, seeding, and
the witness calls (unread counts, receipts, read markers) later tests rely on.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from app import paths
from app.devserver.actor import MatrixActor, MatrixHttpError
from app.devserver.synapse import SynapseServer, SynapseStartError, deep_merge

T = TypeVar("T")
MakeActor = Callable[..., MatrixActor]


def settle(read: Callable[[], T], expected: T, timeout: float = 10.0) -> T:
    """Poll ``read()`` until it equals ``expected``; return the last value for the assert's diff.

    Synapse updates counts asynchronously after events and receipts.
    """
    last: list[T] = []

    def matches() -> bool:
        last[:] = [read()]
        return last[0] == expected

    try:
        MatrixActor.wait_for(matches, timeout=timeout)
    except TimeoutError:
        pass
    return last[0]


def versions_status(base_url: str) -> int | None:
    try:
        with urllib.request.urlopen(base_url + "/_matrix/client/versions", timeout=2) as response:
            return response.status
    except (urllib.error.URLError, OSError):
        return None


def process_group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def two_users(make_actor: MakeActor) -> tuple[MatrixActor, MatrixActor, str]:
    """Alice creates a room and Bob joins it: a room of exactly two members. Public, not
    by invite: Synapse counts an invite's notification once its 30 s rotation runs, in a
    room with no receipt of Bob's (see tests/matrix/record_sync.py)."""
    alice, bob = make_actor("alice"), make_actor("bob")
    room = alice.create_room("harness", preset="public_chat")
    bob.join(room)
    return alice, bob, room


# -- no server needed ----------------------------------------------------------


def test_deep_merge_replaces_leaves_and_merges_mappings() -> None:
    base = {"rc_message": {"per_second": 1, "burst_count": 2}, "listeners": [1], "keep": True}
    merged = deep_merge(base, {"rc_message": {"burst_count": 9}, "listeners": [2]})
    assert merged == {"rc_message": {"per_second": 1, "burst_count": 9}, "listeners": [2], "keep": True}
    assert base["rc_message"] == {"per_second": 1, "burst_count": 2}


def test_xdg_dirs_keep_app_paths_inside_the_test(xdg_dirs: Any, tmp_path: Path) -> None:
    assert os.environ["HOME"] == str(xdg_dirs.home)
    for located in (paths.config_dir(), paths.data_dir(), paths.state_dir(), paths.cache_dir()):
        assert tmp_path in located.parents


# -- process lifetime ----------------------------------------------------------


@pytest.mark.synapse
def test_restart_keeps_port_and_data_and_stop_leaves_no_process(
    synapse: SynapseServer, make_actor: MakeActor
) -> None:
    alice = make_actor("alice")
    room = alice.create_room("survives restart")
    first_pid = synapse.pid
    assert first_pid is not None

    synapse.stop()
    assert not synapse.running
    assert process_group_gone(first_pid)
    assert versions_status(synapse.base_url) is None
    synapse.stop()  # idempotent

    synapse.restart()
    assert synapse.running
    assert synapse.pid != first_pid
    assert synapse.base_url.endswith(f":{synapse.port}")
    assert versions_status(synapse.base_url) == 200
    # Same database: the old access token and room are still valid.
    assert alice.request("GET", f"/_matrix/client/v3/rooms/{room}/joined_members")["joined"].keys() == {
        alice.user_id
    }


@pytest.mark.synapse
def test_start_failure_raises_with_the_log_tail(synapse: SynapseServer, tmp_path: Path) -> None:
    # Reuse the session server's generated config (keys, secrets) so no generation is needed;
    # every path that is written to is rewritten into the new data dir.
    data_dir = tmp_path / "clash"
    data_dir.mkdir()
    shutil.copy(synapse.generated_config_path, data_dir / "generated.yaml")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        server = SynapseServer(data_dir, port=blocker.getsockname()[1])
        with pytest.raises(SynapseStartError, match="exited with code") as raised:
            server.start(timeout=30)
    assert "Address already in use" in str(raised.value)
    assert not server.running


@pytest.mark.synapse
def test_atexit_stops_a_server_left_running(synapse: SynapseServer, tmp_path: Path) -> None:
    data_dir = tmp_path / "forgotten"
    data_dir.mkdir()
    shutil.copy(synapse.generated_config_path, data_dir / "generated.yaml")
    script = (
        "import sys; from pathlib import Path; from app.devserver.synapse import SynapseServer\n"
        f"server = SynapseServer(Path({str(data_dir)!r})); server.start()\n"
        "print(server.pid, flush=True)\n"
    )
    repo_root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=repo_root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout.strip())
    assert process_group_gone(pid)


# -- accounts ------------------------------------------------------------------


@pytest.mark.synapse
def test_login_logout_and_bearer_header(synapse: SynapseServer, make_actor: MakeActor) -> None:
    registered = make_actor("carol")
    localpart = registered.user_id[1:].split(":")[0]
    again = MatrixActor.login(synapse.base_url, localpart, f"pw-{localpart}")
    assert again.user_id == registered.user_id
    assert again.device_id != registered.device_id
    assert "v1.4" in again.versions()["versions"]  # private receipts are supported

    again.logout()
    with pytest.raises(MatrixHttpError) as raised:
        again.request("GET", "/_matrix/client/v3/account/whoami")
    assert (raised.value.status, raised.value.errcode) == (401, "M_UNKNOWN_TOKEN")
    assert registered.request("GET", "/_matrix/client/v3/account/whoami")["user_id"] == registered.user_id


# -- unread counts -------------------------------------------------------------

# What makes a message notify on Synapse 1.163 with the default push rules: any m.room.message
# from another user notifies (the underride `.m.rule.message` has "notify"), whatever the room
# size; `.m.rule.room_one_to_one` only matters for rooms of exactly two. A room of three was
# checked by hand and counted the same. Highlights come from `.m.rule.is_user_mention`
# (`m.mentions.user_ids`). The sender's own messages never count for the sender.


@pytest.mark.synapse
def test_main_and_thread_counts(two_users: tuple[MatrixActor, MatrixActor, str]) -> None:
    alice, bob, room = two_users
    root = alice.send_text(room, "main 1 (thread root)")
    alice.send_text(room, "main 2")
    alice.send_text(room, "main 3")
    alice.send_thread_reply(room, root, "thread 1")
    alice.send_thread_reply(room, root, "thread 2")

    assert settle(lambda: bob.unread_counts(room), (3, 0, {root: (2, 0)})) == (3, 0, {root: (2, 0)})
    assert alice.unread_counts(room) == (0, 0, {})


@pytest.mark.synapse
def test_mention_highlights(two_users: tuple[MatrixActor, MatrixActor, str]) -> None:
    alice, bob, room = two_users
    alice.send_text(room, "no mention")
    alice.send_text(room, "look at this", mentions=[bob.user_id], formatted=True)

    assert settle(lambda: bob.unread_counts(room), (2, 1, {})) == (2, 1, {})


@pytest.mark.synapse
def test_thread_reply_falls_back_to_the_latest_thread_event(two_users: tuple[MatrixActor, MatrixActor, str]) -> None:
    alice, _bob, room = two_users
    root = alice.send_text(room, "root")
    first = alice.send_thread_reply(room, root, "one")
    second = alice.send_thread_reply(room, root, "two")
    event = alice.request("GET", f"/_matrix/client/v3/rooms/{room}/event/{second}")
    relates_to = event["content"]["m.relates_to"]
    assert relates_to["rel_type"] == "m.thread"
    assert relates_to["event_id"] == root
    assert relates_to["m.in_reply_to"] == {"event_id": first}


# -- receipts and read markers -------------------------------------------------


@pytest.mark.synapse
def test_receipts_as_each_user_sees_them(two_users: tuple[MatrixActor, MatrixActor, str]) -> None:
    alice, bob, room = two_users
    root = alice.send_text(room, "root")
    plain = alice.send_text(room, "plain")
    later = alice.send_text(room, "later")
    reply = alice.send_thread_reply(room, root, "in thread")

    bob.send_receipt(room, reply, thread_id=root)
    bob.send_receipt(room, root)  # unthreaded
    bob.send_receipt(room, plain, thread_id="main")
    bob.send_receipt(room, later, "m.read.private")

    seen_by_alice = alice.wait_for(lambda: (r := alice.room_receipts(room)).get(root) and r)
    assert seen_by_alice[reply]["m.read"][bob.user_id]["thread_id"] == root
    assert "thread_id" not in seen_by_alice[root]["m.read"][bob.user_id]
    assert seen_by_alice[plain]["m.read"][bob.user_id]["thread_id"] == "main"
    assert all("m.read.private" not in by_type for by_type in seen_by_alice.values())

    seen_by_bob = bob.room_receipts(room)
    assert bob.user_id in seen_by_bob[later]["m.read.private"]
    assert seen_by_bob[reply]["m.read"][bob.user_id]["thread_id"] == root


@pytest.mark.synapse
def test_read_markers_set_fully_read_for_that_user_only(two_users: tuple[MatrixActor, MatrixActor, str]) -> None:
    alice, bob, room = two_users
    first = alice.send_text(room, "first")
    assert bob.fully_read(room) is None

    bob.set_read_markers(room, fully_read=first, read=first)
    assert bob.fully_read(room) == first
    assert alice.fully_read(room) is None
    receipts = alice.wait_for(lambda: alice.room_receipts(room).get(first))
    assert "thread_id" not in receipts["m.read"][bob.user_id]  # /read_markers sends unthreaded


@pytest.mark.synapse
def test_null_thread_id_is_rejected(two_users: tuple[MatrixActor, MatrixActor, str]) -> None:
    alice, bob, room = two_users
    event = alice.send_text(room, "hello")
    with pytest.raises(MatrixHttpError) as raised:
        bob.request("POST", f"/_matrix/client/v3/rooms/{room}/receipt/m.read/{event}", {"thread_id": None})
    assert (raised.value.status, raised.value.errcode) == (400, "M_INVALID_PARAM")
    assert "thread_id" in (raised.value.error or "")


# -- real rate limits ----------------------------------------------------------


@pytest.fixture
def tight_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    """A second server whose message limit is tiny: 2 requests, then one per 10 s."""
    server = SynapseServer(
        tmp_path_factory.mktemp("synapse-tight"),
        config_overrides={"rc_message": {"per_second": 0.1, "burst_count": 2}},
    )
    with server:
        yield server


@pytest.mark.synapse
def test_tight_rc_message_gives_real_429(tight_synapse: SynapseServer) -> None:
    alice = MatrixActor.register(tight_synapse.base_url, "alice")
    room = alice.create_room("limited")  # room creation draws on the same limiter
    sent: list[str] = []
    with pytest.raises(MatrixHttpError) as raised:
        for n in range(5):
            sent.append(alice.send_text(room, f"message {n}"))
    error = raised.value
    assert (error.status, error.errcode) == (429, "M_LIMIT_EXCEEDED"), tight_synapse.log_path
    assert error.retry_after_ms is not None and error.retry_after_ms > 0
    assert len(sent) <= 2
    # Receipts and read markers are not rate-limited by Synapse 1.163 (rc_message guards
    # events, room creation, joins and profile changes only): they still pass while sends fail.
    target = sent[-1] if sent else alice.request("GET", f"/_matrix/client/v3/rooms/{room}/messages",
                                                   query={"dir": "b", "limit": 1})["chunk"][0]["event_id"]
    alice.send_receipt(room, target)
    alice.set_read_markers(room, fully_read=target)
