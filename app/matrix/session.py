"""The login session on disk: ``session.json`` in the platformdirs data dir, mode 0600.

The file is the only place the access token is stored. It is written with
``app.store.files.write_atomic`` (a temp file in the same directory, created 0600,
fsynced, then renamed over the old one), so a crash leaves either the old session or the
new one, never half of one, and the token is never readable by others, not even for a
moment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from app import paths
from app.store.files import fsync_dir, remove_stale_temp_files, write_atomic

_FORMAT_VERSION = 1
_FIELDS = ("homeserver", "user_id", "device_id", "access_token")


class SessionError(Exception):
    """The session file exists but cannot be used. The message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Session:
    """One login: homeserver, user, device, and the access token (never in the repr)."""

    homeserver: str
    user_id: str
    device_id: str
    access_token: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Session(homeserver={self.homeserver!r}, user_id={self.user_id!r}, device_id={self.device_id!r})"

    def to_json(self) -> dict[str, object]:
        return {"version": _FORMAT_VERSION, **{name: getattr(self, name) for name in _FIELDS}}

    @classmethod
    def from_json(cls, data: object, *, source: str = "session") -> Session:
        if not isinstance(data, dict):
            raise SessionError(f"{source} is not a JSON object")
        version = data.get("version", _FORMAT_VERSION)
        if version != _FORMAT_VERSION:
            raise SessionError(f"{source} has format version {version!r}; this readmark reads {_FORMAT_VERSION}")
        values = {}
        for name in _FIELDS:
            value = data.get(name)
            if not isinstance(value, str) or not value:
                raise SessionError(f"{source} lacks {name!r}")
            values[name] = value
        return cls(**values)


def save_session(session: Session, path: Path | None = None) -> Path:
    """Write the session atomically with mode 0600 in a 0700 directory; return the path."""
    target = path if path is not None else paths.session_file()
    payload = json.dumps(session.to_json(), indent=2).encode("utf-8") + b"\n"
    return write_atomic(target, payload)


def load_session(path: Path | None = None) -> Session | None:
    """The stored session, None when there is none; ``SessionError`` when it is unusable."""
    source = path if path is not None else paths.session_file()
    remove_stale_temp_files(source)
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SessionError(f"cannot read the session file {source}: {error.strerror or error}") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        detail = " ".join(str(error).split())
        raise SessionError(f"the session file {source} is corrupt ({detail}); run `readmark logout` to remove it") from None
    try:
        return Session.from_json(data, source=f"the session file {source}")
    except SessionError as error:
        raise SessionError(f"{error}; run `readmark logout` to remove it") from None


def delete_session(path: Path | None = None) -> bool:
    """Remove the session file; True if there was one."""
    target = path if path is not None else paths.session_file()
    remove_stale_temp_files(target, older_than=0)
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    fsync_dir(target.parent)
    return True
