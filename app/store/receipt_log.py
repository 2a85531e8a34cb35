"""The record of every receipt readmark sent and the server accepted (time, room, thread,
type, event), in the state directory, for the audit (``app.model.audit``) to check what
the server echoes back against what readmark itself sent.

One JSON object per line, appended by the process that owns the profile (the one writer);
a line is written with one ``write`` on a file opened for appending, so it is there whole
or not at all, and a line cut short by a crash is skipped on reading (the next line starts
on a line of its own). Bounded: past ``MAX_BYTES`` the newest ``MAX_BYTES / 2`` are kept, written whole
(``write_atomic``). Mode 0600 whatever the umask. Never message text: IDs and times only.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from app import paths
from app.model.audit import SentReceipt
from app.model.ids import MAIN, is_event_id, is_room_id
from app.model.plan import FullyReadRequest, ReceiptRequest, Request
from app.model.receipts import ReceiptType
from app.store.files import create_private_file, private_dir, write_all, write_atomic

log = logging.getLogger(__name__)

FILE_NAME: Final = "receipt-log.jsonl"
MAX_BYTES: Final = 2 * 2**20
_TYPES: Final = {t.value: t for t in ReceiptType}


def log_path(state: Path | None = None) -> Path:
    return (state or paths.state_dir()) / FILE_NAME


def entries_of(request: Request, ts: int) -> list[SentReceipt]:
    """The receipts a request carried (a fully-read request with a receipt carries one)."""
    if isinstance(request, ReceiptRequest):
        return [SentReceipt(ts, request.room_id, request.thread_id, request.receipt_type, request.event_id)]
    if isinstance(request, FullyReadRequest) and request.receipt_type is not None and request.receipt_event_id:
        return [SentReceipt(ts, request.room_id, None, request.receipt_type, request.receipt_event_id)]
    return []


def record(entries: Iterable[SentReceipt], path: Path | None = None) -> None:
    """Append ``entries``; a failure to write is logged, never raised (the receipts were
    sent: the record is for the audit, and an unwritable state dir must not undo them)."""
    lines = "".join(
        json.dumps({"ts": e.ts, "room": e.room_id, "thread": e.thread_id, "type": e.receipt_type.value,
                    "event": e.event_id}, separators=(",", ":")) + "\n"
        for e in entries
    ).encode()
    if not lines:
        return
    path = path or log_path()
    try:
        private_dir(path.parent)
        create_private_file(path)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            if size:
                with open(path, "rb") as existing:
                    existing.seek(size - 1)
                    if existing.read(1) != b"\n":
                        lines = b"\n" + lines  # after a line a crash cut short
            write_all(fd, lines)
        finally:
            os.close(fd)
        if size + len(lines) > MAX_BYTES:
            _shrink(path)
    except OSError as error:
        log.warning("could not record sent receipts in %s: %s", path, error.strerror or error)


def _shrink(path: Path) -> None:
    data = path.read_bytes()
    keep = data[-(MAX_BYTES // 2) :]
    keep = keep[keep.find(b"\n") + 1 :]
    write_atomic(path, keep)


def read(path: Path | None = None) -> list[SentReceipt]:
    """Every recorded receipt, oldest first; lines that are not exactly an entry are
    skipped; a missing or unreadable file is an empty record."""
    path = path or log_path()
    try:
        data = path.read_bytes()
    except OSError:
        return []
    found: list[SentReceipt] = []
    for line in data.splitlines():
        try:
            raw = json.loads(line)
        except ValueError:
            continue
        if not isinstance(raw, dict):
            continue
        ts, room, thread, kind, event = (raw.get(k) for k in ("ts", "room", "thread", "type", "event"))
        if not (type(ts) is int and is_room_id(room) and is_event_id(event) and kind in _TYPES
                and (thread is None or thread == MAIN or is_event_id(thread))):
            continue
        found.append(SentReceipt(ts, room, thread, _TYPES[kind], event))
    return found
