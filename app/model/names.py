"""A room's display name, by the spec's algorithm: its name, else its canonical alias,
else its heroes, else "Empty Room"."""

from __future__ import annotations

from collections.abc import Sequence


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
