"""Every file readmark owns is written whole or not at all (``app.store.files.write_atomic``):
short writes are carried on, a write that cannot finish leaves the old file as it was and
says so, and what was reported safe stays safe. Seen before: on a nearly full disk the
queue's single ``os.write`` wrote 4,096 bytes of a longer document, and the next start
set the truncated file aside, losing 31 receipts the status line had called queued."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from app.matrix.queue import QueueWriteError, ReceiptQueue
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType
from app.store import files
from tests.reliability.test_disk import needs_mount

pytestmark = [pytest.mark.faults]
REPO = Path(__file__).resolve().parents[2]
ME = "@me:test"


def requests(count: int) -> list[ReceiptRequest]:
    # Distinct keys (one thread each): nothing coalesces, the file grows with each.
    return [ReceiptRequest("!ops:test", ReceiptType.PRIVATE, f"$event-{i:04d}-{'x' * 60}", f"$root-{i:04d}")
            for i in range(count)]


def test_short_writes_are_carried_on_to_the_end(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    real_write = os.write
    calls: list[int] = []

    def short_write(fd: int, data) -> int:  # noqa: ANN001
        calls.append(len(data))
        return real_write(fd, bytes(data[:4096]))

    monkeypatch.setattr(files.os, "write", short_write)
    queue = ReceiptQueue(tmp_path / "q.json", ME)
    for request in requests(31):
        queue.submit(request)
    assert max(calls) > 4096  # the document outgrew one write
    monkeypatch.undo()
    again = ReceiptQueue(tmp_path / "q.json", ME)
    assert again.load() == requests(31) and again.problem is None


def test_a_write_that_cannot_finish_keeps_the_old_file_and_refuses_the_new_request(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    queue = ReceiptQueue(tmp_path / "q.json", ME)
    for request in requests(5):
        queue.submit(request)
    before = (tmp_path / "q.json").read_bytes()
    real_write = os.write

    def full_disk(fd: int, data) -> int:  # noqa: ANN001
        return real_write(fd, bytes(data[:100])) if len(data) > 1000 else 0

    monkeypatch.setattr(files.os, "write", full_disk)
    with pytest.raises(QueueWriteError, match="No space left on device"):
        queue.submit(requests(6)[5])
    monkeypatch.undo()
    assert (tmp_path / "q.json").read_bytes() == before
    assert not list(tmp_path.glob(".q.json.*.tmp"))  # no half-written temp file left
    assert len(queue) == 5
    assert ReceiptQueue(tmp_path / "q.json", ME).load() == requests(5)


def test_written_files_are_private_whatever_the_umask(tmp_path) -> None:  # noqa: ANN001
    old = os.umask(0)
    try:
        target = files.write_atomic(tmp_path / "new" / "file.json", b"{}")
        files.create_private_file(tmp_path / "other" / "db")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "other" / "db").stat().st_mode & 0o777 == 0o600


FILL_UP = """
import json, sys
from pathlib import Path
from app.matrix.queue import QueueWriteError, ReceiptQueue
from app.model.plan import ReceiptRequest
from app.model.receipts import ReceiptType

queue = ReceiptQueue(Path(sys.argv[1]) / "q.json", "@me:test")
accepted = 0
for i in range(100_000):
    request = ReceiptRequest("!ops:test", ReceiptType.PRIVATE, f"$event-{i:05d}-{'x' * 200}", f"$root-{i:05d}")
    try:
        queue.submit(request)
    except QueueWriteError as error:
        print("refused", accepted, error, flush=True)
        break
    accepted += 1
reloaded = ReceiptQueue(Path(sys.argv[1]) / "q.json", "@me:test")
print("reloaded", len(reloaded.load()), reloaded.problem, flush=True)
"""


@needs_mount
def test_a_full_filesystem_refuses_the_next_receipt_and_keeps_every_earlier_one(tmp_path) -> None:  # noqa: ANN001
    where = tmp_path / "tiny"
    where.mkdir()
    script = f"""
set -e
mount -t tmpfs -o size=64k tmpfs {shlex.quote(str(where))}
{shlex.join([sys.executable, "-c", FILL_UP, str(where)])}
"""
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True,
                            cwd=REPO, env=os.environ.copy(), timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    refused, reloaded = result.stdout.splitlines()
    _, accepted, *reason = refused.split()
    assert "No space left on device" in " ".join(reason) and "nothing was sent" in " ".join(reason)
    assert int(accepted) > 10  # a real amount of queue fitted before the disk was full
    # Every receipt reported queued is in the file, which reads back whole.
    assert reloaded == f"reloaded {accepted} None"
