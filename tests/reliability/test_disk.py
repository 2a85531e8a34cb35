"""Disk full and read-only directories for ``readmark login``: one clear line, exit 1, no
partial session file, and no device left logged in on the server.

The tests run as root here, and root ignores ``chmod``: a read-only or full directory is
made with a private mount namespace instead (``unshare -m``, then a ``tmpfs`` mounted
``ro``, or one of 64 KiB filled up), which vanishes with the process. Where that is not
permitted (no CAP_SYS_ADMIN) those cases skip; a data directory whose parent is a file
(``ENOTDIR``) needs no privilege and always runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli, paths
from app.devserver.actor import CLIENT_V3

pytestmark = [pytest.mark.faults, pytest.mark.synapse]
REPO = Path(__file__).resolve().parents[2]


def _can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "d=$(mktemp -d) && mount -t tmpfs -o size=16k tmpfs $d && umount $d"],
        capture_output=True,
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs unshare -m and mount (CAP_SYS_ADMIN)")


def password_of(actor) -> str:  # noqa: ANN001
    return f"pw-{actor.user_id[1:].split(':', 1)[0]}"


def devices(actor) -> set[str]:  # noqa: ANN001
    return {d["device_id"] for d in actor.request("GET", f"{CLIENT_V3}/devices")["devices"]}


def login_in_namespace(synapse, actor, mount_dir: Path, setup: str) -> tuple[subprocess.CompletedProcess, list[str]]:  # noqa: ANN001
    """``readmark login`` inside a private mount namespace where ``setup`` has prepared
    ``mount_dir``; returns the result and what ``mount_dir/readmark`` holds afterwards."""
    login = shlex.join([sys.executable, "-m", "app", "login", "--homeserver", synapse.base_url,
                        "--user", actor.user_id, "--password-stdin"])
    script = f"""
set -e
{setup}
set +e
{login}
code=$?
echo "--- listing" >&2
ls -A {shlex.quote(str(mount_dir / 'readmark'))} >&2 2>/dev/null
exit $code
"""
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script],
        input=password_of(actor) + "\n", capture_output=True, text=True, cwd=REPO, env=os.environ.copy(), timeout=60,
    )
    err, _, listing = result.stderr.partition("--- listing\n")
    result.stderr = err
    return result, listing.split()


def assert_one_line(err: str, *fragments: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("readmark: "), err
    assert "Traceback" not in err and "Logging error" not in err
    for fragment in fragments:
        assert fragment in err, err


@needs_mount
def test_login_on_a_full_disk(make_actor, synapse, xdg_dirs) -> None:  # noqa: ANN001
    actor = make_actor("me")
    before = devices(actor)
    data = xdg_dirs.data
    setup = f"""
mount -t tmpfs -o size=64k tmpfs {data}
mkdir -m 700 {data}/readmark
dd if=/dev/zero of={data}/filler bs=4096 2>/dev/null || true
"""
    result, listing = login_in_namespace(synapse, actor, data, setup)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert_one_line(result.stderr, "cannot store the session", "No space left on device", "logged out again")
    assert result.stdout == ""
    assert listing == []  # no session file, no half-written temp file
    assert devices(actor) == before  # the new device was logged out again


@needs_mount
def test_login_with_a_read_only_data_dir(make_actor, synapse, xdg_dirs) -> None:  # noqa: ANN001
    actor = make_actor("me")
    before = devices(actor)
    data = xdg_dirs.data
    result, listing = login_in_namespace(synapse, actor, data, f"mount -t tmpfs -o ro,size=64k tmpfs {data}")
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert_one_line(result.stderr, "cannot store the session", "Read-only file system")
    assert listing == []
    assert devices(actor) == before


@needs_mount
def test_login_with_the_log_and_state_dirs_on_a_full_disk(make_actor, synapse, xdg_dirs) -> None:  # noqa: ANN001
    """The log cannot be written: the login still works and says nothing extra (no
    '--- Logging error ---' traceback on stderr for each record)."""
    actor = make_actor("me")
    state = xdg_dirs.state
    setup = f"""
mount -t tmpfs -o size=64k tmpfs {state}
mkdir -p {state}/readmark/log
dd if=/dev/zero of={state}/filler bs=4096 2>/dev/null || true
"""
    result, _listing = login_in_namespace(synapse, actor, state, setup)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert result.stdout.startswith(f"logged in as {actor.user_id}")
    assert paths.session_file().exists()  # the data dir was not on the full disk


def test_login_when_the_data_dir_cannot_be_a_directory(make_actor, synapse, xdg_dirs, capsys, monkeypatch) -> None:  # noqa: ANN001
    """Works without privileges: XDG_DATA_HOME's parent is a regular file (ENOTDIR)."""
    actor = make_actor("me")
    before = devices(actor)
    blocker = xdg_dirs.home / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker / "data"))
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO(password_of(actor) + "\n"))
    code = cli.main(["login", "--homeserver", synapse.base_url, "--user", actor.user_id, "--password-stdin"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    # It fails before the password is sent: the session file cannot even be looked for.
    assert_one_line(err, "cannot read the session file", "Not a directory")
    assert blocker.read_text() == "a file where a directory should be"
    assert devices(actor) == before


async def test_a_receipt_that_cannot_be_queued_durably_is_not_shown_as_read_nor_sent(make_actor, synapse, tmp_path) -> None:  # noqa: ANN001
    """The queue file cannot be written (its directory is a file: ENOTDIR, as a full or
    read-only disk would refuse): the key says so, the counts do not drop, and nothing is
    sent behind the user's back."""
    from app.config import Settings
    from app.matrix.client import MatrixClient
    from app.matrix.service import MatrixService
    from app.matrix.session import Session
    from app.ui.screens.main import MainScreen
    from tests.reliability.helpers import RecordingProxy, make_scene, receipts_sent, until
    from tests.ui.helpers import RecordingApp, shown

    scene = make_scene(make_actor, replies=1, main=1)
    blocker = tmp_path / "state-is-a-file"
    blocker.write_text("")
    async with RecordingProxy(synapse.base_url) as proxy:
        session = Session(proxy.base_url, scene.me.user_id, scene.me.device_id, scene.me.access_token)
        service = MatrixService(MatrixClient.from_session(session), queue_path=blocker / "receipt-queue.json",
                                sync_timeout_ms=500)
        app = RecordingApp(service, Settings())
        async with app.run_test(size=(160, 40)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.status.sync_text.endswith("live"))
            screen = app.screen
            row = shown(screen.rooms, scene.room)
            await pilot.press("r")
            await pilot.pause(1.0)
            assert screen.last_action.outcome == "failed", screen.last_action
            assert any(title == "Could not queue the receipt" and "nothing was sent" in text and "\n" not in text
                       for title, text, _ in app.notified), app.notified
            assert shown(screen.rooms, scene.room) == row  # not shown as read
            assert service.queued == 0
            await pilot.press("q")
            await pilot.pause()
    assert receipts_sent(proxy) == []
