"""The command palette: every action of the main screen, with the receipt variants
spelled out (public or private, threaded or unthreaded, fully-read with or without a
receipt) so nothing is left to guess.

While the receipt mode in effect is PRIVATE, the public variants are listed but send
nothing: choosing one says to switch mode first. A private mode never produces
``m.read``, whichever way the user asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from app.model.receipts import ReceiptType
from app.ui.screens.main import MainScreen

PUBLIC = ReceiptType.PUBLIC
PRIVATE = ReceiptType.PRIVATE


@dataclass(frozen=True, slots=True)
class PaletteCommand:
    title: str
    help: str
    run: Callable[[], object]
    # The key binding this entry mirrors (the help screen's ``[id]``).
    binding_id: str | None = None


def main_screen_commands(screen: MainScreen) -> list[PaletteCommand]:
    mode = screen.mode.receipt_type
    commands: list[PaletteCommand] = []

    def receipt(
        receipt_type: ReceiptType, title: str, help_text: str, run: Callable[[], object], binding_id: str
    ) -> None:
        if receipt_type is PUBLIC and mode is PRIVATE:
            title += "  (needs PUBLIC mode: press p)"
            help_text = "Sends nothing while the mode is PRIVATE. " + help_text
        commands.append(PaletteCommand(title, help_text, run, binding_id))

    for receipt_type in (PRIVATE, PUBLIC):
        word = receipt_type.label
        wire = receipt_type.value
        receipt(
            receipt_type,
            f"Read thread: {word} receipt, threaded",
            f"{wire} with the selected thread's thread_id, up to its latest event by someone else "
            "(or the timeline's highlighted event)",
            partial(screen.send_thread_receipt, receipt_type),
            "receipt.thread",
        )
        receipt(
            receipt_type,
            f"Read room: {word} receipt, unthreaded",
            f"{wire} without thread_id, up to the room's latest event by someone else: clears every thread",
            partial(screen.send_room_receipt, receipt_type),
            "receipt.room",
        )
        receipt(
            receipt_type,
            f"Read thread and go to next unread: {word} receipt, threaded",
            f"{wire} for the selected thread, then jump to the next unread thread",
            partial(screen.read_and_next, receipt_type),
            "receipt.thread_and_next",
        )
        receipt(
            receipt_type,
            f"Fully read, with a {word} receipt",
            f"m.fully_read and an unthreaded {wire} at the same event, in one /read_markers request",
            partial(screen.send_fully_read, receipt_type),
            "marker.fully_read",
        )
    commands += [
        PaletteCommand(
            "Fully read, marker only (no receipt)",
            "m.fully_read through /read_markers; no read receipt is sent",
            partial(screen.send_fully_read, None),
            "marker.fully_read",
        ),
        PaletteCommand(
            f"Toggle receipt mode (now {mode.label.upper()})",
            "public or private receipts for this session",
            screen.action_toggle_mode,
            "mode.toggle",
        ),
        PaletteCommand(
            "Next unread thread", "across rooms, in the rooms pane's order", screen.action_next_unread, "unread.next"
        ),
        PaletteCommand("Previous unread thread", "across rooms", screen.action_previous_unread, "unread.previous"),
        PaletteCommand(
            "Unread only: toggle", "show only rooms and threads with unread", screen.action_unread_only, "filter.unread"
        ),
        PaletteCommand("Filter rooms by name", "type part of a room name", screen.action_filter_rooms, "filter.name"),
        PaletteCommand(
            f"Sort rooms: next (now {screen.view.sort.value})",
            "activity, unread, name",
            screen.action_cycle_sort,
            "sort.cycle",
        ),
        PaletteCommand(
            "Read every room shown (bulk read, dry run first)",
            "one unthreaded receipt per room the list shows, each in its own mode; lists what it clears first",
            screen.action_read_shown, "receipt.bulk",
        ),
        PaletteCommand(
            "Read all rooms (bulk read, dry run first)",
            "every joined room, one unthreaded receipt each in its own mode",
            screen.read_all, "receipt.bulk",
        ),
        PaletteCommand(
            "Read all direct messages (bulk read, dry run first)",
            "every room m.direct names, one unthreaded receipt each in its own mode",
            screen.read_direct, "receipt.bulk",
        ),
        PaletteCommand(
            "Groups: collapse or expand the one under the cursor", "a space, direct messages, other rooms",
            screen.action_toggle_group, "group.toggle",
        ),
        PaletteCommand(
            f"Rooms: {'one flat list' if screen.view.grouped else 'grouped under spaces'}",
            "spaces, then direct messages, then the other rooms; or one flat list",
            screen.action_toggle_grouping, "group.flat",
        ),
        PaletteCommand(
            f"Room receipt mode: next (now {screen.mode.word})",
            "private, public, none (no receipts), or back to the rules; kept in the room's account data",
            screen.action_cycle_room_policy, "room.policy",
        ),
        PaletteCommand(
            "Audit: who sees what you read", "public positions beside private ones, and warnings",
            screen.action_audit, "room.audit",
        ),
        PaletteCommand(
            "Marked unread: toggle", "flag the selected room to come back to, or clear the flag",
            screen.action_mark_unread, "room.marked_unread",
        ),
        PaletteCommand(
            "Verify this device", "recovery key or passphrase; restores the key backup",
            screen.action_verify_device, "device.verify",
        ),
        PaletteCommand("Next pane", "rooms, threads, timeline", screen.action_next_pane, "pane.next"),
        PaletteCommand("Previous pane", "timeline, threads, rooms", screen.action_previous_pane, "pane.previous"),
        PaletteCommand(
            "Back", "to the pane on the left; clears the name filter", screen.action_back, "pane.back"
        ),
        PaletteCommand(
            "Help: keys and what they send",
            "every binding",
            screen.app.action_help,  # type: ignore[attr-defined]
            "app.help",
        ),
        PaletteCommand(
            "Quit readmark",
            "receipts not yet sent stay queued on disk",
            screen.app.action_quit,
            "app.quit",
        ),
    ]
    grouping = screen.account_groups()
    if grouping is not None:
        for top in grouping.groups:
            for group in top.walk():
                if group.space_id is not None:
                    commands.append(PaletteCommand(
                        f"Read space {group.title} (bulk read, dry run first)",
                        "every room in the space and its sub-spaces, one unthreaded receipt each in its own mode",
                        partial(screen.read_space, group.space_id), "receipt.bulk",
                    ))
    return commands


class ReadmarkCommands(Provider):
    """Palette entries for the main screen's actions."""

    def _commands(self) -> list[PaletteCommand]:
        screen = self.screen
        if not isinstance(screen, MainScreen):
            return []
        return main_screen_commands(screen)

    # Titles name rooms and spaces (others' text): always Content, never markup, so a
    # name like "Evil [/] space" is shown as written (as markup it crashed the palette).
    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(Content(command.title), command.run, text=command.title, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, _highlighted(matcher, command.title), command.run, text=command.title,
                          help=command.help)


def _highlighted(matcher: Matcher, title: str) -> Content:
    """``Matcher.highlight`` without its markup parsing: the matched letters in reverse."""
    content = Content(title)
    score, offsets = matcher.fuzzy_search.match(matcher.query, title)
    if score:
        for offset in offsets:
            if not title[offset].isspace():
                content = content.stylize("reverse", offset, offset + 1)
    return content
