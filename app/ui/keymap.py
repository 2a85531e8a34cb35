"""Every key binding as data: its ID (the name ``[keys]`` in config.toml remaps), the
default key, the action, the words for the Footer and the help screen, and what it
sends to the server.

Widgets and screens build their ``BINDINGS`` from here, so the help screen, the
command palette and the bindings cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from textual.binding import Binding

from app.model.receipts import ReceiptType

# Where a binding lives: the app (everywhere), the main screen, or a list pane.
APP: Final = "app"
MAIN: Final = "main"
LIST: Final = "list"


@dataclass(frozen=True, slots=True)
class KeySpec:
    """One binding: its id, default key(s), action, and the words that describe it."""

    id: str
    key: str
    action: str
    description: str
    help: str
    # A template for what goes on the wire; {mode} is the receipt type in effect.
    # Empty: the key sends nothing.
    wire: str = ""
    scope: str = MAIN
    show: bool = True
    key_display: str | None = None
    priority: bool = False

    def binding(self) -> Binding:
        return Binding(
            self.key,
            self.action,
            self.description,
            show=self.show,
            key_display=self.key_display,
            priority=self.priority,
            id=self.id,
        )

    def wire_for(self, mode: ReceiptType) -> str:
        return self.wire.format(mode=mode.value) if self.wire else "nothing"

    @property
    def group(self) -> str:
        """The help screen's heading for this key."""
        return GROUP_OF.get(self.id.split(".", 1)[0], "Moving around")


RECEIPT_THREAD_WIRE = 'POST /rooms/{{room}}/receipt/{mode}/{{event}} {{"thread_id": "<root, or main>"}}'

KEYS: Final[tuple[KeySpec, ...]] = (
    # list panes
    KeySpec("cursor.down", "j,down", "cursor_down", "down", "move down in the focused pane", scope=LIST, show=False),
    KeySpec("cursor.up", "k,up", "cursor_up", "up", "move up in the focused pane", scope=LIST, show=False),
    KeySpec("cursor.first", "g,home", "cursor_first", "first", "first row", scope=LIST, show=False),
    KeySpec("cursor.last", "G,end", "cursor_last", "last", "last row", scope=LIST, show=False),
    KeySpec("cursor.page_down", "pagedown", "page_down", "page down", "one page down", scope=LIST, show=False),
    KeySpec("cursor.page_up", "pageup", "page_up", "page up", "one page up", scope=LIST, show=False),
    KeySpec(
        "pane.open",
        "enter",
        "open",
        "open",
        "open: a room shows its threads, a thread its timeline",
        scope=LIST,
        show=False,
    ),
    # main screen
    KeySpec("pane.next", "tab", "next_pane", "next pane", "next pane", show=False),
    KeySpec("pane.previous", "shift+tab", "previous_pane", "previous pane", "previous pane", show=False),
    KeySpec("pane.back", "escape", "back", "back", "back to the pane on the left; clears the name filter", show=False),
    KeySpec(
        "unread.next",
        "n",
        "next_unread",
        "next unread",
        "jump to the next unread thread, across rooms",
    ),
    KeySpec(
        "unread.previous",
        "N",
        "previous_unread",
        "previous unread",
        "jump to the previous unread thread, across rooms",
        show=False,
    ),
    KeySpec(
        "receipt.thread",
        "r",
        "read_thread",
        "read",
        "read receipt in the current mode, threaded, for the selected thread: up to the "
        "highlighted event in the timeline pane, else the thread's latest event by someone else",
        wire=RECEIPT_THREAD_WIRE,
    ),
    KeySpec(
        "receipt.room",
        "R",
        "read_room",
        "read room",
        "unthreaded receipt in the current mode up to the room's latest event by someone else "
        "(clears the room and all its threads)",
        wire="POST /rooms/{{room}}/receipt/{mode}/{{event}} {{}}",
    ),
    KeySpec(
        "receipt.thread_and_next",
        "a",
        "read_and_next",
        "read+next",
        "r, then jump to the next unread thread",
        wire=RECEIPT_THREAD_WIRE,
    ),
    KeySpec(
        "marker.fully_read",
        "f",
        "fully_read",
        "fully read",
        "move the fully-read marker to the highlighted event (timeline pane) or the room's latest event",
        wire='POST /rooms/{{room}}/read_markers {{"m.fully_read": "{{event}}"}} (no receipt)',
    ),
    KeySpec(
        "mode.toggle",
        "p",
        "toggle_mode",
        "public/private",
        "toggle the receipt mode, public or private, for this session",
    ),
    KeySpec(
        "room.marked_unread",
        "m",
        "mark_unread",
        "mark unread",
        "flag the selected room as unread to come back to, or clear the flag (a read receipt clears it too)",
        wire='PUT /user/{{me}}/rooms/{{room}}/account_data/m.marked_unread {{"unread": true|false}} (no receipt)',
    ),
    KeySpec(
        "room.policy",
        "P",
        "cycle_room_policy",
        "room mode",
        "set the selected room's receipt mode for every readmark of yours: private, public, none "
        "(read keys send no receipt there; f still moves the fully-read marker), or back to the rules",
        wire='PUT /user/{{me}}/rooms/{{room}}/account_data/org.readmark.receipt_policy {{"mode": ...}} (no receipt)',
        show=False,
    ),
    KeySpec(
        "room.audit",
        "W",
        "audit",
        "who sees",
        "who sees what you read: per room, the position other members see (your public receipts) beside "
        "the one only you see, and a warning for a public receipt readmark did not send in a private room",
        show=False,
    ),
    KeySpec(
        "device.verify",
        "V",
        "verify_device",
        "verify",
        "verify this device with your recovery key or passphrase, and restore the key backup",
        wire="POST /keys/signatures/upload (this device, signed by your self-signing key); GET /room_keys/keys",
        show=False,
    ),
    KeySpec(
        "receipt.bulk",
        "A",
        "read_shown",
        "read all shown",
        "read every room the list shows (all rooms, or those the filter leaves): one unthreaded "
        "receipt per room in its own mode, after a dry run of what it clears (R on a group's "
        "header reads that group: a space with its sub-spaces, the direct messages)",
        wire="POST /rooms/{{room}}/receipt/<the room's mode>/{{event}} {{}}, once per room",
        show=False,
    ),
    KeySpec("group.toggle", "z", "toggle_group", "fold", "collapse or expand the group under the cursor",
            show=False),
    KeySpec("group.flat", "Z", "toggle_grouping", "groups", "rooms under their spaces, or one flat list",
            show=False),
    KeySpec("filter.unread", "u", "unread_only", "unread only", "show only rooms and threads with unread"),
    KeySpec("filter.name", "slash", "filter_rooms", "filter", "filter rooms by name", key_display="/"),
    KeySpec("sort.cycle", "s", "cycle_sort", "sort", "cycle the room sort: activity, unread, name", show=False),
    # everywhere
    KeySpec("app.help", "question_mark", "help", "help", "this help", scope=APP, key_display="?"),
    KeySpec(
        "app.command_palette",
        "ctrl+p",
        "command_palette",
        "palette",
        "command palette: every action, with explicit public/private and threaded/unthreaded variants",
        scope=APP,
        show=False,
        priority=True,
    ),
    KeySpec(
        "app.quit",
        "q",
        "quit",
        "quit",
        "quit",
        wire="nothing; receipts not yet sent stay queued on disk and go out next start",
        scope=APP,
    ),
)

BY_ID: Final = {spec.id: spec for spec in KEYS}

GROUP_OF: Final = {
    "receipt": "Receipts",
    "marker": "Receipts",
    "mode": "Receipts",
    "device": "Receipts",
    "room": "Triage",
    "unread": "Triage",
    "filter": "Lists",
    "group": "Lists",
    "sort": "Lists",
    "app": "Everywhere",
}
GROUPS: Final = ("Receipts", "Triage", "Lists", "Moving around", "Everywhere")


def bindings(scope: str) -> list[Binding]:
    return [spec.binding() for spec in KEYS if spec.scope == scope]
