"""Receipt policy: which receipt a room's read keys send (public, private, or none), and
which rule decided, so the status line can say why (``PRIVATE · rule: dm``).

What decides, first match wins:

1. the mode set for the room from readmark (``this room``), kept in the room's account
   data so every readmark of the user agrees (``RoomState.receipt_override``);
2. ``[receipts.rooms]`` in config.toml (a room pinned by ID: ``pinned in config``);
3. the ordered ``[[receipts.rule]]`` list: by room ID or alias, by space (the room is a
   descendant), ``dm``, ``encrypted``, ``public`` (join rule public, or history
   world-readable), ``invite-only``;
4. the session mode (``p``), which starts at ``[receipts] mode`` (``default``).

``none``: read keys send no receipt in the room; ``f`` still moves the fully-read marker,
which no other member sees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final

from app.model.ids import RoomId
from app.model.room import RECEIPT_MODES, RoomState
from app.model.spaces import group_account


class Mode(str, Enum):
    PUBLIC = "public"
    PRIVATE = "private"
    NONE = "none"


RULE_KINDS: Final = ("room", "space", "dm", "encrypted", "public", "invite-only")
# The kinds that take a value (a room or space ID or alias).
VALUED: Final = frozenset({"room", "space"})


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One ``[[receipts.rule]]``: ``match`` (``dm``, ``room:!id``, ``space:#alias``...)
    and the mode it gives."""

    kind: str
    value: str | None
    mode: Mode

    @property
    def label(self) -> str:
        """How the status line and the help name it: ``dm``, ``space #eng:example.org``."""
        return f"{self.kind} {self.value}" if self.value is not None else self.kind

    def matches(self, facts: RoomFacts) -> bool:
        kind = self.kind
        if kind == "room":
            return self.value in (facts.room_id, facts.alias)
        if kind == "space":
            return self.value in facts.spaces
        if kind == "dm":
            return facts.is_direct
        if kind == "encrypted":
            return facts.encrypted
        if kind == "public":
            return facts.join_rule == "public" or facts.history_visibility == "world_readable"
        if kind == "invite-only":
            return facts.join_rule == "invite"
        return False


def parse_match(text: str) -> tuple[str, str | None] | None:
    """``dm`` -> (``dm``, None), ``space:#eng:x`` -> (``space``, ``#eng:x``); None when
    it names no kind (or a valued kind without its value, or a value where none goes)."""
    kind, sep, value = text.strip().partition(":")
    kind = kind.strip()
    if kind not in RULE_KINDS:
        return None
    if kind in VALUED:
        value = value.strip()
        return (kind, value) if sep and value else None
    return (kind, None) if not sep else None


@dataclass(frozen=True, slots=True)
class RoomFacts:
    """What the rules read of one room. ``spaces``: the IDs and aliases of every joined
    space the room is a descendant of."""

    room_id: RoomId
    alias: str | None = None
    is_direct: bool = False
    encrypted: bool = False
    join_rule: str | None = None
    history_visibility: str | None = None
    spaces: frozenset[str] = frozenset()
    override: Mode | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The mode a room takes, and what decided it: ``this room`` (set from readmark),
    ``pinned in config`` (``[receipts.rooms]``), ``rule: <label>``, ``default`` or
    ``session`` (``p`` moved it)."""

    mode: Mode
    rule: str
    # A per-room choice or a rule decided, not the session mode (``p`` does not move it).
    pinned: bool = False


def decide(
    facts: RoomFacts,
    rules: Sequence[PolicyRule],
    pinned_rooms: dict[RoomId, Mode] | None,
    session: Mode,
    *,
    session_moved: bool = False,
) -> Decision:
    """The first of: the room's own setting, a pinned room, the first matching rule,
    the session mode (``default`` while ``p`` has not moved it)."""
    if facts.override is not None:
        return Decision(facts.override, "this room", True)
    if pinned_rooms:
        pinned = pinned_rooms.get(facts.room_id)
        if pinned is not None:
            return Decision(pinned, "pinned in config", True)
    for rule in rules:
        if rule.matches(facts):
            return Decision(rule.mode, f"rule: {rule.label}", True)
    return Decision(session, "session" if session_moved else "default")


def needs_spaces(rules: Iterable[PolicyRule]) -> bool:
    return any(rule.kind == "space" for rule in rules)


def room_facts(room: RoomState, spaces: frozenset[str] = frozenset()) -> RoomFacts:
    """What the rules read of ``room``; ``spaces`` from ``space_ancestors``."""
    override = room.receipt_override
    return RoomFacts(
        room.room_id,
        room.name_inputs.canonical_alias,
        room.is_direct,
        room.encrypted,
        room.join_rule,
        room.history_visibility,
        spaces,
        Mode(override) if override in RECEIPT_MODES else None,
    )


def space_ancestors(rooms: Mapping[RoomId, RoomState]) -> dict[RoomId, frozenset[str]]:
    """For each room in a joined space: the IDs and canonical aliases of every joined
    space it descends from (the grouping's rules: loops and claims as there)."""
    grouping = group_account(rooms.values())
    found: dict[RoomId, set[str]] = {}
    for top in grouping.groups:
        for group in top.walk():
            if group.space_id is None:
                continue
            names = {group.space_id}
            space = rooms.get(group.space_id)
            if space is not None and space.name_inputs.canonical_alias:
                names.add(space.name_inputs.canonical_alias)
            for room_id in group.members:
                found.setdefault(room_id, set()).update(names)
    return {room_id: frozenset(names) for room_id, names in found.items()}


def structure_of(rooms: Mapping[RoomId, RoomState]) -> tuple:
    """What ``space_ancestors`` depends on, cheap to compare: each space's membership,
    children and alias, and every room's parent claims (unchanged states share them)."""
    return tuple(
        (room_id, room.membership, id(room.space_children), id(room.space_parents), room.name_inputs.canonical_alias)
        for room_id, room in rooms.items()
        if room.room_type is not None or room.space_parents
    )
