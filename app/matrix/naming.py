"""A room's state while one sync is applied to it, as far as readmark reads it: its name,
canonical alias, heroes and member counts (the inputs of ``app.model.names``), its
members' display names, and whether it is encrypted, updated by state events and the
sync's room summary in the order they come.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from app.matrix.wire import Tally, clean_name
from app.model.ids import UserId, is_token, is_user_id
from app.model.names import NameInputs
from app.model.room import RoomState

# The spec sends up to five heroes.
MAX_HEROES: Final = 5


class RoomNaming:
    """Plain attributes, turned into one ``NameInputs`` at the end; the member map is
    copied on first write. ``changed`` says whether anything differs from the room's."""

    __slots__ = (
        "me", "name", "alias", "heroes", "joined", "invited", "members", "_members_copied", "changed", "encrypted",
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

    def inputs(self) -> NameInputs:
        return NameInputs(self.name, self.alias, self.heroes, self.joined, self.invited)

    def apply_state(self, etype: str, state_key: str, content: Mapping[str, Any]) -> None:
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
            self.apply_state(etype, state_key, content if type(content) is dict else {})

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
