"""The one-shot commands for scripts and status bars: ``status`` and ``mark``.

Each runs one sync (incremental from the cache when there is one), prints, and exits.
Problems are ``CommandError``s: one line for stderr and an exit code.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from app import paths
from app.config import Settings
from app.gcpause import collector_paused
from app.logs import printable_line
from app.matrix import owner_socket, recovery
from app.matrix.client import MatrixClient
from app.matrix.core import ReadStateCore
from app.matrix.crypto import CryptoDevice, CryptoStoreError
from app.matrix.errors import MatrixError, RequestRefused
from app.matrix.queue import (
    INBOX_DIR,
    QUEUE_FILE,
    QueueWriteError,
    ReceiptInbox,
    ReceiptQueue,
    read_queue_file,
)
from app.matrix.service import MARKED_UNREAD, SHORT_LIVED_WAIT_S, load_thread, sync_once
from app.matrix.session import Session
from app.model.bulk import BulkPlan, describe_clears
from app.model.ids import MAIN, RoomId, is_event_id, is_room_alias, is_room_id
from app.model.audit import audit_rooms, describe_position
from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, Refusal, Request
from app.model.receipts import ReceiptType
from app.model.sending import refuse_action, sends_receipt
from app.model.spaces import GroupKind, descendants, group_account
from app.model.status import status_document
from app.model.summary import room_title
from app.store import cache, receipt_log
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
        # The synced account lives until the command exits. The sync runs with the
        # collector paused, and what it made is frozen before the collector is back on
        # (as cache.load_account does): otherwise its first collections walk all of it
        # again, the core's paused decoding ending in one collection of everything it
        # built (a status run of 5,000 rooms spent about 0.8 s in them, tests/bench/status.py).
        with collector_paused():
            changed = await sync_once(client, core, device)
            gc.freeze()
        return changed
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


async def status(
    session: Session, *, as_json: bool, unread_only: bool, offline: bool, settings: Settings | None = None
) -> str:
    with profile_owned("status") as owner:
        document = None
        if owner is not None and not offline:
            # The running owner's live state: decrypted text too, which no file holds.
            answer = owner_socket.ask(paths.state_dir(), {"request": "status", "unread_only": unread_only})
            document = answer.get("status") if answer is not None else None
        if not isinstance(document, dict):
            async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
                core = await synced_core(client, settings, offline=offline, owner=owner)
            document = status_document(core.account, unread_only=unread_only, policy=core.mode_in)
    document["device"] = recovery.device_state(session.device_id)
    document["warnings"] = profile_warnings()
    return json.dumps(document, ensure_ascii=False) if as_json else status_text(document)


async def audit(session: Session, settings: Settings, *, as_json: bool, offline: bool) -> str:
    """``readmark audit``: per room, what other members see of my reading beside what only
    I see, and warnings where the server holds a public receipt of mine readmark did not
    send in a room whose policy is not public."""
    with profile_owned("audit") as owner:
        async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
            core = await synced_core(client, settings, offline=offline, owner=owner)
    rooms = audit_rooms(core.account.rooms.values(), core.mode_in, room_title, receipt_log.read(),
                           int(time.time() * 1000))
    if as_json:
        return json.dumps({"user_id": core.user_id, "rooms": [room.to_json() for room in rooms]}, ensure_ascii=False)
    return audit_text(rooms)


def audit_text(rooms: list) -> str:  # list[RoomAudit]
    """One line per room: its mode and what decided, what others see (and how far behind
    the latest messages that is), what only I see; a line per warning under it."""
    lines = []
    for room in rooms:
        visible, private = room.visible, next((t.private for t in room.threads if t.thread_id == MAIN), None)
        where = describe_position
        mode = room.mode.value.upper() + ("" if room.rule == "default" else f" ({room.rule})")
        lines.append(f"{printable_line(room.title)}  {mode}  others see: {where(visible)}  only you: {where(private)}")
        for warning in room.warnings:
            lines.append(f"  WARNING: {printable_line(warning.text)}")
    return "\n".join(lines) if lines else "no rooms"


@dataclass(frozen=True)
class MarkArgs:
    """What ``readmark mark`` was asked for, before ``validate_mark`` checks it."""

    room: str | None
    thread: str | None = None  # "main" or a root; None with unthreaded=False means main
    unthreaded: bool = False
    receipt_type: ReceiptType | None = None  # None: the configured mode
    fully_read: bool = False
    with_receipt: bool = False
    event_id: str | None = None
    # A bulk read instead of ROOM: one of these (``validate_mark`` checks).
    space: str | None = None
    dms: bool = False
    all_rooms: bool = False
    dry_run: bool = False
    as_json: bool = False

    @property
    def bulk(self) -> bool:
        return self.space is not None or self.dms or self.all_rooms


def validate_mark(args: MarkArgs) -> None:
    """Reject malformed input before any request is made."""
    chosen = [name for name, given in (
        ("ROOM", args.room is not None),
        ("--space", args.space is not None),
        ("--dms", args.dms),
        ("--all", args.all_rooms),
    ) if given]
    if not chosen:
        raise CommandError("mark needs a ROOM, or one of --space SPACE, --dms, --all", 2)
    if len(chosen) > 1:
        raise CommandError(f"{' and '.join(chosen)} exclude each other: give one", 2)
    if args.bulk:
        scope = chosen[0]
        for flag, given in (
            ("--thread", args.thread is not None),
            ("--unthreaded", args.unthreaded),
            ("--fully-read", args.fully_read),
            ("--with-receipt", args.with_receipt),
            ("--event", args.event_id is not None),
        ):
            if given:
                raise CommandError(f"{flag} does not go with {scope}: a bulk read sends one unthreaded receipt per room", 2)
        if args.space is not None and not (is_room_id(args.space) or is_room_alias(args.space)):
            raise CommandError(f"--space takes a room ID (!id) or alias (#name:server), not {args.space!r}", 2)
        return
    if args.dry_run or args.as_json:
        flag = "--dry-run" if args.dry_run else "--json"
        raise CommandError(f"{flag} goes with --space, --dms or --all", 2)
    assert args.room is not None
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


async def mark_bulk(session: Session, settings: Settings, args: MarkArgs) -> tuple[str, int]:
    """``mark --space/--dms/--all``: what to print on stdout, and the exit code."""
    validate_mark(args)
    # A one-shot command holding the profile lets go within seconds, and would never
    # adopt what is handed to it: wait for it, then own the profile (and its queue).
    deadline = time.monotonic() + SHORT_LIVED_WAIT_S
    while True:
        with profile_owned("mark") as owner:
            if owner is None or not owner.short_lived:
                return await _mark_bulk(session, settings, args, owner)
        if time.monotonic() >= deadline:
            raise CommandError(f"{owner.describe()} holds this profile; try again")
        await asyncio.sleep(0.1)


async def _resolved(client: MatrixClient, room: str) -> RoomId:
    """A room ID as given, or the one an alias names."""
    if not is_room_alias(room):
        return room
    try:
        return await client.resolve_alias(room)
    except RequestRefused as error:
        raise CommandError(f"alias {room} does not resolve: {error}") from None


async def _mark(session: Session, settings: Settings, args: MarkArgs, owner: Owner | None) -> str:
    """``mark``; when another process owns the profile, planned on its saved state and
    sent from here (nothing queued, so sent once)."""
    async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
        assert args.room is not None
        room_id = await _resolved(client, args.room)
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
        if owner is None:  # the profile's one writer records it (the owner keeps its own)
            receipt_log.record(receipt_log.entries_of(request, int(time.time() * 1000)))
        # A read receipt clears the room's marked-unread flag (the spec's SHOULD), as the
        # TUI and the bulk reads do; the fully-read marker alone does not.
        unflag = ""
        if request.receipt_type is not None and core.account.rooms[room_id].marked_unread:
            flags = await _unflag(client, [room_id])
            error = flags[room_id]
            unflag = "; marked-unread flag cleared" if error is None else f"; the marked-unread flag stays: {error}"
        if isinstance(request, FullyReadRequest):
            kind = request.receipt_type
            extra = f" with a {kind.label} receipt up to {request.receipt_event_id}" if kind else ""
            return printable_line(f"fully-read marker moved to {request.event_id}{extra} in {name}{unflag}")
        scope = "unthreaded" if request.thread_id is None else f"thread {request.thread_id}"
        return printable_line(f"{request.receipt_type.label} receipt ({scope}) up to {request.event_id} in {name}{unflag}")


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


# ---- mark --space / --dms / --all -------------------------------------------------


def _bulk_rooms(core: ReadStateCore, args: MarkArgs, space_id: RoomId | None) -> tuple[str, list[RoomId]]:
    """The scope's name and its rooms (joined, not spaces), by title."""
    rooms = core.account.rooms
    joined = [room for room in rooms.values() if room.membership == "join"]
    grouping = group_account(joined)
    if args.all_rooms:
        scope, chosen = "all", {room.room_id for room in joined if not room.is_space}
    elif args.dms:
        chosen = set()
        for group in grouping.groups:
            if group.kind is GroupKind.DIRECT:
                chosen |= group.members
        scope = "dms"
    else:
        assert space_id is not None and args.space is not None
        found = descendants(grouping, space_id)
        if found is None:
            raise CommandError(f"not a space you are in: {args.space}")
        scope, chosen = f"space {space_id}", set(found)
    chosen -= grouping.spaces
    ordered = sorted(
        (room_id for room_id in chosen if room_id in rooms and not rooms[room_id].is_space),
        key=lambda room_id: (room_title(rooms[room_id]).casefold(), room_id),
    )
    return scope, ordered


def bulk_text(plan: BulkPlan) -> str:
    """The dry run for a person: a line per room, then the total."""
    lines = []
    for read in plan.rooms:
        if isinstance(read.result, Refusal):
            lines.append(f"  refused  {printable_line(read.title)}: {printable_line(read.result.reason)}")
        else:
            title = printable_line(read.title)
            lines.append(f"  {read.receipt_type.label:<7}  {title}: {describe_clears(read.clears)}")
    lines.extend(f"  unflag   {room_id}: marked unread, nothing to read" for room_id in plan.unflag)
    public, private = plan.count(ReceiptType.PUBLIC), plan.count(ReceiptType.PRIVATE)
    total = describe_clears(plan.clears, rooms=len(plan.sending))
    if not plan.sending:
        total = "no room to read" if not plan.unflag else f"{len(plan.unflag)} flag(s) to clear"
    lines.append(f"would read ({plan.scope}): {total} (public {public}, private {private})")
    if plan.refused:
        lines.append(f"{len(plan.refused)} room(s) refused")
    return "\n".join(lines)


class _Progress:
    """``12/300 sent`` on stderr: rewritten in place on a terminal, else a line every tenth."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        self.tty = sys.stderr.isatty()
        self._step = max(1, total // 10)

    def settled(self) -> None:
        self.done += 1
        if self.tty:
            end = "\n" if self.done >= self.total else ""
            print(f"\r{self.done}/{self.total} sent", end=end, file=sys.stderr, flush=True)
        elif self.done % self._step == 0 or self.done >= self.total:
            print(f"{self.done}/{self.total} sent", file=sys.stderr, flush=True)


async def _send_queued(
    client: MatrixClient, queue_path: Path, user_id: str, requests: list[Request]
) -> tuple[dict[Request, str | None], int]:
    """Send ``requests`` through the durable queue, with what an earlier run left in it;
    until it is empty. Each request's answer (None: taken; else the server's refusal),
    and how many requests an earlier run had left."""
    outcomes: dict[Request, str | None] = {}
    emptied = asyncio.Event()
    blocked: list[MatrixError] = []

    def on_settled(request: Request, error: MatrixError | None) -> None:
        outcomes[request] = None if error is None else str(error)
        if error is None:
            receipt_log.record(receipt_log.entries_of(request, int(time.time() * 1000)))
        progress.settled()

    def on_change(pending: int) -> None:
        if pending == 0:
            emptied.set()

    def on_blocked(error: MatrixError) -> None:
        blocked.append(error)
        emptied.set()

    queue = ReceiptQueue(queue_path, user_id, on_settled=on_settled, on_change=on_change, on_blocked=on_blocked)
    left = queue.load()
    if queue.problem is not None:
        print(f"readmark: warning: {printable_line(queue.problem)}", file=sys.stderr)
    try:
        queue.submit_many(requests)
    except QueueWriteError as error:
        raise CommandError(str(error)) from None
    progress = _Progress(len(queue))
    if not len(queue):
        return outcomes, len(left)
    runner = asyncio.create_task(queue.run(client.send_request), name="receipt queue")
    try:
        await emptied.wait()
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    if blocked:
        raise CommandError(
            f"the session is no longer valid ({blocked[0]}); {len(queue)} receipt(s) stay queued "
            "for the next `readmark login` of this user"
        )
    return outcomes, len(left)


async def _unflag(client: MatrixClient, room_ids: list[RoomId]) -> dict[RoomId, str | None]:
    """Clear the marked-unread flag of each room (account data, not a receipt)."""
    answers: dict[RoomId, str | None] = {}
    for room_id in room_ids:
        try:
            await client.set_room_account_data(room_id, MARKED_UNREAD, {"unread": False})
            answers[room_id] = None
        except MatrixError as error:
            answers[room_id] = str(error)
    return answers


async def _mark_bulk(session: Session, settings: Settings, args: MarkArgs, owner: Owner | None) -> tuple[str, int]:
    async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
        space_id = await _resolved(client, args.space) if args.space is not None else None
        core = await synced_core(client, settings, session_mode=args.receipt_type, owner=owner)
        core.private_supported = await client.supports_private_receipts()
        scope, room_ids = _bulk_rooms(core, args, space_id)
        plan = core.bulk_plan(scope, room_ids)
        if args.dry_run:
            return (json.dumps(plan.to_json(), ensure_ascii=False) if args.as_json else bulk_text(plan)), 0
        requests = [read.request for read in plan.sending if read.request is not None]
        flagged = [read.room_id for read in plan.sending if read.clears.flags]
        if owner is not None:
            # Never the owner's queue file: each request goes to its inbox.
            inbox = ReceiptInbox(paths.state_dir() / INBOX_DIR, client.user_id)
            try:
                for request in requests:
                    inbox.hand_over(request)
            except QueueWriteError as error:
                raise CommandError(str(error)) from None
            flags = await _unflag(client, list(plan.unflag))
            if args.as_json:
                document = plan.to_json()
                document["handed_over"] = {"to": owner.describe(), "receipts": len(requests)}
                document["unflagged"] = [room_id for room_id, error in flags.items() if error is None]
                return json.dumps(document, ensure_ascii=False), 0
            return f"handed {len(requests)} receipt(s) to {owner.describe()}, which sends them", 0
        outcomes, earlier = await _send_queued(client, paths.state_dir() / QUEUE_FILE, client.user_id, requests)
        # A receipt clears the room's flag too (the spec's SHOULD), as the TUI does.
        sent_rooms = {request.room_id for request, error in outcomes.items() if error is None}
        flags = await _unflag(client, [*plan.unflag, *(room_id for room_id in flagged if room_id in sent_rooms)])
        _save_read(core, client, [request for request, error in outcomes.items() if error is None])
    return _bulk_outcome(plan, requests, outcomes, flags, earlier, as_json=args.as_json)


def _save_read(core: ReadStateCore, client: MatrixClient, accepted: list[Request]) -> None:
    """The cache with the receipts the server took: `status --offline`, and the next
    TUI's preview, show those rooms read before any sync."""
    now_ms = int(time.time() * 1000)
    changed = []
    for request in accepted:
        if request.room_id in core.account.rooms:
            core.queued(request, now_ms=now_ms)
            core.settled(request, None)
            changed.append(request.room_id)
    if not changed:
        return
    try:
        cache.save_account(core.account, changed_room_ids=changed, device_id=client.device_id)
    except OSError:
        pass  # the cache is a convenience


def _bulk_outcome(
    plan: BulkPlan,
    requests: list[Request],
    outcomes: dict[Request, str | None],
    flags: dict[RoomId, str | None],
    earlier: int,
    *,
    as_json: bool,
) -> tuple[str, int]:
    by_room: dict[RoomId, str | None] = {}
    for request in requests:
        # A request replaced by a newer one of the same key is covered by it.
        by_room[request.room_id] = outcomes.get(request)
    read = {ReceiptType.PUBLIC: 0, ReceiptType.PRIVATE: 0}
    refused_here: list[tuple[str, str]] = []
    for room in plan.sending:
        error = by_room.get(room.room_id)
        if error is None:
            read[room.receipt_type] += 1
        else:
            refused_here.append((room.title, error))
    failed = bool(refused_here) or any(error is not None for error in flags.values())
    # What was cleared: the rooms the server took, not those it refused.
    cleared = plan.clears_in({room.room_id for room in plan.sending if by_room.get(room.room_id) is None})
    earlier_sent = sum(1 for request, error in outcomes.items() if error is None) - sum(read.values())
    if as_json:
        document = plan.to_json()
        for entry in document["rooms"]:
            if entry["refused"] is not None:
                entry["outcome"], entry["error"] = "refused", entry["refused"]
            else:
                error = by_room.get(entry["room_id"])
                entry["outcome"], entry["error"] = ("sent", None) if error is None else ("refused by the server", error)
        document["unflagged"] = [room_id for room_id, error in flags.items() if error is None]
        document["cleared"] = {"messages": cleared.messages, "threads": cleared.threads,
                               "mentions": cleared.mentions, "lower_bound": cleared.lower_bound}
        document["sent"] = {
            "public": read[ReceiptType.PUBLIC],
            "private": read[ReceiptType.PRIVATE],
            "refused_by_server": len(refused_here),
            "earlier_run": {"queued": earlier, "sent": max(0, earlier_sent)},
        }
        return json.dumps(document, ensure_ascii=False), int(failed)
    # Names and errors are others' text: one line each, whatever they hold.
    lines = [printable_line(f"refused: {room.title} ({room.room_id}): {room.result.reason}") for room in plan.refused
             if isinstance(room.result, Refusal)]
    lines += [printable_line(f"refused by the server: {title}: {error}") for title, error in refused_here]
    lines += [printable_line(f"could not clear the marked-unread flag of {room_id}: {error}")
              for room_id, error in flags.items() if error is not None]
    summary = (f"read {sum(read.values())} room(s) (public {read[ReceiptType.PUBLIC]}, "
               f"private {read[ReceiptType.PRIVATE]})")
    if not cleared.nothing:
        summary += f": cleared {describe_clears(cleared)}"
    # The flags the server took: of rooms read, and of rooms flagged with nothing to read.
    unflagged = sum(1 for error in flags.values() if error is None)
    if unflagged:
        summary += f", {unflagged} marked-unread flag(s) cleared"
    if earlier:
        summary += f"; {earlier} receipt(s) an earlier run left were sent too"
    lines.append(summary)
    return "\n".join(lines), int(failed)
