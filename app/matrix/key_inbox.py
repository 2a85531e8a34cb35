"""Room keys handed to the process that owns the profile, which alone opens the crypto
store (``app/store/profile.py``): ``readmark keys import`` beside a running TUI writes the
sessions it read from an export into a file of its own here (0600, written whole), the
owner imports them (and decrypts what waited for them at once), then answers with the
counts in a file beside it and removes the request.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.store.files import write_atomic

KEY_INBOX_DIR = "key-inbox"
VERSION = 1
# A request is a few hundred bytes a session; an export of everything can be large.
MAX_REQUEST_BYTES = 256 * 2**20


@dataclass(frozen=True, slots=True)
class Answer:
    imported: int
    known: int
    invalid: int
    error: str | None = None


class KeyInbox:
    def __init__(self, directory: Path, user_id: str) -> None:
        self.directory = directory
        self.user_id = user_id

    def hand_over(self, sessions: list[dict[str, Any]]) -> Path:
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.json"
        document = {"version": VERSION, "user_id": self.user_id, "sessions": sessions}
        return write_atomic(self.directory / name, json.dumps(document, separators=(",", ":")).encode())

    def waiting(self) -> list[tuple[Path, list[dict[str, Any]] | None]]:
        """Requests not answered yet, oldest first; None for one that cannot be read."""
        try:
            names = sorted(e.name for e in os.scandir(self.directory) if e.name.endswith(".json"))
        except OSError:
            return []
        found: list[tuple[Path, list[dict[str, Any]] | None]] = []
        for name in names:
            path = self.directory / name
            try:
                with open(path, "rb") as handle:
                    raw = handle.read(MAX_REQUEST_BYTES + 1)
                document = json.loads(raw) if len(raw) <= MAX_REQUEST_BYTES else None
                sessions = document.get("sessions") if isinstance(document, dict) else None
                if document.get("user_id") != self.user_id or not isinstance(sessions, list):  # type: ignore[union-attr]
                    raise ValueError("not a request of this user")
                found.append((path, [s for s in sessions if isinstance(s, dict)]))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, AttributeError, RecursionError):
                found.append((path, None))
        return found

    def answer(self, request: Path, answer: Answer) -> None:
        """The owner's counts for a request, which then goes."""
        counts = {"imported": answer.imported, "known": answer.known, "invalid": answer.invalid, "error": answer.error}
        write_atomic(request.with_suffix(".done"), json.dumps(counts).encode())
        request.unlink(missing_ok=True)

    def wait_for_answer(self, request: Path, timeout: float) -> Answer | None:
        """The owner's answer to ``request`` within ``timeout`` seconds, or None."""
        done = request.with_suffix(".done")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = json.loads(done.read_bytes())
            except (FileNotFoundError, ValueError):
                time.sleep(0.1)
                continue
            done.unlink(missing_ok=True)
            return Answer(int(data.get("imported", 0)), int(data.get("known", 0)), int(data.get("invalid", 0)),
                          data.get("error"))
        return None
