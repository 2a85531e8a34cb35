"""The audit screen: what other members can see of my reading, room by room, beside what
only I see, with the receipt policy that decides each room, and a warning row where the
server holds a public receipt of mine that readmark did not send in a room whose policy is
private or none (another of my clients sent it). Rooms with warnings first.

Bindings: ``escape`` (or ``W``, ``q``) closes.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from app.model.audit import RoomAudit
from app.model.audit import describe_position as where
from app.paths import styles_dir


def audit_lines(rooms: list[RoomAudit]) -> list[Content]:
    lines = [Content.styled(f"{'room':<28} {'mode':<26} {'others see':<18} only you see", "bold")]
    for room in rooms:
        main = next((t for t in room.threads if t.thread_id == "main"), None)
        mode = room.mode.value.upper() + ("" if room.rule == "default" else f" · {room.rule}")
        title = room.title if len(room.title) <= 27 else room.title[:26] + "…"
        mode = mode if len(mode) <= 25 else mode[:24] + "…"
        visible = where(main.public if main else None)
        lines.append(Content.assemble(
            Content(f"{title:<28} "),
            Content.styled(f"{mode:<26} ", "$warning" if room.mode.value == "public" else ""),
            Content.styled(f"{visible:<18} ", "$warning" if visible != "nothing" else "$text-muted"),
            Content(where(main.private if main else None)),
        ))
        for thread in room.threads:
            if thread.thread_id == "main" or (thread.public.event_id is None and thread.private.event_id is None):
                continue
            lines.append(Content.styled(
                f"  thread {thread.thread_id[:20]:<46} {where(thread.public):<18} {where(thread.private)}",
                "$text-muted"))
        for warning in room.warnings:
            lines.append(Content.styled(f"  ! {warning.text}", "bold $error"))
    return lines


class AuditScreen(ModalScreen[None]):
    CSS_PATH = styles_dir() / "bulk.tcss"
    BINDINGS = [Binding("escape,W,q", "close", "Close", id="audit.close")]

    def __init__(self, rooms: list[RoomAudit]) -> None:
        super().__init__()
        self.rooms = rooms

    def compose(self) -> ComposeResult:
        warned = sum(1 for room in self.rooms if room.warnings)
        summary = (f"{warned} room{'s' if warned != 1 else ''} with a public receipt readmark did not send"
                   if warned else "every public receipt of yours is one readmark sent in a public room")
        with Vertical(id="bulk-dialog"):
            yield Static(Content("Who sees what you read"), id="bulk-title")
            yield Static(Content(summary), id="bulk-summary")
            with VerticalScroll(id="bulk-rooms"):
                yield Static(Content("\n").join(audit_lines(self.rooms)), id="audit-lines")
            yield Static("escape: close", id="bulk-keys")

    def action_close(self) -> None:
        self.dismiss(None)
