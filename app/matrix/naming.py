"""A room's state while one sync is applied to it, as far as readmark reads it: its name,
canonical alias, heroes and member counts (the inputs of ``app.model.names``), its
members' display names, whether it is encrypted, its power levels (for the push
rules), its type (a space or not), a space's children and a room's claimed parents,
its join rule and history visibility (for the receipt policy), updated by state events and the sync's room summary in the order they come.

Spaces' state comes from anybody allowed to send it, so it is bounded: at most
``MAX_SPACE_CHILDREN`` children per space and ``MAX_SPACE_PARENTS`` parents per room
(more are skipped and counted), each event costing O(1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from app.matrix.wire import Tally, clean_name, timestamp
from app.model.ids import RoomId, UserId, is_room_id, is_token, is_user_id
from app.model.names import NameInputs
from app.model.room import PowerLevels, RoomState, SpaceChild, SpaceParent

# The spec sends up to five heroes.
MAX_HEROES: Final = 5
# A space's children and a room's parents kept: more is a hostile space (or room), and
# what is past the bound is skipped.
MAX_SPACE_CHILDREN: Final = 10_000
MAX_SPACE_PARENTS: Final = 100
# The spec's bound on an m.space.child ``order``.
MAX_ORDER_CHARS: Final = 50


class RoomNaming:
    """Plain attributes, turned into one ``NameInputs`` at the end; the member map is
    copied on first write. ``changed`` says whether anything differs from the room's."""

    __slots__ = (
        "me", "name", "alias", "heroes", "joined", "invited", "members", "_members_copied", "changed", "encrypted", "power",
        "room_type", "children", "_children_copied", "parents", "_parents_copied", "join_rule", "history_visibility",
    )

    def __init__(self, room: RoomState) -> None:
        inputs = room.name_inputs
        self.me = room.me
        self.name = inputs.name
        self.alias = inputs.canonical_alias
        self.heroes = inputs.heroes
        self.joined = inputs.joined
        self.invited = inputs.invited
        self.members: Mapping[UserId, str] = room.member_names
        self._members_copied = False
        self.changed = False
        # Once encrypted, a room stays so (the spec: m.room.encryption cannot be undone).
        self.encrypted = room.encrypted
        self.power = room.power
        self.room_type = room.room_type
        # Copied on first write, like the members: ``children is room.space_children``
        # says nothing changed them.
        self.children: Mapping[RoomId, SpaceChild] = room.space_children
        self._children_copied = False
        self.parents: Mapping[RoomId, SpaceParent] = room.space_parents
        self._parents_copied = False
        self.join_rule = room.join_rule
        self.history_visibility = room.history_visibility

    def inputs(self) -> NameInputs:
        return NameInputs(self.name, self.alias, self.heroes, self.joined, self.invited)

    def apply_state(
        self,
        etype: str,
        state_key: str,
        content: Mapping[str, Any],
        sender: object = None,
        ts: int = 0,
        tally: Tally | None = None,
    ) -> None:
        """One state event. ``sender`` and ``ts`` (its ``origin_server_ts``) are read by
        the types that need them; ``tally`` counts what is skipped."""
        if etype == "m.room.member":
            if not is_user_id(state_key):
                return
            display = clean_name(content.get("displayname"))
            if self.members.get(state_key) == display:
                return
            if not self._members_copied:
                self.members = dict(self.members)
                self._members_copied = True
            if display is None:
                self.members.pop(state_key, None)  # type: ignore[attr-defined]
            else:
                self.members[state_key] = display  # type: ignore[index]
            self.changed = True
        elif etype == "m.space.child":
            self._apply_child(state_key, content, ts, tally)
        elif etype == "m.space.parent":
            self._apply_parent(state_key, content, sender, tally)
        elif state_key != "":
            return
        elif etype == "m.room.encryption":
            if type(content.get("algorithm")) is str:
                self.encrypted = True
        elif etype == "m.room.power_levels":
            self.power = replace(power_levels(content), creators=self.power.creators)
        elif etype == "m.room.create":
            self.power = replace(self.power, creators=creators(content, sender if isinstance(sender, str) else None))
            self.room_type = room_type(content)
        elif etype == "m.room.name":
            name = clean_name(content.get("name"))
            if name != self.name:
                self.name = name
                self.changed = True
        elif etype == "m.room.join_rules":
            self.join_rule = _protocol_name(content.get("join_rule"), tally)
        elif etype == "m.room.history_visibility":
            self.history_visibility = _protocol_name(content.get("history_visibility"), tally)
        elif etype == "m.room.canonical_alias":
            alias = clean_name(content.get("alias"))
            if alias != self.alias:
                self.alias = alias
                self.changed = True

    def apply_state_events(self, events: list[Any], tally: Tally) -> None:
        for raw in events:
            if type(raw) is not dict:
                tally.skipped += 1
                continue
            etype, state_key = raw.get("type"), raw.get("state_key")
            if not (is_token(etype) and type(state_key) is str):
                tally.skipped += 1
                continue
            content = raw.get("content")
            self.apply_state(
                etype, state_key, content if type(content) is dict else {}, raw.get("sender"),
                timestamp(raw.get("origin_server_ts")), tally,
            )

    def _apply_child(self, state_key: str, content: Mapping[str, Any], ts: int, tally: Tally | None) -> None:
        # Spec: an m.space.child without a valid ``via`` (an empty content, say) is no
        # child: it removes one.
        if not is_room_id(state_key):
            if tally is not None:
                tally.skipped += 1
            return
        children = self.children
        if not has_via(content):
            if state_key in children:
                self._own_children().pop(state_key)  # type: ignore[attr-defined]
            return
        child = SpaceChild(space_order(content.get("order")), ts)
        old = children.get(state_key)
        if old == child:
            return
        if old is None and len(children) >= MAX_SPACE_CHILDREN:
            if tally is not None:
                tally.skipped += 1
            return
        self._own_children()[state_key] = child  # type: ignore[index]

    def _apply_parent(self, state_key: str, content: Mapping[str, Any], sender: object, tally: Tally | None) -> None:
        if not (is_room_id(state_key) and is_user_id(sender)):
            if tally is not None:
                tally.skipped += 1
            return
        parents = self.parents
        if not has_via(content):
            if state_key in parents:
                self._own_parents().pop(state_key)  # type: ignore[attr-defined]
            return
        parent = SpaceParent(sender, content.get("canonical") is True)  # type: ignore[arg-type]
        old = parents.get(state_key)
        if old == parent:
            return
        if old is None and len(parents) >= MAX_SPACE_PARENTS:
            if tally is not None:
                tally.skipped += 1
            return
        self._own_parents()[state_key] = parent  # type: ignore[index]

    def _own_children(self) -> Mapping[RoomId, SpaceChild]:
        if not self._children_copied:
            self.children = dict(self.children)
            self._children_copied = True
        return self.children

    def _own_parents(self) -> Mapping[RoomId, SpaceParent]:
        if not self._parents_copied:
            self.parents = dict(self.parents)
            self._parents_copied = True
        return self.parents

    def apply_summary(self, summary: object, tally: Tally) -> None:
        if type(summary) is not dict:
            if summary is not None:
                tally.skipped += 1
            return
        heroes = summary.get("m.heroes")
        if type(heroes) is list:
            valid = tuple(h for h in heroes if is_user_id(h) and h != self.me)[:MAX_HEROES]
            if valid != self.heroes:
                self.heroes = valid
                self.changed = True
        elif heroes is not None:
            tally.skipped += 1
        joined = summary.get("m.joined_member_count")
        if type(joined) is int and joined >= 0 and joined != self.joined:
            self.joined = joined
            self.changed = True
        invited = summary.get("m.invited_member_count")
        if type(invited) is int and invited >= 0 and invited != self.invited:
            self.invited = invited
            self.changed = True

    def display_name_of(self, user_id: UserId) -> str:
        name = self.members.get(user_id)
        if name:
            return name
        # The localpart reads better in a one-line preview than the full ID.
        return user_id[1:].split(":", 1)[0] or user_id


# Members listed above the default level: more than this is a list nobody reads for
# push rules (who may notify the whole room), and a bound on what a room keeps.
MAX_ELEVATED = 1_000


# Room versions whose creators stand above every power level (MSC4289).
_PRIVILEGED_CREATOR_VERSIONS: Final = frozenset({"12", "org.matrix.hydra.11"})


def creators(content: Mapping[str, Any], sender: str | None) -> frozenset[str]:
    """The creators of a room whose version privileges them: its creation's sender and
    the ``additional_creators``; none for older versions."""
    if content.get("room_version") not in _PRIVILEGED_CREATOR_VERSIONS:
        return frozenset()
    found = {sender} if sender and is_user_id(sender) else set()
    extra = content.get("additional_creators")
    if type(extra) is list:
        found.update(u for u in extra[:MAX_ELEVATED] if is_user_id(u))
    return frozenset(found)


def room_type(content: Mapping[str, Any]) -> str | None:
    """``m.room.create``'s ``type`` ("m.space" for a space); None when absent or not a
    protocol name."""
    value = content.get("type")
    return value if is_token(value) else None


def _protocol_name(value: object, tally: Tally | None) -> str | None:
    """A join rule or history visibility: a protocol name, else None (the state event
    says nothing known). One present but not a protocol name is counted as skipped; an
    absent one is not (a body trimmed by an older filter's ``event_fields`` has none)."""
    if is_token(value):
        return value  # type: ignore[return-value]
    if value is not None and tally is not None:
        tally.skipped += 1
    return None


def has_via(content: Mapping[str, Any]) -> bool:
    """Whether an ``m.space.child`` or ``m.space.parent`` is valid: its ``via`` is a
    non-empty list of strings."""
    via = content.get("via")
    return type(via) is list and len(via) > 0 and all(type(server) is str for server in via)


def space_order(value: object) -> str | None:
    """An ``m.space.child``'s ``order`` when valid: 1 to 50 characters, all in
    ``\x20``-``\x7E``."""
    if type(value) is str and 0 < len(value) <= MAX_ORDER_CHARS and value.isascii() and value.isprintable():
        return value
    return None


def power_levels(content: Mapping[str, Any]) -> PowerLevels:
    """The parts of ``m.room.power_levels`` readmark keeps; the spec's defaults (0 for
    users, 50 to notify the room, ``state_default`` or 50 to send ``m.space.child``)
    where the content lacks a valid value."""
    default = _level(content.get("users_default"), 0)
    notifications = content.get("notifications")
    notify_room = _level(notifications.get("room"), 50) if type(notifications) is dict else 50
    space_child = _level(content.get("state_default"), 50)
    events = content.get("events")
    if type(events) is dict:
        space_child = _level(events.get("m.space.child"), space_child)
    users = content.get("users")
    elevated: dict[str, int] = {}
    if type(users) is dict:
        for user_id, level in users.items():
            value = _level(level, default)
            if value > default and is_user_id(user_id):
                elevated[user_id] = value
                if len(elevated) >= MAX_ELEVATED:
                    break
    return PowerLevels(default, notify_room, elevated, space_child=space_child)


def _level(value: object, default: int) -> int:
    # Levels are integers (older rooms allow their string form).
    if type(value) is int and abs(value) <= 2**53:
        return value
    if type(value) is str and value.lstrip("-").isdigit() and len(value) <= 16:
        return int(value)
    return default
