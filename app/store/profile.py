"""Who owns a profile: the one process that writes it.

Several readmark processes share a profile (a TUI and a status bar polling ``readmark
status``, two TUIs). One of them owns it: it holds an exclusive ``flock`` on
``owner.lock`` in the state directory for as long as it runs, and it alone syncs, sends
the receipt queue, and writes the queue file, the read-state cache and (with encryption)
the crypto store. The others read the owner's cache and hand their receipts to it
through the inbox (``app.matrix.queue.ReceiptInbox``). The kernel drops the lock when
the owner exits, however it exits, and the next process to ask takes over.

The lock file also says who holds it (process ID and what it is), for the others to show.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from app.store.files import FILE_MODE, private_dir, write_all

LOCK_NAME = "owner.lock"


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that holds a profile: its ID, and what it is (``tui``, ``status``, ``mark``)."""

    pid: int | None
    kind: str = ""

    @property
    def short_lived(self) -> bool:
        """A one-shot command: it lets go within seconds."""
        return self.kind in ("status", "mark", "keys", "logout")

    def describe(self) -> str:
        what = {"tui": "readmark", "status": "readmark status", "mark": "readmark mark"}.get(self.kind, "readmark")
        return f"{what} (pid {self.pid})" if self.pid else f"another {what}"


class ProfileLock:
    """The ``flock`` that makes one process the owner of a profile."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_NAME
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, kind: str) -> bool:
        """Become the owner if nobody is; never waits. True if this object holds the lock
        (again or now). Raises ``OSError`` when the state directory cannot hold the lock
        file at all (read-only, not a directory)."""
        if self._fd is not None:
            return True
        private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            write_all(fd, json.dumps({"pid": os.getpid(), "kind": kind, "since": int(time.time())}).encode())
        except OSError:
            pass  # who holds it is for display only; holding it is what counts
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def owner(self) -> Owner:
        """Who holds the lock, as the holder wrote it; for a process whose ``acquire``
        just failed (the file is not locked to read it: a reader holding even a shared
        lock would make someone's ``acquire`` fail)."""
        if self._fd is not None:
            return Owner(os.getpid(), "")
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC)
        except OSError:
            return Owner(None)
        try:
            raw = os.read(fd, 4096)
        finally:
            os.close(fd)
        try:
            data = json.loads(raw)
            pid, kind = data.get("pid"), data.get("kind")
        except (ValueError, AttributeError, RecursionError):
            return Owner(None)
        return Owner(pid if type(pid) is int and pid > 0 else None, kind if isinstance(kind, str) else "")

    def __del__(self) -> None:
        # A service dropped without close() must not keep the profile.
        self.release()

    def __enter__(self) -> ProfileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
