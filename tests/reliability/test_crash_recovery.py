"""SIGKILL in the middle of writing the cache and the session file, several rounds at
random points: the next start recovers (the cache intact at some saved version, or
discarded; the session intact or cleanly absent), never a traceback, and no stray copy
of the access token is left behind. (A killed process with receipts queued is
``tests/matrix/test_live_synapse.py``.)"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app import paths
from app.matrix.session import Session, load_session, save_session
from app.store import cache

pytestmark = pytest.mark.faults
REPO = Path(__file__).resolve().parents[2]
USER = "@me:crash.test"
ROUNDS = 6

# Builds the same account for a version number in the writer and in the test.
ACCOUNT_SOURCE = textwrap.dedent(
    """
    from app.model.account import AccountState
    from app.model.events import TimelineEvent
    from app.model.names import NameInputs
    from app.model.room import RoomState

    def build(version, rooms=60, events=120):
        result = {}
        for r in range(rooms):
            room_id = f"!room{r}:crash.test"
            evs = tuple(
                TimelineEvent(f"$e{r}_{i}", "@alice:crash.test", 1_700_000_000_000 + i, "m.room.message",
                              f"message {i} of room {r}, version {version} " + "x" * 200, None, None, None,
                              False, None, 0)
                for i in range(events)
            )
            result[room_id] = RoomState(room_id=room_id, me="@me:crash.test", name=f"Room {r} v{version}",
                                        events=evs, name_inputs=NameInputs(name=f"Room {r} v{version}"))
        return AccountState("@me:crash.test", result, f"s{version}")
    """
)


def build_account(version: int):
    namespace: dict = {}
    exec(ACCOUNT_SOURCE, namespace)  # noqa: S102 - the test's own source, shared with the writer
    return namespace["build"](version)


def writer(loop_body: str) -> subprocess.Popen:
    script = ACCOUNT_SOURCE + textwrap.dedent(loop_body)
    return subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=os.environ.copy(),
    )


def kill_at_random(process: subprocess.Popen, rng: random.Random, ready: str = "ready") -> list[str]:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    assert line == ready, (line, process.stderr.read() if process.stderr else "")
    time.sleep(rng.uniform(0.05, 0.6))
    process.send_signal(signal.SIGKILL)
    out, _err = process.communicate(timeout=20)
    assert process.returncode == -signal.SIGKILL
    return out.split()


def start_offline(xdg_env: dict[str, str]) -> subprocess.CompletedProcess:
    """``readmark status --offline``: a start that reads the session and the cache only."""
    return subprocess.run(
        [sys.executable, "-m", "app", "status", "--offline"],
        capture_output=True, text=True, cwd=REPO, env=xdg_env, timeout=60,
    )


def test_sigkill_while_writing_the_cache(xdg_dirs) -> None:
    rng = random.Random(7)
    save_session(Session("http://127.0.0.1:9", USER, "DEV", "syt_crash_test_token_000"))
    mid_write = 0
    for round_ in range(ROUNDS):
        process = writer(
            f"""
            import sys
            from app.store import cache
            accounts = [build(v) for v in range({round_ * 5}, {round_ * 5 + 5})]
            print("ready", flush=True)
            i = 0
            while True:
                account = accounts[i % 5]
                changed = None if i % 2 else list(account.rooms)[: 1 + i % 40]
                print("begin", account.next_batch, flush=True)
                cache.save_account(account, changed_room_ids=changed, device_id="DEV")  # the session's login
                print("saved", account.next_batch, flush=True)
                i += 1
            """
        )
        words = kill_at_random(process, rng)
        if words and words[-2] == "begin":
            mid_write += 1
        saved = {words[i + 1] for i in range(len(words) - 1) if words[i] == "saved"}

        loaded = cache.load_account(USER)  # never raises
        if loaded is None:
            continue
        # Intact: exactly a version that was written (a full save), or a mix only where an
        # incremental save wrote some rooms of the next version with its token.
        version = int(loaded.next_batch[1:])
        assert loaded.next_batch in saved or words[-1] == loaded.next_batch, (loaded.next_batch, words[-4:])
        expected = build_account(version)
        assert set(loaded.rooms) == set(expected.rooms)
        for room_id, room in loaded.rooms.items():
            # This version's room, or (an incremental save not yet written) an older one's.
            assert room.name.startswith(expected.rooms[room_id].name.split(" v")[0] + " v")
            assert room.events[0].body.split(", version ")[1].split(" ")[0] == room.name.split(" v")[1]
            assert len(room.events) == len(expected.rooms[room_id].events)
        assert any(cache.encode_room(room) == cache.encode_room(expected.rooms[room_id]) for room_id, room in loaded.rooms.items())
        result = start_offline(dict(os.environ))
        assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
        assert result.returncode == 0, result.stderr
        assert f"{USER}: " in result.stdout
    # The kills did land in the middle of writes (else this test could not fail).
    assert mid_write >= 2, mid_write
    # A garbage file where the cache was (a kill during the very first write of a fresh
    # file leaves at worst an empty database): discarded, and the start still works.
    cache.cache_path().write_bytes(b"SQLite format 3\x00" + os.urandom(3000))
    result = start_offline(dict(os.environ))
    assert "Traceback" not in result.stderr
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "no cached state" in result.stderr


def test_sigkill_while_writing_the_session(xdg_dirs) -> None:
    rng = random.Random(11)
    target = paths.session_file()
    mid_write = 0
    for round_ in range(ROUNDS):
        process = writer(
            f"""
            from app.matrix.session import Session, save_session
            print("ready", flush=True)
            i = 0
            while True:
                token = f"syt_round{round_}_{{i}}_" + "t" * 40
                print("begin", i, flush=True)
                save_session(Session("http://127.0.0.1:9", "@me:crash.test", f"DEV{{i}}", token))
                print("saved", i, flush=True)
                i += 1
            """
        )
        words = kill_at_random(process, rng)
        if words and words[-2] == "begin":
            mid_write += 1
        session = load_session()  # a SessionError would fail the test
        assert session is not None  # at least the first save of round 0 finished
        assert session.user_id == "@me:crash.test" and session.access_token.endswith("t" * 40)
        assert oct(target.stat().st_mode & 0o777) == oct(0o600)
        # The next start (reads the session; no cache yet) says one line, no traceback.
        result = start_offline(dict(os.environ))
        assert "Traceback" not in result.stderr
        assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert mid_write >= 2, mid_write
    leftovers = [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
    # What a kill left half-written is cleaned away by the next start once it is clearly
    # stale (a younger temp file may be another process's write in progress): the only
    # file holding a token is then the session file itself.
    an_hour_ago = time.time() - 3600
    for leftover in leftovers:
        os.utime(leftover, (an_hour_ago, an_hour_ago))
    result = start_offline(dict(os.environ))
    assert "Traceback" not in result.stderr
    holders = [p.name for p in target.parent.iterdir() if b"syt_round" in p.read_bytes()]
    assert holders == [target.name]
