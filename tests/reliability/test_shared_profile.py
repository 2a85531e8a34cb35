"""One profile, many processes: the rule of ``app/store/profile.py``. One process owns the
profile (it syncs, sends and writes the queue and the cache); the others show what it
saves and hand their receipts to it; the next one takes over when it quits. Every receipt
queued by any of them reaches the server exactly once, checked by a proxy and a witness.

Two services in one test process stand for two processes: the profile lock is a ``flock``,
which two open files of one process contend for exactly as two processes do. One test
runs the real ``readmark status`` and ``mark`` beside a running service."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from app import cli, paths
from app.config import Settings
from app.matrix.client import MatrixClient
from app.matrix.queue import ReceiptInbox, ReceiptQueue
from app.matrix.service import MatrixService, SyncState
from app.matrix.session import Session, save_session
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction, ReceiptRequest
from app.model.receipts import ReceiptType
from app.store.profile import Owner, ProfileLock
from app.ui.screens.main import MainScreen
from tests.matrix.helpers import Recorder, eventually, in_thread
from tests.reliability.helpers import RecordingProxy, Rule, make_scene, path_contains, receipts_sent, until
from tests.ui.helpers import RecordingApp

pytestmark = [pytest.mark.faults, pytest.mark.synapse]

PRIV = ReceiptType.PRIVATE


def service_via(proxy: RecordingProxy, scene) -> MatrixService:  # noqa: ANN001
    session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
    return MatrixService(MatrixClient.from_session(session, request_timeout=5), sync_timeout_ms=500)


async def started(service: MatrixService) -> tuple[Recorder, asyncio.Task]:
    recorder = Recorder()
    return recorder, asyncio.create_task(service.run(recorder))


async def stopped(service: MatrixService, task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await service.close()


def server_down(proxy: RecordingProxy) -> list[Rule]:
    return [
        proxy.add(Rule(path_contains("/sync"), times=10**6, status=502, body={"error": "down"})),
        proxy.add(Rule(path_contains("/receipt/"), times=10**6, status=502, body={"error": "down"})),
    ]


def server_up(rules: list[Rule]) -> None:
    for rule in rules:
        rule.times = 0


async def test_two_processes_queue_while_the_server_is_down_and_both_receipts_arrive(make_actor, synapse) -> None:  # noqa: ANN001
    """The issue's first case: TUI A and TUI B on one profile, the homeserver down; each
    queues a private receipt for a different thread; both quit; the next start sends both."""
    scene = make_scene(make_actor, replies=2, main=2)
    second_root = scene.alice.send_text(scene.room, "Second thread")
    second_reply = scene.alice.send_thread_reply(scene.room, second_root, "its reply")
    async with RecordingProxy(synapse.base_url) as proxy:
        a, b = service_via(proxy, scene), service_via(proxy, scene)
        rec_a, task_a = await started(a)
        await eventually(lambda: a.status.state is SyncState.LIVE and second_reply and a.account.rooms.get(scene.room)
                         and a.account.rooms[scene.room].event(second_reply))
        rec_b, task_b = await started(b)
        await eventually(lambda: b.status.state is SyncState.FOLLOWING)
        assert b.following == Owner(os.getpid(), "tui")
        # B shows A's saved state: the rooms A synced.
        await eventually(lambda: b.account.rooms.get(scene.room) and b.account.rooms[scene.room].event(second_reply))
        down = server_down(proxy)
        first = a.submit(scene.room, ReceiptAction(ActionKind.THREADED, PRIV, scene.root))
        second = b.submit(scene.room, ReceiptAction(ActionKind.THREADED, PRIV, second_root))
        assert isinstance(first, ReceiptRequest) and isinstance(second, ReceiptRequest)
        assert b.queued == 1
        # A adopts what B handed over into its own queue (durably) within a second or so.
        await eventually(lambda: a.queued == 2 and b.queued == 0, timeout=10)
        await stopped(b, task_b)
        await stopped(a, task_a)
        assert not receipts_sent(proxy) or all(proxy.status_of(s.index) == 502 for s in receipts_sent(proxy))
        server_up(down)
        before = len(proxy.seen)
        c = service_via(proxy, scene)
        rec_c, task_c = await started(c)
        try:
            await eventually(lambda: c.queued == 0 and len(rec_c.outcomes) >= 2, timeout=30)
            assert all(outcome.accepted for outcome in rec_c.outcomes)
        finally:
            await stopped(c, task_c)
    delivered = [s for s in receipts_sent(proxy) if s.index >= before]
    assert sorted((s.thread, s.event_id) for s in delivered) == sorted(
        [(scene.root, scene.replies[-1]), (second_root, second_reply)]
    )  # each exactly once
    mine = await in_thread(lambda: scene.me.room_receipts(scene.room))
    assert scene.me.user_id in mine[scene.replies[-1]]["m.read.private"]
    assert scene.me.user_id in mine[second_reply]["m.read.private"]
    assert await in_thread(lambda: scene.my_receipts_seen_by_witness()) == {}


async def test_a_follower_takes_over_when_the_owner_quits_and_sends_what_it_handed_over(make_actor, synapse) -> None:  # noqa: ANN001
    scene = make_scene(make_actor, replies=1, main=2)
    async with RecordingProxy(synapse.base_url) as proxy:
        a, b = service_via(proxy, scene), service_via(proxy, scene)
        _, task_a = await started(a)
        await eventually(lambda: a.status.state is SyncState.LIVE and scene.room in a.account.rooms)
        rec_b, task_b = await started(b)
        await eventually(lambda: b.status.state is SyncState.FOLLOWING and scene.room in b.account.rooms)
        syncs_before = sum("/sync" in seen.path_qs for seen in proxy.seen)
        await asyncio.sleep(1.5)
        # The follower does not sync (a second /sync loop would take the owner's to-device
        # messages once the device decrypts).
        assert a.status.state is SyncState.LIVE
        # Hold the owner's adoption: it is about to quit.
        down = server_down(proxy)
        request = b.submit(scene.room, ReceiptAction(ActionKind.THREADED, PRIV, MAIN))
        assert isinstance(request, ReceiptRequest)
        await stopped(a, task_a)
        server_up(down)
        try:
            await eventually(lambda: b.status.state is SyncState.LIVE, timeout=15)
            outcome = await eventually(lambda: next((o for o in rec_b.outcomes if o.request == request), None), 30)
            assert outcome.accepted and b.queued == 0
        finally:
            await stopped(b, task_b)
    sent = [s for s in receipts_sent(proxy) if proxy.status_of(s.index) == 200]
    assert [(s.thread, s.event_id) for s in sent] == [(MAIN, scene.main[-1])]  # once
    assert syncs_before > 0
    mine = await in_thread(lambda: scene.me.room_receipts(scene.room))
    assert scene.me.user_id in mine[scene.main[-1]]["m.read.private"]


async def test_status_and_mark_beside_a_running_owner_read_its_state_and_never_sync(make_actor, synapse, capsys) -> None:  # noqa: ANN001
    scene = make_scene(make_actor, replies=1, main=2)
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        save_session(session)
        owner = service_via(proxy, scene)
        _, task = await started(owner)
        try:
            await eventually(lambda: owner.status.state is SyncState.LIVE and scene.room in owner.account.rooms)
            await eventually(lambda: (paths.cache_dir() / "readmark.sqlite3").exists())
            mark_at = len(proxy.seen)
            code = await asyncio.to_thread(cli.main, ["status", "--json"])
            out, err = capsys.readouterr()
            assert code == 0, err
            document = json.loads(out)
            assert [room["room_id"] for room in document["rooms"]] == [scene.room]
            assert document["rooms"][0]["unread"] == 4  # the root, its reply, two in main
            code = await asyncio.to_thread(cli.main, ["mark", scene.room])
            out, err = capsys.readouterr()
            assert code == 0, err
            assert "private receipt" in out
            await asyncio.sleep(1.2)  # an owner's long-poll or two more
        finally:
            await stopped(owner, task)
    # The owner's long-polls (timeout=500) go on; neither command uploaded a filter or
    # made a sync of its own (theirs would not wait: timeout=0).
    later = proxy.seen[mark_at:]
    assert not [seen.path_qs for seen in later if "/filter" in seen.path_qs]
    assert not [seen.path_qs for seen in later if "/sync" in seen.path_qs and "timeout=0" in seen.path_qs]
    assert any("/sync" in seen.path_qs for seen in later)  # the owner did sync meanwhile
    sent = [s for s in receipts_sent(proxy) if s.index >= mark_at]
    assert [(s.receipt_type, s.thread, s.event_id) for s in sent] == [("m.read.private", MAIN, scene.main[-1])]


async def test_a_second_tui_says_it_follows_and_takes_over(make_actor, synapse) -> None:  # noqa: ANN001
    scene = make_scene(make_actor, replies=1, main=1)
    async with RecordingProxy(synapse.base_url) as proxy:
        owner = service_via(proxy, scene)
        _, task = await started(owner)
        await eventually(lambda: owner.status.state is SyncState.LIVE and scene.room in owner.account.rooms)
        app = RecordingApp(service_via(proxy, scene), Settings())
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and "following" in app.screen.status.sync_text)
            assert f"pid {os.getpid()}" in app.screen.status.sync_text
            assert any(title == "Another readmark is running" for title, _, _ in app.notified)
            await stopped(owner, task)
            await until(pilot, lambda: app.screen.status.sync_text.endswith("live"), 15)
            await pilot.press("q")
            await pilot.pause()


# ---- the pieces, without a server ---------------------------------------------------------


def test_the_profile_lock_has_one_holder_and_says_who(tmp_path) -> None:  # noqa: ANN001
    first, second = ProfileLock(tmp_path), ProfileLock(tmp_path)
    assert first.acquire("tui") and first.acquire("tui")
    assert not second.acquire("status")
    assert second.owner() == Owner(os.getpid(), "tui")
    assert second.owner().describe() == f"readmark (pid {os.getpid()})"
    assert (tmp_path / "owner.lock").stat().st_mode & 0o777 == 0o600
    first.release()
    assert second.acquire("status") and second.owner() == Owner(os.getpid(), "")
    assert ProfileLock(tmp_path).owner() == Owner(os.getpid(), "status")
    second.release()


def test_a_lock_dropped_without_release_frees_the_profile(tmp_path) -> None:  # noqa: ANN001
    lock = ProfileLock(tmp_path)
    assert lock.acquire("tui")
    del lock
    assert ProfileLock(tmp_path).acquire("tui")


def test_the_inbox_hands_over_whole_requests_and_sets_aside_what_it_cannot_read(tmp_path) -> None:  # noqa: ANN001
    inbox = ReceiptInbox(tmp_path / "inbox", "@me:test")
    first = ReceiptRequest("!r:test", PRIV, "$a", MAIN)
    second = ReceiptRequest("!r:test", PRIV, "$b", None)
    path_one = inbox.hand_over(first)
    path_two = inbox.hand_over(second)
    assert path_one.stat().st_mode & 0o777 == 0o600
    (tmp_path / "inbox" / "00000000000000000001-x.json").write_text("[" * 100_000)
    (tmp_path / "inbox" / "00000000000000000002-y.json").write_text(
        json.dumps({"version": 1, "user_id": "@other:test", "request": {"kind": "receipt"}})
    )
    waiting = inbox.waiting()
    assert [request for _, request in waiting] == [None, None, first, second]
    assert ReceiptInbox(tmp_path / "inbox", "@other:test").waiting()[1][1] is None  # malformed request
    for path, request in waiting:
        if request is None:
            assert inbox.set_aside(path) is not None
        else:
            inbox.done(path)
    assert inbox.waiting() == [] and not path_one.exists() and not path_two.exists()
    assert len(list((tmp_path / "inbox").glob("*.unreadable"))) == 2


def test_a_queue_file_with_one_bad_entry_keeps_the_others_and_names_the_copy(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "q.json"
    good = {"kind": "receipt", "room_id": "!r:test", "event_id": "$a", "receipt_type": "m.read.private", "thread_id": "main"}
    bad = {"kind": "receipt", "room_id": "not a room", "event_id": "$b", "receipt_type": "m.read.private"}
    path.write_text(json.dumps({"version": 1, "user_id": "@me:test", "requests": [good, bad, {"kind": 7}]}))
    queue = ReceiptQueue(path, "@me:test")
    assert queue.load() == [ReceiptRequest("!r:test", PRIV, "$a", MAIN)]
    [aside] = tmp_path.glob("q.json.unreadable-*")
    assert json.loads(aside.read_text())["requests"][1] == bad
    assert queue.problem == f"receipt queue {path} 2 queued receipt(s) in it could not be read; kept as {aside}"
    # The file itself now holds the entry that could be read, and loads clean.
    again = ReceiptQueue(path, "@me:test")
    assert again.load() == [ReceiptRequest("!r:test", PRIV, "$a", MAIN)] and again.problem is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"[" * 100_000, "is nested too deeply"),
        (b'{"version": 1, "requests": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "is nested too deeply"),
        (b'{"version": 1, "requests": [', "is not valid JSON"),
        (b"\xff\xfe not text", "is not valid JSON"),
        (b'{"version": 99, "requests": []}', "is not a receipt queue this readmark reads"),
        (b" " * (16 * 2**20 + 1), "is larger than 16 MiB"),
    ],
    ids=["deep", "deep-inside", "truncated", "not-utf8", "other-version", "huge"],
)
def test_an_unreadable_queue_file_is_moved_aside_and_never_stops_a_start(tmp_path, content, reason) -> None:  # noqa: ANN001
    path = tmp_path / "q.json"
    path.write_bytes(content)
    queue = ReceiptQueue(path, "@me:test")
    assert queue.load() == []
    [aside] = tmp_path.glob("q.json.unreadable-*")
    assert aside.read_bytes() == content and not path.exists()
    assert queue.problem.startswith(f"receipt queue {path} {reason}")


def test_status_names_what_was_kept_aside(tmp_path) -> None:  # noqa: ANN001
    from app.commands import profile_warnings, status_text

    state = tmp_path / "state"
    state.mkdir()
    (state / "receipt-queue.json").write_text('{"version": 1, "requests": [')
    assert profile_warnings(state) == [
        f"receipt queue {state / 'receipt-queue.json'} is not valid JSON; the next start keeps it aside"
    ]
    ReceiptQueue(state / "receipt-queue.json", "@me:test").load()
    [kept] = profile_warnings(state)
    assert kept.startswith(f"{state}/receipt-queue.json.unreadable-") and kept.endswith("look at it, then delete it")
    text = status_text({"user_id": "@me:test", "rooms": [], "warnings": [kept]})
    assert text.splitlines()[-1] == f"warning: {kept}"


READ_ONLY_STATE = """
import asyncio, json, sys
from app.matrix.client import MatrixClient
from app.matrix.queue import QueueWriteError
from app.matrix.service import MatrixService
from app.matrix.session import load_session
from app.model.ids import MAIN
from app.model.plan import ActionKind, ReceiptAction
from app.model.receipts import ReceiptType

service = MatrixService(MatrixClient.from_session(load_session()))
account = service.load_local()
print("rooms", len(account.rooms), "queued", service.queued, flush=True)
room, thread = sys.argv[1], sys.argv[2]
try:
    print("planned:", service.submit(room, ReceiptAction(ActionKind.THREADED, ReceiptType.PRIVATE, thread)))
except QueueWriteError as error:
    print("refused:", error, flush=True)
"""


@pytest.mark.skipif(not __import__("tests.reliability.test_disk", fromlist=["_can_mount"])._can_mount(),
                    reason="needs unshare -m and mount (CAP_SYS_ADMIN)")
async def test_a_read_only_state_dir_with_an_old_queue_starts_and_says_why_nothing_can_be_queued(
    make_actor, synapse, capsys, xdg_dirs  # noqa: ANN001
) -> None:
    import shlex
    import subprocess
    import sys

    scene = make_scene(make_actor, replies=1, main=1)
    save_session(Session(synapse.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token))
    assert await asyncio.to_thread(cli.main, ["status"]) == 0  # a cache to start from
    capsys.readouterr()
    state = paths.state_dir()
    ReceiptQueue(state / "receipt-queue.json", scene.me.user_id).submit(ReceiptRequest(scene.room, PRIV, scene.main[0], MAIN))
    copy = xdg_dirs.home / "state-copy"
    script = f"""
set -e
cp -a {shlex.quote(str(state))} {shlex.quote(str(copy))}
mount -t tmpfs -o size=1m tmpfs {shlex.quote(str(state))}
cp -a {shlex.quote(str(copy))}/. {shlex.quote(str(state))}/
mount -o remount,ro {shlex.quote(str(state))}
set +e
{shlex.join([sys.executable, "-m", "app", "status", "--json", "--offline"])}
echo "status exit $?"
{shlex.join([sys.executable, "-c", READ_ONLY_STATE, scene.room, scene.root])}
echo "service exit $?"
"""
    result = await asyncio.to_thread(
        subprocess.run, ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]), env=os.environ.copy(), timeout=60,
    )
    assert "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert json.loads(lines[0])["rooms"][0]["room_id"] == scene.room
    assert "status exit 0" in lines
    # The old queue is read (and applied), the lock cannot be made, a key says so in one line.
    assert "rooms 1 queued 1" in lines, result.stdout
    refused = next((line for line in lines if line.startswith("refused:")), result.stdout)
    assert "Read-only file system" in refused and "nothing was sent" in refused
    assert "service exit 0" in lines
