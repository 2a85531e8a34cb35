"""The login session on disk: ``session.json`` in the platformdirs data dir, mode 0600.

The file is the only place the access token is stored. It is written atomically (a temp
file in the same directory, created 0600, fsynced, then renamed over the old one), so a
crash leaves either the old session or the new one, never half of one, and the token is
never readable by others, not even for a moment.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from app import paths

_FORMAT_VERSION = 1
_FIELDS = ("homeserver", "user_id", "device_id", "access_token")
# A temp file this old is what a killed write left behind (a write takes milliseconds);
# younger ones may belong to another readmark process writing right now.
STALE_TEMP_S = 30.0


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


def _tighten_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)


def save_session(session: Session, path: Path | None = None) -> Path:
    """Write the session atomically with mode 0600 in a 0700 directory; return the path."""
    import secrets  # with hmac and hashlib, ~3 ms that a start from a stored session never needs

    target = path if path is not None else paths.session_file()
    _tighten_dir(target.parent)
    remove_stale_temp_files(target)
    payload = json.dumps(session.to_json(), indent=2).encode("utf-8") + b"\n"
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)  # whatever the umask said
            view = memoryview(payload)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def _temp_files(target: Path) -> list[Path]:
    return list(target.parent.glob(f".{target.name}.*.tmp"))


def remove_stale_temp_files(target: Path, older_than: float = STALE_TEMP_S) -> None:
    """A write killed between creating its temp file and the rename leaves a copy of
    the token behind: remove such copies (``older_than`` 0: all of them)."""
    now = time.time()
    for temp in _temp_files(target):
        try:
            if older_than <= 0 or now - temp.stat().st_mtime > older_than:
                temp.unlink()
        except OSError:
            pass


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable. Not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    _fsync_dir(target.parent)
    return True
