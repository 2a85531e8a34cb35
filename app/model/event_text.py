"""The one line of words an event shows, from the facts a ``TimelineEvent`` holds:
``[image] cat.png``, ``* Alice waves``, ``bob joined``, ``[poll] Lunch?``.

The timeline, the thread titles, the status line and ``readmark status --json`` all show
these words, and the command line must not load the UI, so they are worded here, below
both. Pure: the facts arrive already safe for one line, and the words only bound them.
"""

from __future__ import annotations

from typing import Final

from app.model.events import POLL_START_TYPES, Membership, MsgType, TimelineEvent, Undecryptable

# A line is at most this long; longer ones are cut with an ellipsis. The translation
# bounds each text it keeps by the same figure.
LINE_MAX_CHARS: Final = 240
# A state event's type in brackets: as long as a name may be.
TYPE_MAX_CHARS: Final = 120

_MEDIA_LABELS: Final = {
    MsgType.IMAGE: "[image]",
    MsgType.FILE: "[file]",
    MsgType.AUDIO: "[audio]",
    MsgType.VIDEO: "[video]",
    MsgType.LOCATION: "[location]",
}
_MEMBERSHIP_VERBS: Final = {
    Membership.JOIN: "joined",
    Membership.LEAVE: "left",
    Membership.INVITE: "was invited",
    Membership.BAN: "was banned",
    Membership.KNOCK: "knocked",
}
REACTION_LABEL: Final = "[reaction]"


def event_text(event: TimelineEvent) -> str:
    """What ``event`` says, in one line; empty for a redacted event or one that says
    nothing (a redaction, a text message without a body)."""
    if event.redacted:
        return ""
    if event.state_key is not None:
        return _state_text(event)
    etype, body = event.type, event.body
    if etype == "m.room.message":
        msgtype = event.msgtype
        if msgtype == MsgType.EMOTE:
            return _bounded("* " + event.member_name + " " + body)
        label = _MEDIA_LABELS.get(msgtype)  # type: ignore[arg-type]
        return body if label is None else _labelled(label, body)
    if etype == "m.room.encrypted":
        return undecryptable_text(event.undecryptable)
    if etype == "m.sticker":
        return _labelled("[sticker]", body)
    if etype in POLL_START_TYPES:
        return _labelled("[poll]", body)
    if etype == "m.reaction":
        return f"{REACTION_LABEL} {event.key}" if event.key else REACTION_LABEL
    return body


_UNDECRYPTABLE: Final = {
    Undecryptable.NO_KEY.value: "waiting for the key",
    Undecryptable.UNKNOWN_INDEX.value: "sent before this device had the key",
    Undecryptable.REPLAY.value: "rejected: a replayed message",
    Undecryptable.MISMATCH.value: "rejected: its key is not its sender's",
    Undecryptable.BAD.value: "damaged",
    Undecryptable.NO_STORE.value: "readable in the readmark that owns this profile",
}
# m.room_key.withheld codes (the spec's).
_WITHHELD: Final = {
    "m.unverified": "key withheld: this device is not verified",
    "m.blacklisted": "key withheld: the sender blocks this device",
    "m.unauthorised": "key withheld: not shared with this device",
    "m.unavailable": "key withheld: the sender no longer has it",
    "m.no_olm": "key withheld: no secure channel to the sender",
}


def undecryptable_text(reason: str) -> str:
    """``[encrypted]``, with why it cannot be read once that is known."""
    if not reason:
        return "[encrypted]"
    if reason.startswith(Undecryptable.WITHHELD.value):
        code = reason.partition(":")[2]
        words = _WITHHELD.get(code, f"key withheld ({code[:40]})" if code else "key withheld")
    else:
        words = _UNDECRYPTABLE.get(reason, "unreadable")
    return f"[encrypted: {words}]"


def _state_text(event: TimelineEvent) -> str:
    etype, body = event.type, event.body
    if etype == "m.room.member":
        verb = _MEMBERSHIP_VERBS.get(event.membership, "changed membership")  # type: ignore[arg-type]
        return _bounded(event.member_name + " " + verb)
    if etype == "m.room.name":
        return _bounded("[name] " + body) if body else "[name removed]"
    if etype == "m.room.canonical_alias":
        return _bounded("[alias] " + body) if body else "[alias removed]"
    if etype == "m.room.topic":
        return _bounded("[topic] " + body)
    return _bounded("[" + etype + "]", TYPE_MAX_CHARS)


def _labelled(label: str, body: str) -> str:
    return _bounded(label + " " + body) if body else label


def _bounded(text: str, limit: int = LINE_MAX_CHARS) -> str:
    """``text`` within ``limit`` characters: a line that is too long, or holds what
    ``isprintable`` refuses, has its whitespace folded, then is cut with an ellipsis.
    It is ``clean_text``'s rule for one line, so joining safe parts gives what
    ``clean_text`` gives the whole."""
    if len(text) <= limit and text.isprintable():
        return text
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
