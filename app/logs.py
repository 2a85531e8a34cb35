"""Logging to ``readmark.log`` in the platformdirs log dir, with access tokens redacted.

The redaction is a filter on the handler, so it sees every record that reaches the file,
whichever logger (ours, nio's, aiohttp's) produced it, and it covers formatted arguments,
exception text and stack text alike. ``printable_line()`` (``redact()`` plus escaped
control characters) is what the CLI and the TUI's last-resort error pass their one line
through before printing it.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

from app import paths
from app.store.files import create_private_file, private_dir

LOG_FILE_NAME = "readmark.log"
REDACTED = "<redacted>"

# What a token looks like on the wire or in a message. Synapse's tokens start with syt_;
# other servers' do not, which is why the session's own token is registered too.
# These patterns and ``_CONTROL`` are compiled on first use (``re`` caches them), not at
# import: a start that logs nothing skips them.
_TOKEN_PATTERNS = (
    r"syt_[A-Za-z0-9_\-]+",
    r"(?i)(\bBearer\s+)[^\s\"',;]+",
    r"(?i)(\baccess_token=)[^&\s\"',;]+",
    r"(?i)([\"']access_token[\"']\s*:\s*[\"'])[^\"']*",
)

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_handler: logging.Handler | None = None


def register_secret(secret: str) -> None:
    """Redact this exact string (the current session's access token) wherever it appears."""
    if secret and len(secret) >= 6:  # a very short "secret" would mangle ordinary text
        with _secrets_lock:
            _secrets.add(secret)


# C0 and C1 controls: what terminal escape sequences are made of. An argument, a room
# name, a server's error text or an exception message may carry them; printed raw they
# would drive the terminal.
_CONTROL = "[\x00-\x1f\x7f-\x9f]"


def printable_line(message: str) -> str:
    """``message`` as one line safe to print to a terminal: whitespace runs (newlines
    included) collapsed to one space, other control characters escaped as ``\\xNN``,
    tokens redacted."""
    line = re.sub(_CONTROL, lambda match: f"\\x{ord(match.group()):02x}", " ".join(message.split()))
    return redact(line)


def redact(text: str) -> str:
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, REDACTED)
    for pattern in map(re.compile, _TOKEN_PATTERNS):
        if pattern.groups:
            text = pattern.sub(lambda match: match.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites each record so that no token reaches a handler's output."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Every log file it opens, rotated ones included, is readable by the user only:
    created 0600 before it is opened (a rotation renames the old file and opens a new
    one), so no umask ever gives it wider access, not even for a moment."""

    def _open(self):  # type: ignore[no-untyped-def]
        try:
            create_private_file(Path(self.baseFilename))
        except OSError:
            pass  # opening it says why
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 - logging's name
        # A full or read-only disk: the record is lost, quietly. logging's default prints
        # "--- Logging error ---" and a traceback to stderr for every record, all over
        # the user's terminal (or a script's output).
        pass

    def close(self) -> None:
        try:
            super().close()
        except OSError:  # the last flush met the same full disk
            pass


def log_file() -> Path:
    return paths.log_dir() / LOG_FILE_NAME


def setup_logging(level: int | str = logging.INFO) -> Path | None:
    """Send log records at ``level`` and above to the log file; return its path.

    Calling it again replaces the handler. When the log dir cannot be written, logging
    goes nowhere rather than failing the program.
    """
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
        _handler = None
    path = log_file()
    try:
        # The log dir lies in readmark's state dir on Linux: both are readmark's, 0700.
        if paths.state_dir() in path.parents:
            private_dir(paths.state_dir())
        private_dir(path.parent)
        handler: logging.Handler = _PrivateRotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        handler = logging.NullHandler()
        path = None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root.addHandler(handler)
    # nio's crypto and event parsing log what they handle (a rejected event whole, which
    # can be decrypted content) below the error level: the log must not hold it.
    for name in ("nio.crypto", "nio.events", "nio.store"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        root.setLevel(level)
    except (TypeError, ValueError):  # an unknown level name from the environment
        root.setLevel(logging.INFO)
    _handler = handler
    return path


def teardown_logging() -> None:
    """Remove the handler ``setup_logging`` installed (tests, and the end of ``main``)."""
    global _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None
