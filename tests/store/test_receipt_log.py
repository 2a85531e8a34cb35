"""The receipt log: appended whole, read back, a line cut short skipped, bounded, 0600."""

from __future__ import annotations

import os
import stat

from app.model.audit import SentReceipt
from app.model.plan import FullyReadRequest, ReceiptRequest
from app.model.receipts import ReceiptType
from app.store import receipt_log


def test_append_read_cut_and_bound(tmp_path, monkeypatch) -> None:
    path = tmp_path / "state" / receipt_log.FILE_NAME
    os.umask(0o022)
    first = receipt_log.entries_of(ReceiptRequest("!r:t", ReceiptType.PRIVATE, "$e", "main"), 5)
    assert first == [SentReceipt(5, "!r:t", "main", ReceiptType.PRIVATE, "$e")]
    assert receipt_log.entries_of(FullyReadRequest("!r:t", "$f"), 6) == []
    marker = receipt_log.entries_of(FullyReadRequest("!r:t", "$f", ReceiptType.PUBLIC, "$g"), 7)
    receipt_log.record(first + marker, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert receipt_log.read(path) == first + [SentReceipt(7, "!r:t", None, ReceiptType.PUBLIC, "$g")]
    # A crash cut the last line short: it is skipped, and the next line starts anew.
    with open(path, "ab") as out:
        out.write(b'{"ts": 8, "room": "!r:t", "thr')
    receipt_log.record(receipt_log.entries_of(ReceiptRequest("!r:t", ReceiptType.PUBLIC, "$h", None), 9), path)
    assert [e.event_id for e in receipt_log.read(path)] == ["$e", "$g", "$h"]
    # Hostile lines are skipped.
    with open(path, "ab") as out:
        out.write(b'[1,2]\n{"ts": "x"}\n{"ts": 1, "room": "lobby", "thread": null, "type": "m.read", "event": "$x"}\n')
    assert len(receipt_log.read(path)) == 3
    # Bounded: past MAX_BYTES the newest half stays.
    monkeypatch.setattr(receipt_log, "MAX_BYTES", 2_000)
    many = [SentReceipt(i, "!r:t", None, ReceiptType.PRIVATE, f"$n{i}") for i in range(100)]
    receipt_log.record(many, path)
    kept = receipt_log.read(path)
    assert path.stat().st_size <= 2_000 + 200 and kept and kept[-1].event_id == "$n99"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert receipt_log.read(tmp_path / "absent") == []
