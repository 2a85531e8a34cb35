"""Command-line entry: argparse sub-commands for the TUI and the one-shot commands.

The CLI is the only place that prints; every error reaches the user as one line on
stderr and a non-zero exit code, never a traceback (unexpected ones go to the log file,
with tokens redacted). ``nio`` is imported only by the commands that talk to a server.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from app import __version__, paths
from app.logs import log_file, redact, setup_logging, teardown_logging
from app.matrix.errors import (
    LoginFailed,
    MatrixError,
    NetworkError,
    RateLimited,
    ServerError,
    TokenInvalid,
)
from app.matrix.session import Session, SessionError, delete_session, load_session, save_session

log = logging.getLogger(__name__)

# Exit codes: 1 the command failed, 2 bad usage, 70 a bug (EX_SOFTWARE), 130 interrupted.
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70


class CliError(Exception):
    """A problem to report to the user as one line, with an exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        raise CliError(f"{command + ': ' if command else ''}{message} (see --help)", EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="readmark",
        description="Keyboard-driven terminal read-state manager for Matrix.",
    )
    parser.add_argument("--version", action="version", version=f"readmark {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run the TUI against a private local Synapse with a seeded account")
    demo.add_argument("--reset", action="store_true", help="start the demo homeserver from scratch")

    login = sub.add_parser(
        "login",
        help="log in with a password and store the session (mode 0600)",
        description="Log in with a password. The password is never stored; the access token is "
        "kept in the session file, readable by you only.",
    )
    login.add_argument("--homeserver", required=True, metavar="URL", help="e.g. https://matrix.example.org")
    login.add_argument("--user", required=True, metavar="USER", help="@me:server or a localpart")
    login.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin (no prompt)"
    )
    login.add_argument("--device-name", default="readmark", metavar="NAME", help="name shown in your device list")

    logout = sub.add_parser(
        "logout",
        help="end the session on the homeserver and remove it and the cache locally",
    )
    logout.add_argument(
        "--force",
        action="store_true",
        help="remove the session locally even when the homeserver cannot be told",
    )
    return parser


# -- login / logout -------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: no password on stdin", EXIT_USAGE)
        return password
    try:
        password = getpass.getpass(f"Password for {args.user}: ")
    except EOFError:
        raise CliError("no password given", EXIT_USAGE) from None
    if not password:
        raise CliError("no password given", EXIT_USAGE)
    return password


def _login(args: argparse.Namespace) -> int:
    from app.matrix.client import MatrixClient, insecure_transport_warning, normalize_homeserver

    existing = load_session()
    if existing is not None:
        raise CliError(
            f"already logged in as {existing.user_id} (device {existing.device_id}) on "
            f"{existing.homeserver}; run `readmark logout` first",
            EXIT_FAILED,
        )
    homeserver = normalize_homeserver(args.homeserver)
    password = _read_password(args)
    warning = insecure_transport_warning(homeserver)
    if warning:
        print(f"readmark: warning: {warning}", file=sys.stderr)

    async def login() -> Session:
        client, session = await MatrixClient.login(homeserver, args.user, password, args.device_name)
        async with client:
            try:
                save_session(session)
            except OSError as error:
                # Do not leave a live device behind that nothing can use.
                try:
                    await client.logout()
                except MatrixError:
                    pass
                detail = error.strerror or str(error)
                raise CliError(
                    f"cannot store the session in {paths.session_file()}: {detail}; logged out again",
                    EXIT_FAILED,
                ) from None
        return session

    session = asyncio.run(login())
    print(f"logged in as {session.user_id} (device {session.device_id})")
    return 0


def _clear_local() -> None:
    """The session file and everything cached for the account."""
    try:
        delete_session()
        shutil.rmtree(paths.cache_dir(), ignore_errors=False)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise CliError(f"cannot remove local state: {error.strerror or error} ({error.filename})", EXIT_FAILED) from None


def _logout(args: argparse.Namespace) -> int:
    try:
        session = load_session()
    except SessionError as error:
        log.warning("removing an unreadable session file: %s", error)
        _clear_local()
        print(
            "removed the unreadable session file and the cache; the homeserver was not told "
            "(remove the device from another client if it is still listed)"
        )
        return 0
    if session is None:
        raise CliError("not logged in", EXIT_FAILED)

    from app.matrix.client import MatrixClient

    async def logout() -> None:
        async with MatrixClient.from_session(session) as client:
            await client.logout()

    try:
        asyncio.run(logout())
    except TokenInvalid as error:
        _clear_local()
        print(
            f"the session of {session.user_id} had already ended on the homeserver ({error}); "
            "removed it locally"
        )
        return 0
    except MatrixError as error:
        if not args.force:
            raise CliError(
                f"could not log out on {session.homeserver}: {error}; the session is kept "
                "(try again, or `readmark logout --force` to forget it locally)",
                EXIT_FAILED,
            ) from None
        _clear_local()
        print(
            f"could not tell {session.homeserver} ({error}); removed the session locally anyway: "
            f"device {session.device_id} stays logged in on the server"
        )
        return 0
    _clear_local()
    print(f"logged out {session.user_id} (device {session.device_id})")
    return 0


# -- entry ----------------------------------------------------------------------


def run(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "login":
        return _login(args)
    if args.command == "logout":
        return _logout(args)
    if args.command == "demo":
        raise CliError("readmark demo: not yet implemented", exit_code=1)
    raise CliError("the TUI is not yet implemented; see `readmark --help`", exit_code=1)


def describe_matrix_error(error: MatrixError) -> str:
    """One line for the user, naming the problem."""
    if isinstance(error, LoginFailed):
        return f"login failed: {error} (wrong password, unknown user, or a deactivated account)"
    if isinstance(error, TokenInvalid):
        return f"the session is no longer valid ({error}); run `readmark login` again"
    if isinstance(error, RateLimited):
        wait = f"; try again in {error.retry_after_ms / 1000:g} s" if error.retry_after_ms is not None else ""
        return f"the homeserver is rate limiting requests ({error}){wait}"
    if isinstance(error, ServerError):
        return f"the homeserver failed: {error}"
    if isinstance(error, NetworkError):
        return str(error)
    return str(error)


def _say(message: str) -> None:
    print(f"readmark: {redact(' '.join(message.split()))}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    setup_logging(os.environ.get("READMARK_LOG_LEVEL", "").upper() or logging.INFO)
    try:
        return run(argv)
    except CliError as error:
        _say(str(error))
        return error.exit_code
    except SessionError as error:
        _say(str(error))
        return EXIT_FAILED
    except MatrixError as error:
        log.info("command failed: %r", error)
        _say(describe_matrix_error(error))
        return EXIT_FAILED
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence: no traceback for users
        log.exception("unexpected error")
        _say(f"internal error: {type(error).__name__}: {error} (details in {log_file()})")
        return EXIT_INTERNAL
    finally:
        teardown_logging()


if __name__ == "__main__":
    raise SystemExit(main())
