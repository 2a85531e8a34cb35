"""Timeline events as the read-state core sees them, and which of them count as unread.

A ``TimelineEvent`` holds what an event is (a message of some msgtype, a membership
change, a new room name, a reaction's key), never the words a screen shows for it:
those are ``app.model.event_text``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

from app.model.ids import EventId, UserId

REL_THREAD: Final = "m.thread"
REL_REPLACE: Final = "m.replace"
REL_ANNOTATION: Final = "m.annotation"

# A poll's start, stable and unstable (MSC3381).
POLL_START_TYPES: Final = frozenset({"m.poll.start", "org.matrix.msc3381.poll.start"})
# Event types a person would call a message: these are the ones counted as unread.
MESSAGE_TYPES: Final = frozenset({"m.room.message", "m.room.encrypted", "m.sticker", *POLL_START_TYPES})


class MsgType(StrEnum):
    """What kind of message an ``m.room.message`` is (its ``msgtype``); OTHER for any
    other or missing msgtype."""

    TEXT = "text"
    NOTICE = "notice"
    EMOTE = "emote"
    IMAGE = "image"
    FILE = "file"
    AUDIO = "audio"
    VIDEO = "video"
    LOCATION = "location"
    OTHER = "other"


class Membership(StrEnum):
    """What an ``m.room.member`` event makes of its member; OTHER for any other value."""

    JOIN = "join"
    LEAVE = "leave"
    INVITE = "invite"
    BAN = "ban"
    KNOCK = "knock"
    OTHER = "other"


@dataclass(frozen=True, slots=True, init=False)
class TimelineEvent:
    """One room event, reduced to what read state and a one-line display need.

    ``relates_to``/``rel_type`` come from ``content["m.relates_to"]`` (rich replies are
    not relations and are left out). ``state_key`` is not None for state events.
    ``thread_reply_count`` is the server's bundled count when this event is a thread root.

    What the event says, as facts (text already made safe for one line by whoever built
    the event; all empty for a redacted event):

    - ``body``: a message's body (an edit's new body; a file's name or a caption), a
      sticker's body, a poll's question, the new value of a room name, alias or topic,
      or the ``body`` of an event of another type; empty for the rest;
    - ``msgtype``: for an ``m.room.message``, its kind; None for other events;
    - ``membership``: for an ``m.room.member`` state event, the change; None otherwise;
    - ``member_name``: the display name, as of the event's place in the timeline, of the
      member it is about: the sender of an emote, the ``state_key`` of a membership
      change;
    - ``key``: for a reaction, the key it adds (an emoji, mostly).

    An event that came encrypted keeps its ``ciphertext`` (the compact JSON of its
    ``m.room.encrypted`` content), decrypted or not, so that only that reaches the disk.
    ``alert`` is what the user's push rules, evaluated here, make of the event (``ALERT_*``):
    worked out for the events an unread count can include (messages by others), on the
    plaintext once an encrypted event is decrypted; ``ALERT_UNKNOWN`` for the rest.

    Until it is decrypted its ``type`` is ``m.room.encrypted``, the facts above are empty,
    and ``undecryptable`` says why it is not readable once that was tried (an
    ``Undecryptable`` value: ``no-key``, ``withheld:m.unverified``, ...). Its relation is
    the cleartext one, decrypted or not: a thread's membership never depends on a key.

    The translation and the cache build events positionally, for speed: they rely on
    this field order, which a test pins, as it pins ``__init__`` to the fields.
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
    msgtype: MsgType | None = None
    membership: Membership | None = None
    member_name: str = ""
    key: str = ""
    ciphertext: str | None = None
    undecryptable: str = ""
    alert: int = 0

    def __init__(
        self,
        event_id: EventId,
        sender: UserId,
        ts: int,
        type: str,
        body: str = "",
        rel_type: str | None = None,
        relates_to: EventId | None = None,
        state_key: str | None = None,
        redacted: bool = False,
        redacts: EventId | None = None,
        thread_reply_count: int | None = None,
        msgtype: MsgType | None = None,
        membership: Membership | None = None,
        member_name: str = "",
        key: str = "",
        ciphertext: str | None = None,
        undecryptable: str = "",
        alert: int = 0,
    ) -> None:
        # The __init__ a frozen dataclass generates sets each field through
        # object.__setattr__; the slots' own setters do the same in half the time, and a
        # sync or a cache load builds an event for every event it holds.
        _set_event_id(self, event_id)
        _set_sender(self, sender)
        _set_ts(self, ts)
        _set_type(self, type)
        _set_body(self, body)
        _set_rel_type(self, rel_type)
        _set_relates_to(self, relates_to)
        _set_state_key(self, state_key)
        _set_redacted(self, redacted)
        _set_redacts(self, redacts)
        _set_thread_reply_count(self, thread_reply_count)
        _set_msgtype(self, msgtype)
        _set_membership(self, membership)
        _set_member_name(self, member_name)
        _set_key(self, key)
        _set_ciphertext(self, ciphertext)
        _set_undecryptable(self, undecryptable)
        _set_alert(self, alert)

    @property
    def is_state(self) -> bool:
        return self.state_key is not None

    @property
    def is_edit(self) -> bool:
        return self.rel_type == REL_REPLACE


# The slots' setters, which bypass the frozen __setattr__ (for __init__ only).
_set_event_id = TimelineEvent.event_id.__set__  # type: ignore[attr-defined]
_set_sender = TimelineEvent.sender.__set__  # type: ignore[attr-defined]
_set_ts = TimelineEvent.ts.__set__  # type: ignore[attr-defined]
_set_type = TimelineEvent.type.__set__  # type: ignore[attr-defined]
_set_body = TimelineEvent.body.__set__  # type: ignore[attr-defined]
_set_rel_type = TimelineEvent.rel_type.__set__  # type: ignore[attr-defined]
_set_relates_to = TimelineEvent.relates_to.__set__  # type: ignore[attr-defined]
_set_state_key = TimelineEvent.state_key.__set__  # type: ignore[attr-defined]
_set_redacted = TimelineEvent.redacted.__set__  # type: ignore[attr-defined]
_set_redacts = TimelineEvent.redacts.__set__  # type: ignore[attr-defined]
_set_thread_reply_count = TimelineEvent.thread_reply_count.__set__  # type: ignore[attr-defined]
_set_msgtype = TimelineEvent.msgtype.__set__  # type: ignore[attr-defined]
_set_membership = TimelineEvent.membership.__set__  # type: ignore[attr-defined]
_set_member_name = TimelineEvent.member_name.__set__  # type: ignore[attr-defined]
_set_key = TimelineEvent.key.__set__  # type: ignore[attr-defined]
_set_ciphertext = TimelineEvent.ciphertext.__set__  # type: ignore[attr-defined]
_set_undecryptable = TimelineEvent.undecryptable.__set__  # type: ignore[attr-defined]
_set_alert = TimelineEvent.alert.__set__  # type: ignore[attr-defined]


class _EventFields:
    """``TimelineEvent``'s slots, in its layout, with plain stores, that becomes a
    ``TimelineEvent`` once they are set (``__class__`` assignment, which the identical
    layout allows): see ``new_event``."""

    __slots__ = TimelineEvent.__slots__

    def __init__(
        self, event_id: EventId, sender: UserId, ts: int, type: str, body: str, rel_type: str | None,
        relates_to: EventId | None, state_key: str | None, redacted: bool, redacts: EventId | None,
        thread_reply_count: int | None, msgtype: MsgType | None, membership: Membership | None, member_name: str,
        key: str, ciphertext: str | None, undecryptable: str, alert: int,
    ) -> None:
        self.event_id = event_id
        self.sender = sender
        self.ts = ts
        self.type = type
        self.body = body
        self.rel_type = rel_type
        self.relates_to = relates_to
        self.state_key = state_key
        self.redacted = redacted
        self.redacts = redacts
        self.thread_reply_count = thread_reply_count
        self.msgtype = msgtype
        self.membership = membership
        self.member_name = member_name
        self.key = key
        self.ciphertext = ciphertext
        self.undecryptable = undecryptable
        self.alert = alert
        self.__class__ = TimelineEvent  # type: ignore[assignment]


# ``TimelineEvent(...)`` of all eighteen fields, positional, in about a third of its time
# (plain slot stores cost a quarter of the descriptor calls ``TimelineEvent.__init__``
# needs to get past the frozen ``__setattr__``): for the paths that build one per event
# of a sync or of the cache. What it returns is a ``TimelineEvent``; a test holds the
# two equal.
new_event: Final[Callable[..., TimelineEvent]] = _EventFields  # type: ignore[assignment]



def settle_alert(event: TimelineEvent, alert: int) -> None:
    """Set ``event``'s alert in place. Only for whoever built ``event`` and has not let
    it go yet: the sync translation judges the messages it has just read once their
    receipts are in, before the room holding them is returned (a copy per judged
    message, ``with_verdict``'s, costs ~1.5 us, 11,000 of them in a 1,000-room initial
    sync). An event anything else may already hold (a room returned, the cache's) is
    replaced by a copy instead; nothing hashes an event before this is done."""
    _set_alert(event, alert)


# What the push rules make of an event (``TimelineEvent.alert``).
ALERT_UNKNOWN: Final = 0  # not evaluated: counted as a notification, as servers count it
ALERT_SILENT: Final = 1
ALERT_NOTIFY: Final = 2
ALERT_HIGHLIGHT: Final = 3  # a notification that highlights (a mention, say)


def notifies(event: TimelineEvent) -> bool:
    return event.alert != ALERT_SILENT


def highlights(event: TimelineEvent) -> bool:
    return event.alert == ALERT_HIGHLIGHT

ENCRYPTED: Final = "m.room.encrypted"


class Undecryptable(StrEnum):
    """Why an encrypted event is not readable (yet). A withheld key adds the sender's
    code: ``withheld:m.unverified``."""

    NO_KEY = "no-key"  # no room key for its session: it may still arrive
    WITHHELD = "withheld"  # the sender said it will not send the key
    UNKNOWN_INDEX = "unknown-index"  # the key held starts after this message
    REPLAY = "replay"  # its message index was seen under another event
    MISMATCH = "mismatch"  # its session is another user's, or its plaintext names another room
    BAD = "bad"  # not a Megolm event, or its ciphertext or plaintext is damaged
    NO_STORE = "no-store"  # this process has no crypto store open (it follows another)


def undecryptable_value(reason: Undecryptable, code: str | None = None) -> str:
    return f"{reason.value}:{code}" if reason is Undecryptable.WITHHELD and code else reason.value


def is_undecrypted(event: TimelineEvent) -> bool:
    """Still ciphertext only: encrypted and not (yet) decrypted."""
    return event.ciphertext is not None and event.type == ENCRYPTED


def as_redacted(event: TimelineEvent) -> TimelineEvent:
    """``event`` once redacted: what it said is gone, its place in the room stays."""
    return replace(
        event, redacted=True, body="", msgtype=None, membership=None, member_name="", key="", ciphertext=None,
        undecryptable="",
    )


def is_message(event: TimelineEvent) -> bool:
    """True for events a person calls a message: not state, edits, reactions or redacted
    ones (an encrypted reaction says it is one by its cleartext relation)."""
    return (
        event.type in MESSAGE_TYPES
        and event.state_key is None
        and not event.redacted
        and event.rel_type != REL_REPLACE
        and event.rel_type != REL_ANNOTATION
    )


def counts_as_unread(event: TimelineEvent, me: UserId) -> bool:
    """A message by someone else: the only kind of event an unread count includes."""
    return event.sender != me and is_message(event)
