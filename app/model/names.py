"""A room's display name, by the spec's algorithm: its name, else its canonical alias,
else its heroes, else "Empty Room"."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NameInputs:
    """What the display-name algorithm needs, kept across syncs: state events
    (``m.room.name``, ``m.room.canonical_alias``) and the sync ``summary``."""

    name: str | None = None
    canonical_alias: str | None = None
    heroes: tuple[str, ...] = ()
    joined: int = 0
    invited: int = 0

    def display_name(self, room_id: str, member_names: Mapping[str, str]) -> str:
        return room_display_name(
            name=self.name,
            canonical_alias=self.canonical_alias,
            heroes=[member_names.get(h) or h for h in self.heroes],
            joined=self.joined,
            invited=self.invited,
            room_id=room_id,
        )


def room_display_name(
    *,
    name: str | None,
    canonical_alias: str | None,
    heroes: Sequence[str],
    joined: int,
    invited: int,
    room_id: str,
) -> str:
    """``heroes`` are display names (or user IDs) of up to five other members, me excluded."""
    if name and name.strip():
        return name.strip()
    if canonical_alias and canonical_alias.strip():
        return canonical_alias.strip()
    others = max(joined + invited - 1, 0)
    heroes = [h for h in heroes if h]
    if heroes:
        if others == 0:
            return "Empty Room (was " + _join(heroes) + ")"
        if len(heroes) < others:
            rest = others - len(heroes)
            return ", ".join(heroes) + f" and {rest} other" + ("" if rest == 1 else "s")
        return _join(heroes)
    if others == 0:
        return "Empty Room"
    return room_id


def _join(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
