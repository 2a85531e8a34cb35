"""A room's state while one sync is applied to it, as far as readmark reads it: its name,
canonical alias, heroes and member counts (the inputs of ``app.model.names``), its
members' display names, whether it is encrypted, and its power levels (for the push
rules), updated by state events and the
sync's room summary in the order they come.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Final

from app.matrix.wire import Tally, clean_name
from app.model.ids import UserId, is_token, is_user_id
from app.model.names import NameInputs
from app.model.room import PowerLevels, RoomState

# The spec sends up to five heroes.
MAX_HEROES: Final = 5


class RoomNaming:
    """Plain attributes, turned into one ``NameInputs`` at the end; the member map is
    copied on first write. ``changed`` says whether anything differs from the room's."""

    __slots__ = (
        "me", "name", "alias", "heroes", "joined", "invited", "members", "_members_copied", "changed", "encrypted", "power",
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

    def inputs(self) -> NameInputs:
        return NameInputs(self.name, self.alias, self.heroes, self.joined, self.invited)

    def apply_state(self, etype: str, state_key: str, content: Mapping[str, Any], sender: object = None) -> None:
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
        elif state_key != "":
            return
        elif etype == "m.room.encryption":
            if type(content.get("algorithm")) is str:
                self.encrypted = True
        elif etype == "m.room.power_levels":
            self.power = replace(power_levels(content), creators=self.power.creators)
        elif etype == "m.room.create":
            self.power = replace(self.power, creators=creators(content, sender if isinstance(sender, str) else None))
        elif etype == "m.room.name":
            name = clean_name(content.get("name"))
            if name != self.name:
                self.name = name
                self.changed = True
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
            self.apply_state(etype, state_key, content if type(content) is dict else {}, raw.get("sender"))

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


def power_levels(content: Mapping[str, Any]) -> PowerLevels:
    """The parts of ``m.room.power_levels`` readmark keeps; the spec's defaults (0 for
    users, 50 to notify the room) where the content lacks a valid value."""
    default = _level(content.get("users_default"), 0)
    notifications = content.get("notifications")
    notify_room = _level(notifications.get("room"), 50) if type(notifications) is dict else 50
    users = content.get("users")
    elevated: dict[str, int] = {}
    if type(users) is dict:
        for user_id, level in users.items():
            value = _level(level, default)
            if value > default and is_user_id(user_id):
                elevated[user_id] = value
                if len(elevated) >= MAX_ELEVATED:
                    break
    return PowerLevels(default, notify_room, elevated)


def _level(value: object, default: int) -> int:
    # Levels are integers (older rooms allow their string form).
    if type(value) is int and abs(value) <= 2**53:
        return value
    if type(value) is str and value.lstrip("-").isdigit() and len(value) <= 16:
        return int(value)
    return default
