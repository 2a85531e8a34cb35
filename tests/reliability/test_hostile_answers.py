"""A homeserver (or something in front of it) answering with what no JSON decoder should
be trusted with: nesting 100,000 levels deep, bytes that are not UTF-8, a body of 400 MB.
Each is a bounded, one-line error: the TUI's sync loop retries it and goes live once the
answers are sane again, with the receipt pressed meanwhile delivered; ``readmark status``
exits 1 with one line; and memory stays under the client's cap (``app.matrix.answers``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.logs import log_file
from app.matrix.answers import MAX_SYNC_BYTES
from app.matrix.client import MatrixClient
from app.matrix.core import ReadStateCore
from app.matrix.service import MatrixService, sync_once
from app.matrix.session import Session, save_session
from app.model.ids import MAIN
from app.store import cache
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import in_thread, session_of
from tests.reliability.helpers import Raw, RecordingProxy, make_scene, path_contains, screen_text, until
from tests.ui.helpers import RecordingApp

pytestmark = [pytest.mark.faults, pytest.mark.synapse]
REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024


def deep(key: str, depth: int = 100_000) -> bytes:
    return b'{"%s": ' % key.encode() + b"[" * depth + b"]" * depth + b"}"


async def cache_for(scene) -> None:  # noqa: ANN001
    """What an earlier run left: the account cached, so the TUI shows the room while
    every sync fails."""
    async with MatrixClient.from_session(session_of(scene.me)) as client:
        core = ReadStateCore(scene.me.user_id)
        await sync_once(client, core)
    cache.save_account(core.account, device_id=scene.me.device_id)


async def test_deep_nesting_in_versions_and_filter_is_retried_and_the_receipt_delivered(make_actor, synapse) -> None:
    scene = make_scene(make_actor, replies=1, main=2)
    latest_main = scene.main[-1]
    await cache_for(scene)
    async with RecordingProxy(synapse.base_url) as proxy:
        versions_fault = proxy.add(Raw(path_contains("/_matrix/client/versions"), times=10**6, payload=deep("versions")))
        filter_fault = proxy.add(Raw(path_contains("/filter", "POST"), times=10**6, payload=deep("filter_id")))
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session, request_timeout=5), sync_timeout_ms=1000)
        app = RecordingApp(service, Settings())  # private receipts: sending one needs /versions
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.rooms.keys, what="the cached room")
            screen = app.screen
            assert isinstance(screen, MainScreen)

            def countdown() -> bool:
                return re.search(r"offline, retry in \d+ s", screen_text(pilot)) is not None

            def answered(fragment: str) -> int:
                return sum(1 for seen in proxy.seen if fragment in seen.path_qs)

            await until(pilot, countdown, 15, "offline with a retry countdown")
            assert "nested deeper than 512 levels" in service.status.detail, service.status
            # r during the fault: the private receipt is queued; it cannot go before the
            # server says it supports private receipts.
            await pilot.press("r")
            assert screen.last_action.outcome == "sent", screen.last_action
            assert service.queued == 1
            await until(pilot, lambda: answered("/_matrix/client/versions") >= 3, 30, "/versions retried")
            versions_fault.times = 0  # /versions is sane again; /filter is not
            await until(pilot, lambda: answered("/filter") >= 2, 30, "/filter retried")
            await until(pilot, countdown, 15, "offline again, with a countdown")
            assert "nested deeper than 512 levels" in service.status.detail, service.status
            filter_fault.times = 0
            await until(
                pilot, lambda: service.queued == 0 and screen.status.sync_text.endswith("live"), 60, "live and delivered"
            )
            assert not [n for n in app.notified if n[0] == "Sync stopped"], app.notified
            await pilot.press("q")
            await pilot.pause()

    # What the server holds: my private receipt on main, seen in my own sync (nobody
    # else sees a private receipt).
    def my_private_receipt():  # noqa: ANN202
        return scene.me.room_receipts(scene.room).get(latest_main, {}).get("m.read.private", {}).get(scene.me.user_id)

    seen = await in_thread(lambda: scene.me.wait_for(my_private_receipt))
    assert seen["thread_id"] == MAIN
    assert scene.my_receipt(latest_main) is None  # nothing public went out


def run_status(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "status", *argv], cwd=REPO, env=os.environ.copy(),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        ("/sync", b'{"next_batch": "s1\xff\xfe", "rooms": {}}', "the homeserver's /sync answer is unusable"),
        ("/sync", deep("rooms"), "the homeserver's /sync answer is unusable"),
        ("/filter", deep("filter_id"), "nested deeper than 512 levels"),
        ("/filter", b'{"filter_id": "\xff"}', "not UTF-8"),
    ],
    ids=["sync-invalid-utf-8", "sync-deep", "filter-deep", "filter-invalid-utf-8"],
)
async def test_status_json_on_a_hostile_answer_is_one_line_and_exit_1(make_actor, synapse, path, body, reason) -> None:  # noqa: ANN001
    me = make_actor("me")
    async with RecordingProxy(synapse.base_url) as proxy:
        proxy.add(Raw(path_contains(path), times=10, payload=body))
        save_session(Session(proxy.base_url, me.user_id, me.device_id, me.access_token))
        result = await asyncio.to_thread(run_status, "--json")
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("readmark: ") and reason in lines[0], result.stderr
    log = log_file().read_text() if log_file().exists() else ""
    assert "Traceback" not in log and "internal error" not in result.stderr, log


EVENT = json.dumps({"type": "m.room.message", "event_id": "$e", "sender": "@a:localhost", "origin_server_ts": 1,
                    "content": {"msgtype": "m.text", "body": "x" * 900}}).encode()


# The child's own high-water mark (VmHWM: of the memory it has had since its exec). Its
# rusage would not do: Linux carries the RSS a child had before its exec, a copy of the
# test process, into its ru_maxrss.
_MEASURED = """
import atexit, os, sys
def report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            open(os.environ["READMARK_TEST_HWM"], "w").write(line.split()[1])
atexit.register(report)
from app.cli import main
sys.exit(main(sys.argv[1:]))
"""


def peak_rss_of_status(*argv: str) -> tuple[int, str, str, int]:
    """Exit code, stdout, stderr and peak RSS in bytes of one ``readmark status``."""
    import tempfile

    with tempfile.NamedTemporaryFile("r") as hwm:
        env = {**os.environ, "READMARK_TEST_HWM": hwm.name}
        result = subprocess.run([sys.executable, "-c", _MEASURED, "status", *argv], cwd=REPO, env=env,
                                capture_output=True)
        peak_kib = int(hwm.read() or 0)
    return result.returncode, result.stdout.decode(), result.stderr.decode(), peak_kib * 1024


async def test_a_400_mb_sync_body_is_refused_within_the_memory_cap(make_actor, synapse) -> None:
    me = make_actor("me")
    piece = b",".join([EVENT] * 1000) + b","  # about 1 MB of events
    repeat = 400 * MIB // len(piece)
    async with RecordingProxy(synapse.base_url) as proxy:
        proxy.add(Raw(path_contains("/sync", "GET"), times=1, payload=piece, repeat=repeat,
                      prefix=b'{"next_batch": "s1", "rooms": {"join": {"!r:localhost": {"timeline": {"events": [',
                      suffix=EVENT + b"]}}}}}"))
        save_session(Session(proxy.base_url, me.user_id, me.device_id, me.access_token))
        code, out, err, peak = await asyncio.to_thread(peak_rss_of_status, "--json")
    print(f"peak RSS of status --json against a 400 MB /sync: {peak / MIB:.0f} MiB; "
          f"the proxy got {proxy.raw_bytes_sent / MIB:.0f} MiB out before the client hung up")
    assert code == 1 and out == "", (code, out, err)
    assert err.strip() == (
        "readmark: the homeserver failed: GET /_matrix/client/v3/sync answered more than 256 MiB, "
        "readmark's limit for one answer"
    ), err
    # The cap (256 MiB) and the interpreter's own ~50 MiB, with room to spare; reading the
    # whole body took 1.47 GB.
    assert 40 * MIB < peak < MAX_SYNC_BYTES + 150 * MIB, peak / MIB  # (an interpreter with readmark is more than 40)
    assert proxy.raw_bytes_sent < MAX_SYNC_BYTES + 36 * MIB, proxy.raw_bytes_sent / MIB
