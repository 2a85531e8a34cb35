"""The status document: what ``readmark status --json`` prints of an account, built from
the account alone (pure), by the one-shot command and by a running readmark that answers
for it over its owner socket.
"""

from __future__ import annotations

from collections.abc import Callable

from app.model.account import AccountState, sorted_rooms, sorted_threads
from app.model.ids import RoomId
from app.model.room import RoomState
from app.model.sending import RoomMode
from app.model.edits import latest_text
from app.model.ids import MAIN
from app.model.receipts import ReceiptKey, ReceiptType
from app.model.spaces import group_account
from app.model.summary import shown_highlights
from app.model.unread import room_unread, threads_unread


def status_document(
    account: AccountState, *, unread_only: bool = False, policy: Callable[[RoomId], RoomMode] | None = None
) -> dict:
    """``policy``: each room's receipt policy (the core's ``mode_in``); without it the
    document says nothing of policies."""
    rooms = []
    for room in sorted_rooms(account):
        if room.is_space:
            continue  # a space is a group (below), not a room with messages
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
                    "local_notifications": unread.local_notifications,
                    "local_highlights": unread.local_highlights,
                    "undecryptable": unread.undecryptable,
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
                "encrypted": room.encrypted,
                "local_notifications": counts.local_notifications,
                "local_highlights": counts.local_highlights,
                "undecryptable": counts.undecryptable,
                "marked_unread": room.marked_unread,
                "fully_read": room.fully_read_event(),
                **_policy(room, policy),
                "threads": threads,
            }
        )
    return {"user_id": account.user_id, "rooms": rooms, "groups": _groups(account)}


def _policy(room: RoomState, policy: Callable[[RoomId], RoomMode] | None) -> dict:
    """The room's receipt policy, and the read position other members see: my furthest
    public receipt the server confirmed (unthreaded or on the main timeline), or None."""
    best: tuple[int, str] | None = None
    for thread in (None, MAIN):
        receipt = room.receipts.get(ReceiptKey(room.me, ReceiptType.PUBLIC, thread))
        if receipt is not None:
            candidate = (room.index.get(receipt.event_id, -1), receipt.event_id)
            best = candidate if best is None or candidate > best else best
    found: dict = {"visible_read_position": best[1] if best is not None else None}
    if policy is not None:
        mode = policy(room.room_id)
        found["receipt_policy"] = {"mode": mode.mode.value, "rule": mode.rule}
    return found


def _groups(account: AccountState) -> list[dict]:
    """The rooms pane's groups with their totals (each room counted once in a group,
    however many of its sub-spaces hold it): spaces depth first, then direct messages,
    then the other rooms."""
    grouping = group_account(account.rooms.values())
    found = []
    for top in grouping.groups:
        for group in top.walk():
            unread = highlights = threads = 0
            lower = False
            for room_id in group.members:
                room = account.rooms[room_id]
                counts = room_unread(room)
                unread += counts.unread
                highlights += shown_highlights(counts, room.encrypted)
                threads += counts.unread_threads
                lower = lower or (counts.lower_bound and counts.unread > 0)
            found.append({
                "kind": group.kind.value,
                "space_id": group.space_id,
                "name": group.title,
                "depth": group.depth,
                "unread": unread,
                "unread_is_lower_bound": lower,
                "highlights": highlights,
                "unread_threads": threads,
                "rooms": sorted(group.members),
            })
    return found
