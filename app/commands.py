"""The one-shot commands for scripts and status bars: ``status`` and ``mark``.

Each runs one sync (incremental from the cache when there is one), prints, and exits.
Problems are ``CommandError``s: one line for stderr and an exit code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from app import paths
from app.config import Settings
from app.matrix import owner_socket, recovery
from app.matrix.client import MatrixClient
from app.matrix.core import ReadStateCore
from app.matrix.crypto import CryptoDevice, CryptoStoreError
from app.matrix.errors import RequestRefused
from app.matrix.queue import INBOX_DIR, QUEUE_FILE, read_queue_file
from app.matrix.service import load_thread, sync_once
from app.matrix.session import Session
from app.model.ids import MAIN, is_event_id, is_room_alias, is_room_id
from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, Refusal
from app.model.receipts import ReceiptType
from app.model.sending import refuse_action, sends_receipt
from app.model.status import status_document
from app.store import cache
from app.store.profile import Owner, ProfileLock

log = logging.getLogger(__name__)

# Short: a script waits for us.
REQUEST_TIMEOUT = 15.0


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@contextmanager
def profile_owned(kind: str) -> Iterator[Owner | None]:
    """Own the profile for one command (None), or say who does (app/store/profile.py):
    then the command reads that process's saved state and neither syncs nor writes."""
    lock = ProfileLock(paths.state_dir())
    try:
        owned = lock.acquire(kind)
    except OSError:
        owned = True  # nobody can own a profile whose state dir cannot hold the lock
    if not owned:
        yield lock.owner()
        return
    try:
        yield None
    finally:
        lock.release()


async def synced_core(
    client: MatrixClient,
    settings: Settings | None = None,
    *,
    session_mode: ReceiptType | None = None,
    offline: bool = False,
    owner: Owner | None = None,
) -> ReadStateCore:
    """The read-state core on the cached state, brought up to date with one sync
    (``offline``, or another process ``owner``s the profile: the cache only, which that
    process keeps up to date). ``settings`` and ``session_mode`` decide which receipt
    type each room takes, as in the TUI (``--public``/``--private`` are the session mode)."""
    core = ReadStateCore(
        client.user_id, modes=settings.mode_rules if settings is not None else None, session_mode=session_mode
    )
    cached = cache.load_account(client.user_id, device_id=client.device_id)
    core.load(cached, ())
    if offline or owner is not None:
        if cached is None:
            if owner is not None:
                raise CommandError(f"{owner.describe()} owns this profile and has not saved its state yet; try again")
            raise CommandError("no cached state yet: run `readmark status` online once first")
        return core
    changed = await synced_with_keys(client, core)
    try:
        cache.save_account(core.account, changed_room_ids=changed, device_id=client.device_id)
    except OSError:
        pass  # the cache is a convenience
    return core


async def synced_with_keys(client: MatrixClient, core: ReadStateCore) -> frozenset[str]:
    """``sync_once`` with the login's crypto store (this process owns the profile): the
    room keys the sync brings are kept, and encrypted events decrypted. Without a store
    (it cannot be opened) the sync still counts; the reason goes to the log."""
    device = None
    if client.device_id is not None:
        try:
            device = CryptoDevice.open(client.user_id, client.device_id)
        except CryptoStoreError as error:
            log.warning("encrypted rooms stay unreadable: %s", error)
    try:
        return await sync_once(client, core, device)
    finally:
        if device is not None:
            device.close()


def status_text(document: dict) -> str:
    lines = []
    for room in document["rooms"]:
        unread = f"{room['unread']}{'+' if room['unread_is_lower_bound'] else ''}" if room["unread"] else "-"
        # In an encrypted room the server cannot tell a mention: the count made here is the one.
        count = room["local_highlights"] if room["encrypted"] else room["highlights"]
        highlights = f" @{count}" if count else ""
        if room["encrypted"]:
            highlights += " (e2e)"
        threads = sum(1 for t in room["threads"] if t["thread_id"] != MAIN and t["unread"])
        thread_text = f" threads:{threads}" if threads else ""
        lines.append(f"{unread:>5}{highlights}{thread_text}  {room['name']}")
    total = sum(r["unread"] for r in document["rooms"])
    device = document.get("device") or {}
    standing = "" if device.get("verified", True) else " · device unverified (readmark verify)"
    lines.append(f"{document['user_id']}: {total} unread in {sum(1 for r in document['rooms'] if r['unread'])} rooms{standing}")
    lines.extend(f"warning: {warning}" for warning in document.get("warnings", ()))
    return "\n".join(lines)


def profile_warnings(state: Path | None = None) -> list[str]:
    """What is wrong with the profile's own files, for ``status`` to name: a queue file
    that cannot be read, and the copies readmark kept aside of files it could not read."""
    state = state or paths.state_dir()
    queue_file = state / QUEUE_FILE
    warnings = []
    _, problem = read_queue_file(queue_file)
    if problem is not None:
        warnings.append(f"receipt queue {queue_file} {problem}; the next start keeps it aside")
    kept = sorted(state.glob(f"{QUEUE_FILE}.unreadable-*")) + sorted((state / INBOX_DIR).glob("*.unreadable"))
    warnings += [f"{path} holds receipts readmark could not read; look at it, then delete it" for path in kept]
    return warnings


async def status(session: Session, *, as_json: bool, unread_only: bool, offline: bool) -> str:
    with profile_owned("status") as owner:
        document = None
        if owner is not None and not offline:
            # The running owner's live state: decrypted text too, which no file holds.
            answer = owner_socket.ask(paths.state_dir(), {"request": "status", "unread_only": unread_only})
            document = answer.get("status") if answer is not None else None
        if not isinstance(document, dict):
            async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
                core = await synced_core(client, offline=offline, owner=owner)
            document = status_document(core.account, unread_only=unread_only)
    document["device"] = recovery.device_state(session.device_id)
    document["warnings"] = profile_warnings()
    return json.dumps(document, ensure_ascii=False) if as_json else status_text(document)


@dataclass(frozen=True)
class MarkArgs:
    """What ``readmark mark`` was asked for, before ``validate_mark`` checks it."""

    room: str
    thread: str | None = None  # "main" or a root; None with unthreaded=False means main
    unthreaded: bool = False
    receipt_type: ReceiptType | None = None  # None: the configured mode
    fully_read: bool = False
    with_receipt: bool = False
    event_id: str | None = None


def validate_mark(args: MarkArgs) -> None:
    """Reject malformed input before any request is made."""
    if not (is_room_id(args.room) or is_room_alias(args.room)):
        raise CommandError(f"{args.room!r} is not a room ID (!id) or alias (#name:server)", 2)
    if args.thread is not None and args.thread != MAIN and not is_event_id(args.thread):
        raise CommandError(f"--thread takes 'main' or a thread root event ID ($...), not {args.thread!r}", 2)
    if args.event_id is not None and not is_event_id(args.event_id):
        raise CommandError(f"--event takes an event ID ($...), not {args.event_id!r}", 2)
    if args.unthreaded and args.thread is not None:
        raise CommandError("--thread and --unthreaded exclude each other", 2)
    if args.fully_read and (args.thread is not None or args.unthreaded):
        raise CommandError("the fully-read marker has no thread: drop --thread/--unthreaded", 2)


async def mark(session: Session, settings: Settings, args: MarkArgs) -> str:
    validate_mark(args)
    with profile_owned("mark") as owner:
        return await _mark(session, settings, args, owner)


async def _mark(session: Session, settings: Settings, args: MarkArgs, owner: Owner | None) -> str:
    """``mark``; when another process owns the profile, planned on its saved state and
    sent from here (nothing queued, so sent once)."""
    async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
        room_id = args.room
        if is_room_alias(room_id):
            try:
                room_id = await client.resolve_alias(room_id)
            except RequestRefused as error:
                raise CommandError(f"alias {args.room} does not resolve: {error}") from None
        if args.fully_read:
            action = ReceiptAction(ActionKind.FULLY_READ, ReceiptType.PRIVATE, None, args.event_id, args.with_receipt)
        elif args.unthreaded:
            action = ReceiptAction(ActionKind.UNTHREADED, ReceiptType.PRIVATE, None, args.event_id)
        else:
            action = ReceiptAction(ActionKind.THREADED, ReceiptType.PRIVATE, args.thread or MAIN, args.event_id)
        core = ReadStateCore(client.user_id, modes=settings.mode_rules, session_mode=args.receipt_type)
        # The type the room's mode gives, unless --public/--private chose one: a room
        # pinned to private in config.toml still refuses --public (``plan`` says so).
        action = replace(action, receipt_type=args.receipt_type or core.mode_in(room_id).receipt_type)
        if sends_receipt(action):
            # Asked before any sync: a script learns at once that nothing can be sent.
            core.private_supported = await client.supports_private_receipts()
            refusal = refuse_action(action, core.mode_in(room_id), private_supported=core.private_supported)
            if refusal is not None:
                raise CommandError(f"nothing sent: {refusal.reason}{_MARK_HINTS.get(refusal.code, '')}")
        cached = cache.load_account(client.user_id, device_id=client.device_id)
        core.load(cached, ())
        if owner is None:
            changed = await synced_with_keys(client, core)
            try:
                cache.save_account(core.account, changed_room_ids=changed, device_id=client.device_id)
            except OSError:
                pass  # the cache is a convenience
        elif cached is None:
            raise CommandError(f"{owner.describe()} owns this profile and has not saved its state yet; try again")
        room = core.account.rooms.get(room_id)
        if room is None or room.membership != "join":
            raise CommandError(f"you are not joined to {args.room}")
        name = room.name or room_id
        if args.event_id is not None and room.event(args.event_id) is None:
            await _load_event(client, core, room_id, args.event_id, name)
        if args.thread not in (None, MAIN) and args.thread not in core.account.rooms[room_id].complete_threads:
            # The sync window may hold none of the thread, or only its root: load it.
            try:
                await load_thread(client, core, room_id, args.thread)
            except RequestRefused as error:
                raise CommandError(f"event {args.thread} is not in {name}: {error}") from None
            if core.account.rooms[room_id].event(args.thread) is None:
                raise CommandError(f"event {args.thread} is not in {name}")
        request = core.plan(room_id, action)
        if isinstance(request, Refusal):
            raise CommandError(f"nothing sent: {request.reason}{_MARK_HINTS.get(request.code, '')}")
        await client.send_request(request)
        if isinstance(request, FullyReadRequest):
            kind = request.receipt_type
            extra = f" with a {kind.label} receipt up to {request.receipt_event_id}" if kind else ""
            return f"fully-read marker moved to {request.event_id}{extra} in {name}"
        scope = "unthreaded" if request.thread_id is None else f"thread {request.thread_id}"
        return f"{request.receipt_type.label} receipt ({scope}) up to {request.event_id} in {name}"


# What a script can do about a refusal, by its code.
_MARK_HINTS = {
    "no-private-receipts": " (use --public)",
    "private-mode": " (the room is set to private in config.toml)",
}


async def _load_event(client: MatrixClient, core: ReadStateCore, room_id: str, event_id: str, name: str) -> None:
    try:
        raw = await client.room_event(room_id, event_id)
    except RequestRefused as error:
        raise CommandError(f"event {event_id} is not in {name}: {error}") from None
    core.thread_loaded(room_id, MAIN, [raw], complete=False)
