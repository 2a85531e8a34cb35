"""The one-shot commands for scripts and status bars: ``status`` and ``mark``.

Each runs one sync (incremental from the cache when there is one), prints, and exits.
Problems are ``CommandError``s: one line for stderr and an exit code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from app.config import Settings
from app.matrix import translate
from app.matrix.client import MatrixClient
from app.matrix.live import load_thread, send_request
from app.matrix.errors import RequestRefused
from app.matrix.session import Session
from app.matrix.sync_filter import sync_filter
from app.model.account import AccountState, sorted_rooms, sorted_threads
from app.model.edits import latest_text
from app.model.ids import MAIN, is_event_id, is_room_alias, is_room_id
from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, Refusal, plan
from app.model.receipts import ReceiptType
from app.model.room import RoomState, backfill
from app.model.unread import room_unread, threads_unread
from app.store import cache

# Short: a script waits for us.
REQUEST_TIMEOUT = 15.0


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


async def synced_account(client: MatrixClient, *, offline: bool = False) -> AccountState:
    """The cached state brought up to date with one sync (``offline``: the cache only)."""
    account = cache.load_account(client.user_id, device_id=client.device_id)
    if offline:
        if account is None:
            raise CommandError("no cached state yet: run `readmark status` online once first")
        return account
    account = account or AccountState(client.user_id)
    filter_id = await client.upload_filter(sync_filter())
    try:
        body = await client.sync_raw(account.next_batch, 0, filter_id)
    except RequestRefused:
        if account.next_batch is None:
            raise
        account = AccountState(client.user_id)
        body = await client.sync_raw(None, 0, filter_id)
    initial = account.next_batch is None  # the sync just made had no since token
    account, changed = translate.apply_sync_changes(account, translate.parse_sync(body), initial=initial)
    try:
        cache.save_account(account, changed_room_ids=changed, device_id=client.device_id)
    except OSError:
        pass  # the cache is a convenience
    return account


def status_document(account: AccountState, *, unread_only: bool = False) -> dict:
    rooms = []
    for room in sorted_rooms(account):
        counts = room_unread(room)
        if unread_only and not counts.has_unread:
            continue
        per_thread = threads_unread(room)
        threads = []
        for thread_id in sorted_threads(room):
            unread = per_thread.get(thread_id)
            if unread is None:
                continue
            if unread_only and not unread.has_unread:
                continue
            root = None if thread_id == MAIN else room.event(thread_id)
            latest = room.latest_event(thread_id)
            threads.append(
                {
                    "thread_id": thread_id,
                    "root_preview": latest_text(room, root) if root is not None else None,
                    "unread": unread.unread,
                    "unread_is_lower_bound": unread.lower_bound,
                    "notifications": unread.server.notifications,
                    "highlights": unread.server.highlights,
                    "latest_event_id": latest.event_id if latest is not None else None,
                    "my_receipt": {
                        "public": room.my_furthest_receipt((ReceiptType.PUBLIC,), (None, thread_id)),
                        "private": room.my_furthest_receipt((ReceiptType.PRIVATE,), (None, thread_id)),
                    },
                }
            )
        rooms.append(
            {
                "room_id": room.room_id,
                "name": room.name or room.room_id,
                "unread": counts.unread,
                "unread_is_lower_bound": counts.lower_bound,
                "notifications": counts.notifications,
                "highlights": counts.highlights,
                "marked_unread": room.marked_unread,
                "fully_read": room.fully_read_event(),
                "threads": threads,
            }
        )
    return {"user_id": account.user_id, "rooms": rooms}


def status_text(document: dict) -> str:
    lines = []
    for room in document["rooms"]:
        unread = f"{room['unread']}{'+' if room['unread_is_lower_bound'] else ''}" if room["unread"] else "-"
        highlights = f" @{room['highlights']}" if room["highlights"] else ""
        threads = sum(1 for t in room["threads"] if t["thread_id"] != MAIN and t["unread"])
        thread_text = f" threads:{threads}" if threads else ""
        lines.append(f"{unread:>5}{highlights}{thread_text}  {room['name']}")
    total = sum(r["unread"] for r in document["rooms"])
    lines.append(f"{document['user_id']}: {total} unread in {sum(1 for r in document['rooms'] if r['unread'])} rooms")
    return "\n".join(lines)


async def status(session: Session, *, as_json: bool, unread_only: bool, offline: bool) -> str:
    async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
        account = await synced_account(client, offline=offline)
    document = status_document(account, unread_only=unread_only)
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
    async with MatrixClient.from_session(session, request_timeout=REQUEST_TIMEOUT) as client:
        room_id = args.room
        if is_room_alias(room_id):
            try:
                room_id = await client.resolve_alias(room_id)
            except RequestRefused as error:
                raise CommandError(f"alias {args.room} does not resolve: {error}") from None
        receipt_type = args.receipt_type or settings.mode_for(room_id)
        sends_receipt = not args.fully_read or args.with_receipt
        if sends_receipt and receipt_type is ReceiptType.PRIVATE and not await client.supports_private_receipts():
            raise CommandError("this homeserver does not support private receipts; nothing sent (use --public)")
        account = await synced_account(client)
        room = account.rooms.get(room_id)
        if room is None or room.membership != "join":
            raise CommandError(f"you are not joined to {args.room}")
        if args.event_id is not None and room.event(args.event_id) is None:
            room = await _load_event(client, room, args.event_id)
        if args.fully_read:
            action = ReceiptAction(ActionKind.FULLY_READ, receipt_type, None, args.event_id, args.with_receipt)
        elif args.unthreaded:
            action = ReceiptAction(ActionKind.UNTHREADED, receipt_type, None, args.event_id)
        else:
            action = ReceiptAction(ActionKind.THREADED, receipt_type, args.thread or MAIN, args.event_id)
        if args.thread not in (None, MAIN) and args.thread not in room.complete_threads:
            # The sync window may hold none of the thread, or only its root: load it.
            try:
                events, complete = await load_thread(client, room, args.thread)
            except RequestRefused as error:
                raise CommandError(f"event {args.thread} is not in {room.name or room_id}: {error}") from None
            room = backfill(room, events, complete_thread=args.thread if complete else None)
            if room.event(args.thread) is None:
                raise CommandError(f"event {args.thread} is not in {room.name or room_id}")
        request = plan(room, action)
        if isinstance(request, Refusal):
            raise CommandError(f"nothing sent: {request.reason}")
        await send_request(client, request)
        if isinstance(request, FullyReadRequest):
            kind = request.receipt_type
            extra = f" with a {kind.label} receipt up to {request.receipt_event_id}" if kind else ""
            return f"fully-read marker moved to {request.event_id}{extra} in {room.name or room_id}"
        scope = "unthreaded" if request.thread_id is None else f"thread {request.thread_id}"
        return f"{request.receipt_type.label} receipt ({scope}) up to {request.event_id} in {room.name or room_id}"


async def _load_event(client: MatrixClient, room: RoomState, event_id: str) -> RoomState:
    try:
        raw = await client.room_event(room.room_id, event_id)
    except RequestRefused as error:
        raise CommandError(f"event {event_id} is not in {room.name or room.room_id}: {error}") from None
    return backfill(room, translate.timeline_events([raw]))

