"""Writing readmark's own files: whole or not at all, and private.

``write_atomic`` writes a temp file beside the target (created 0600 whatever the umask),
loops until every byte is written (``os.write`` may write fewer bytes than asked, on a
nearly full disk for one), fsyncs it, renames it over the target and fsyncs the
directory. A failure at any step raises ``OSError`` and leaves the old file as it was:
a reader sees the old content or the new, never a mix, and what was safe stays safe.

``private_dir`` makes a directory readmark owns 0700, whatever the umask made it.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

# A temp file this old is what a killed write left behind (a write takes milliseconds);
# younger ones may belong to another readmark process writing right now.
STALE_TEMP_S = 30.0
FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(directory: Path) -> Path:
    """Create ``directory`` (and missing parents) and make it 0700; return it."""
    directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if (directory.stat().st_mode & 0o777) != DIR_MODE:
        os.chmod(directory, DIR_MODE)
    return directory


def create_private_file(path: Path) -> None:
    """Make sure ``path`` exists as a 0600 file (a file that already exists is tightened),
    so that whatever writes it next (SQLite, a log handler) does not create it with the
    umask's mode."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def write_all(fd: int, payload: bytes) -> None:
    """``os.write`` until every byte is written: a short write is not an error, and the
    rest goes in the next call; a write of nothing at all is (the disk is full)."""
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(28, "No space left on device (a write made no progress)")
        view = view[written:]


def write_atomic(target: Path, payload: bytes) -> Path:
    """Replace ``target`` with ``payload``, whole or not at all, mode 0600 in a 0700
    directory; return the target. Raises ``OSError`` with the old file untouched."""
    private_dir(target.parent)
    remove_stale_temp_files(target)
    temp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        try:
            os.fchmod(fd, FILE_MODE)  # whatever the umask said
            write_all(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def temp_files(target: Path) -> list[Path]:
    return list(target.parent.glob(f".{target.name}.*.tmp"))


def remove_stale_temp_files(target: Path, older_than: float = STALE_TEMP_S) -> None:
    """A write killed between creating its temp file and the rename leaves a copy
    behind (of the token, for the session file): remove such copies (``older_than`` 0:
    all of them)."""
    now = time.time()
    for temp in temp_files(target):
        try:
            if older_than <= 0 or now - temp.stat().st_mtime > older_than:
                temp.unlink()
        except OSError:
            pass


def fsync_dir(directory: Path) -> None:
    """Make a rename or an unlink itself durable. Not every platform can open a directory."""
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
