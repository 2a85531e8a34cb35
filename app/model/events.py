"""Timeline events as the read-state core sees them, and which of them count as unread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from app.model.ids import EventId, UserId

REL_THREAD: Final = "m.thread"
REL_REPLACE: Final = "m.replace"
REL_ANNOTATION: Final = "m.annotation"

# Event types a person would call a message: these are the ones counted as unread.
MESSAGE_TYPES: Final = frozenset(
    {
        "m.room.message",
        "m.room.encrypted",
        "m.sticker",
        "m.poll.start",
        "org.matrix.msc3381.poll.start",
    }
)


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One room event, reduced to what read state and a one-line display need.

    ``relates_to``/``rel_type`` come from ``content["m.relates_to"]`` (rich replies are
    not relations and are left out). ``state_key`` is not None for state events.
    ``thread_reply_count`` is the server's bundled count when this event is a thread root.
    """

    event_id: EventId
    sender: UserId
    ts: int
    type: str
    body: str = ""
    rel_type: str | None = None
    relates_to: EventId | None = None
    state_key: str | None = None
    redacted: bool = False
    redacts: EventId | None = None
    thread_reply_count: int | None = None

    @property
    def is_state(self) -> bool:
        return self.state_key is not None

    @property
    def is_edit(self) -> bool:
        return self.rel_type == REL_REPLACE


REACTION_LABEL: Final = "[reaction]"


def reaction_body(key: str) -> str:
    """A reaction's one-line form (its ``body``): the label, then the key it adds."""
    return f"{REACTION_LABEL} {key}" if key else REACTION_LABEL


def reaction_key(event: TimelineEvent) -> str:
    """The key a reaction adds (an emoji, mostly), read back from its one-line form;
    empty when it has none."""
    return event.body.removeprefix(REACTION_LABEL).removeprefix(" ")


def is_message(event: TimelineEvent) -> bool:
    """True for events a person calls a message: not state, edits, reactions or redacted ones."""
    return (
        event.type in MESSAGE_TYPES
        and event.state_key is None
        and not event.redacted
        and event.rel_type != REL_REPLACE
    )


def counts_as_unread(event: TimelineEvent, me: UserId) -> bool:
    """A message by someone else: the only kind of event an unread count includes."""
    return event.sender != me and is_message(event)
