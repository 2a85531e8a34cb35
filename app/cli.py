"""Command-line entry: argparse sub-commands for the TUI and the one-shot commands.

The CLI is the only place that prints; every error reaches the user as one line on
stderr and a non-zero exit code, never a traceback (unexpected ones go to the log file,
with tokens redacted). ``nio`` is imported only by the commands that talk to a server.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from app import __version__, paths
from app.logs import log_file, printable_line, setup_logging, teardown_logging
from app.matrix.errors import (
    LoginFailed,
    MatrixError,
    NetworkError,
    RateLimited,
    ServerError,
    TokenInvalid,
)
from app.matrix.session import (
    Session,
    SessionError,
    delete_session,
    load_session,
    save_session,
)

if TYPE_CHECKING:  # imported where used: `readmark login` and the one-shot commands stay light
    import argparse

    from app.matrix.client import MatrixClient
    from app.matrix.service import MatrixService

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


def build_parser() -> argparse.ArgumentParser:
    import argparse  # not for the TUI, which has no arguments to parse (see run)

    class Parser(argparse.ArgumentParser):
        """argparse, but a usage error is one line like every other error."""

        def error(self, message: str) -> NoReturn:
            command = self.prog.partition(" ")[2]
            raise CliError(f"{command + ': ' if command else ''}{message} (see --help)", EXIT_USAGE)

    parser = Parser(
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
    login.add_argument(
        "--verify-stdin", action="store_true",
        help="then verify the device with the recovery key or passphrase on the next line of stdin",
    )
    login.add_argument("--device-name", default="readmark", metavar="NAME", help="name shown in your device list")

    logout = sub.add_parser(
        "logout",
        help="end the session on the homeserver and remove the session file and the read-state cache",
    )
    logout.add_argument(
        "--force",
        action="store_true",
        help="remove the session locally even when the homeserver cannot be told",
    )

    status = sub.add_parser(
        "status",
        help="sync once and print unread counts (for scripts and status bars)",
        description="Sync once (incrementally from the cache) and print what is unread.",
    )
    status.add_argument("--json", action="store_true", help="print exactly one JSON document")
    status.add_argument("--unread-only", action="store_true", help="only rooms and threads with unread")
    status.add_argument("--offline", action="store_true", help="use the local cache only, no network")

    audit = sub.add_parser(
        "audit",
        help="what other members can see of your reading, room by room, beside what only you see",
        description="Sync once and show, per room, the read position other members see (your public "
        "receipts) beside the one only you see (private), how far behind the latest messages each is, "
        "the receipt policy that decides the room, and a warning for any public receipt of yours the "
        "server holds in a room whose policy is private or none that readmark did not send.",
    )
    audit.add_argument("--json", action="store_true", help="print exactly one JSON document")
    audit.add_argument("--offline", action="store_true", help="use the local cache only, no network")

    mark = sub.add_parser(
        "mark",
        help="send one read receipt or move the fully-read marker, and wait for the answer",
        description="Send one receipt (default: threaded on main, up to the latest event by someone "
        "else, in the configured receipt mode) and wait for the homeserver's answer.",
    )
    mark.add_argument("room", metavar="ROOM", nargs="?", help="room ID (!id) or alias (#name:server)")
    mark.add_argument("--space", metavar="SPACE", help="read every room of this space and its sub-spaces (ID or alias)")
    mark.add_argument("--dms", action="store_true", help="read every direct-message room")
    mark.add_argument("--all", dest="all_rooms", action="store_true", help="read every joined room")
    mark.add_argument("--dry-run", action="store_true", help="with --space/--dms/--all: say what would be read, send nothing")
    mark.add_argument("--json", action="store_true", help="with --space/--dms/--all: print exactly one JSON document")
    scope = mark.add_mutually_exclusive_group()
    scope.add_argument("--thread", metavar="main|ROOT", help="threaded receipt in main or the thread of ROOT")
    scope.add_argument("--unthreaded", action="store_true", help="unthreaded receipt: the whole room")
    kind = mark.add_mutually_exclusive_group()
    kind.add_argument("--private", action="store_true", help="m.read.private (only you see it)")
    kind.add_argument("--public", action="store_true", help="m.read (other members see it)")
    mark.add_argument("--fully-read", action="store_true", help="move the fully-read marker instead")
    mark.add_argument(
        "--with-receipt", action="store_true", help="with --fully-read: also move the read receipt (unthreaded)"
    )
    mark.add_argument("--event", metavar="EVENT_ID", help="up to this event instead of the latest")

    verify = sub.add_parser(
        "verify",
        help="verify this device with your recovery key (or its passphrase) and restore the key backup",
        description="Unlock secret storage with the recovery key Element gave you (or its passphrase), "
        "cross-sign this device, and restore room keys from the key backup. The key is asked for, "
        "never an argument, and never stored.",
    )
    verify.add_argument("--stdin", action="store_true", help="read the recovery key or passphrase from the first line of stdin")
    verify.add_argument("--passphrase", action="store_true", help="what is read is the passphrase, not the recovery key")

    keys = sub.add_parser("keys", help="import or export room keys (Element's key export format)")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="import|export", required=True)
    for name, text in (("import", "import room keys from an Element key export"),
                       ("export", "export every room key held, encrypted with a passphrase")):
        command = keys_sub.add_parser(name, help=text, description=text + ". The passphrase is asked for, never an argument.")
        command.add_argument("file", metavar="FILE")
        command.add_argument("--passphrase-stdin", action="store_true",
                             help="read the passphrase from the first line of stdin (no prompt)")
    return parser


# -- login / logout -------------------------------------------------------------


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: no password on stdin", EXIT_USAGE)
        return password
    import getpass  # only `readmark login` prompts

    try:
        password = getpass.getpass(f"Password for {args.user}: ")
    except EOFError:
        raise CliError("no password given", EXIT_USAGE) from None
    if not password:
        raise CliError("no password given", EXIT_USAGE)
    return password


def _login(args: argparse.Namespace) -> int:
    from app.matrix.client import (
        MatrixClient,
        insecure_transport_warning,
        normalize_homeserver,
    )

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

    async def login() -> tuple[Session, str | None]:
        from app.matrix.encryption import set_up_device

        client, session = await MatrixClient.login(homeserver, args.user, password, args.device_name)
        async with client:
            await _store_or_log_out(client, session)
            return session, await set_up_device(client)

    session, problem = asyncio.run(login())
    if problem is not None:
        print(f"readmark: warning: end-to-end encryption is not set up yet: {problem}", file=sys.stderr)
    print(f"logged in as {session.user_id} (device {session.device_id})")
    if problem is not None:
        return 0
    if args.verify_stdin:
        secret = _read_recovery("", True)
    elif sys.stdin.isatty() and not args.password_stdin:
        secret = _read_recovery("Recovery key or passphrase, to verify this device (Enter to skip): ", False, optional=True)
        if secret is None:
            print("this device stays unverified: `readmark verify` does it later")
            return 0
    else:
        return 0
    assert secret is not None
    return _run_verify(session, secret, passphrase=None)


async def _store_or_log_out(client: MatrixClient, session: Session) -> None:
    """Save the new session; when it cannot be saved, log the new device out again, close
    the client and raise a ``CliError``: do not leave a live device behind that nothing can use."""
    try:
        save_session(session)
    except OSError as error:
        try:
            await client.logout()
        except MatrixError:
            pass
        finally:
            await client.close()
        detail = error.strerror or str(error)
        raise CliError(
            f"cannot store the session in {paths.session_file()}: {detail}; logged out again",
            EXIT_FAILED,
        ) from None


def _clear_local(device_id: str | None = None) -> None:
    """The session file, the read-state cache file and the login's crypto store (its
    device is gone: its keys are worthless), nothing else.

    The rest of the cache dir is not the account's: ``readmark demo`` keeps its
    homeserver, lock and profile under ``cache_dir()/demo``. The receipt queue (state
    dir) is kept too: it goes out when the same user logs in again.
    """
    from app.matrix.crypto import remove_store
    from app.store.cache import delete_cache

    try:
        delete_session()
        delete_cache()
        if device_id:
            remove_store(device_id)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise CliError(f"cannot remove local state: {error.strerror or error} ({error.filename})", EXIT_FAILED) from None


def _logout(args: argparse.Namespace) -> int:
    from app.store.profile import ProfileLock

    # Logging out removes the files the owner of this profile writes: not under it.
    profile = ProfileLock(paths.state_dir())
    try:
        free = profile.acquire("logout")
    except OSError:
        free = True  # nobody can own a profile whose state dir cannot hold the lock
    if not free:
        raise CliError(f"{profile.owner().describe()} is running on this profile: quit it first", EXIT_FAILED)
    with profile:
        return _log_out(args)


def _log_out(args: argparse.Namespace) -> int:
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
        _clear_local(session.device_id)
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
        _clear_local(session.device_id)
        print(
            f"could not tell {session.homeserver} ({error}); removed the session locally anyway: "
            f"device {session.device_id} stays logged in on the server"
        )
        return 0
    _clear_local(session.device_id)
    print(f"logged out {session.user_id} (device {session.device_id})")
    return 0


# -- entry ----------------------------------------------------------------------


def run(argv: Sequence[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if not argv:
        # The TUI, the usual start, has nothing to parse: importing argparse and building
        # the parser would only lengthen its cold start.
        return _tui()
    args = build_parser().parse_args(argv)
    if args.command == "login":
        return _login(args)
    if args.command == "logout":
        return _logout(args)
    if args.command in ("status", "mark", "audit"):
        return _one_shot(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "keys":
        return _keys(args)
    if args.command == "verify":
        return _verify(args)
    return _tui()


def _read_recovery(prompt: str, from_stdin: bool, *, optional: bool = False) -> str | None:
    """The recovery key or passphrase: a line of stdin, or a prompt that does not echo."""
    if from_stdin:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise CliError("no recovery key or passphrase on stdin", EXIT_USAGE)
        return secret
    import getpass

    try:
        secret = getpass.getpass(prompt).strip()
    except EOFError:
        secret = ""
    if not secret and not optional:
        raise CliError("no recovery key or passphrase given", EXIT_USAGE)
    return secret or None


def _verify(args: argparse.Namespace) -> int:
    session = _require_session()
    secret = _read_recovery("Recovery key or passphrase: ", args.stdin)
    assert secret is not None
    return _run_verify(session, secret, passphrase=True if args.passphrase else None)


def _run_verify(session: Session, secret: str, *, passphrase: bool | None) -> int:
    from app import verify
    from app.commands import CommandError

    try:
        output = verify.verify(session, secret, passphrase=passphrase, progress=sys.stderr.isatty())
    except CommandError as error:
        raise CliError(str(error), error.exit_code) from None
    print(output)
    return 0


def _keys(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app import room_keys
    from app.commands import CommandError

    session = _require_session()
    passphrase = _read_passphrase(args, confirm=args.keys_command == "export")
    try:
        if args.keys_command == "import":
            output = room_keys.import_keys(session, Path(args.file), passphrase)
        else:
            output = room_keys.export_keys(session, Path(args.file), passphrase)
    except CommandError as error:
        raise CliError(str(error), error.exit_code) from None
    print(output)
    return 0


def _read_passphrase(args: argparse.Namespace, *, confirm: bool) -> str:
    if args.passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
        if not passphrase:
            raise CliError("--passphrase-stdin: no passphrase on stdin", EXIT_USAGE)
        return passphrase
    import getpass

    try:
        passphrase = getpass.getpass("Passphrase of the key file: ")
        if confirm and passphrase and getpass.getpass("The same passphrase again: ") != passphrase:
            raise CliError("the two passphrases differ; nothing was written", EXIT_USAGE)
    except EOFError:
        raise CliError("no passphrase given", EXIT_USAGE) from None
    if not passphrase:
        raise CliError("no passphrase given", EXIT_USAGE)
    return passphrase


# -- status / mark ----------------------------------------------------------------


def _settings():
    from app.config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as error:
        raise CliError(str(error), EXIT_USAGE) from None


def _require_session() -> Session:
    session = load_session()
    if session is None:
        raise CliError("not logged in: run `readmark login --homeserver URL --user @you:server`", EXIT_FAILED)
    return session


def _one_shot(args: argparse.Namespace) -> int:
    from app import commands
    from app.matrix.translate import SyncFormatError
    from app.model.receipts import ReceiptType

    settings = _settings()
    try:
        if args.command == "status":
            session = _require_session()
            output = asyncio.run(
                commands.status(session, as_json=args.json, unread_only=args.unread_only, offline=args.offline,
                                settings=settings)
            )
        elif args.command == "audit":
            session = _require_session()
            output = asyncio.run(commands.audit(session, settings, as_json=args.json, offline=args.offline))
        else:
            receipt_type = ReceiptType.PRIVATE if args.private else ReceiptType.PUBLIC if args.public else None
            if args.with_receipt and not args.fully_read:
                raise CliError("--with-receipt goes with --fully-read", EXIT_USAGE)
            mark_args = commands.MarkArgs(
                room=args.room,
                thread=args.thread,
                unthreaded=args.unthreaded,
                receipt_type=receipt_type,
                fully_read=args.fully_read,
                with_receipt=args.with_receipt,
                event_id=args.event,
                space=args.space,
                dms=args.dms,
                all_rooms=args.all_rooms,
                dry_run=args.dry_run,
                as_json=args.json,
            )
            commands.validate_mark(mark_args)
            session = _require_session()
            if mark_args.bulk:
                output, code = asyncio.run(commands.mark_bulk(session, settings, mark_args))
                print(output)
                return code
            output = asyncio.run(commands.mark(session, settings, mark_args))
    except commands.CommandError as error:
        raise CliError(str(error), error.exit_code) from None
    except SyncFormatError as error:
        # The server's answer, not a bug here: one line and exit 1, like any failed request.
        log.info("%s: unusable sync answer: %s", args.command, error)
        raise CliError(f"the homeserver's /sync answer is unusable: {error}", EXIT_FAILED) from None
    print(output)
    return 0


# -- the TUI --------------------------------------------------------------------------


async def _tui_login(homeserver: str, user: str, password: str) -> MatrixService:
    """The login screen's login (first login, and logging in again): the new session
    replaces the stored one. A plain-http warning is the app's to show
    (``service.insecure_transport``)."""
    from app.matrix.client import MatrixClient
    from app.matrix.service import MatrixService

    client, new_session = await MatrixClient.login(
        homeserver, user, password, device_id=_device_to_reuse(homeserver, user)
    )
    await _store_or_log_out(client, new_session)
    from app.matrix.encryption import set_up_device

    problem = await set_up_device(client)
    if problem is not None:
        log.warning("end-to-end encryption is not set up yet: %s", problem)
    return MatrixService(client)


def _device_to_reuse(homeserver: str, user: str) -> str | None:
    """The stored session's device, when the login screen logs the same user in on the
    same homeserver again (the server ended the session): the same device comes back
    instead of a new one each time."""
    from app.matrix.client import normalize_homeserver

    try:
        previous = load_session()
    except SessionError:
        return None
    if previous is None:
        return None
    try:
        same_server = normalize_homeserver(homeserver) == normalize_homeserver(previous.homeserver)
    except MatrixError:  # NotAMatrixServer: the login itself will say so
        return None
    localpart = previous.user_id[1:].split(":", 1)[0]
    same_user = user in (previous.user_id, localpart)
    return previous.device_id if same_server and same_user else None


def _tui() -> int:
    settings = _settings()
    session = load_session()
    from app.matrix.client import MatrixClient
    from app.matrix.service import MatrixService
    from app.ui.app import ReadmarkApp

    # What the imports made (modules, classes, functions: Textual's and ours) lives as
    # long as the process. Frozen, it is out of the collector's reach: otherwise the
    # start's one full collection walks all of it, during the first paint (see
    # store/cache.py for the same reasoning about the loaded account).
    gc.freeze()
    if session is not None:
        # The first screen paints the cache's room summaries (service.preview); the
        # rooms are decoded after that first frame.
        service = MatrixService(MatrixClient.from_session(session))
        app = ReadmarkApp(service, settings, login=_tui_login, homeserver=session.homeserver)
    else:
        app = ReadmarkApp(None, settings, login=_tui_login)
    app.run()
    return app.return_code or 0


def _demo(args: argparse.Namespace) -> int:
    try:
        from app.devserver.demo import run_demo
    except ImportError as error:
        raise CliError(f"the demo needs readmark's demo extra (matrix-synapse): {error}", EXIT_FAILED) from None
    from app.devserver.demo import DemoSession

    def open_tui(demo: DemoSession) -> int:
        # run_demo has pointed every XDG directory into the demo profile: this session
        # file is the demo's own, never the user's real one.
        save_session(Session(demo.homeserver, demo.user_id, demo.device_id, demo.access_token))
        try:
            return _tui()
        finally:
            delete_session()

    return run_demo(reset=args.reset, open_tui=open_tui)


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
    print(f"readmark: {printable_line(message)}", file=sys.stderr)


def harden_process() -> None:
    """Done first, before any session, token or key is read. Every file and directory the
    process creates is private (each of readmark's files sets its own mode too: this is
    the second line of defence, for whatever a library writes). And the process never
    dumps core: a core file would hold the access token, and later the room keys, in
    clear; the hard limit goes too, so nothing in the process can raise it again."""
    os.umask(0o077)
    try:
        import resource
    except ImportError:  # a platform without rlimits
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    harden_process()
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
    except Exception as error:
        log.exception("unexpected error")
        _say(f"internal error: {type(error).__name__}: {error} (details in {log_file()})")
        return EXIT_INTERNAL
    finally:
        teardown_logging()


if __name__ == "__main__":
    raise SystemExit(main())
