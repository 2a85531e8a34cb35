"""The rooms pane's groups: spaces (nested), then Direct messages, then Other rooms.

A room's place in the tree comes from facts kept in its summary (``RoomLinks``): a
space's children (``m.space.child``, in the spec's order), a room's claimed parents
(``m.space.parent``, valid when the parent lists the room or its sender may add
children there), and whether ``m.direct`` names it. The tree is built from summaries,
so the cache's preview groups the pane exactly as the loaded account will.

The spec warns that space graphs can loop and be huge: the walk never enters a space
already on its path, stops at ``MAX_DEPTH``, and lays out at most ``MAX_ROWS`` rows
(a room in two spaces is shown in both; a total counts it once).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from app.model.ids import RoomId, UserId
from app.model.room import RoomState, SpaceChild

MAX_DEPTH: Final = 12
MAX_ROWS: Final = 100_000

DIRECT_KEY: Final = "direct"
OTHER_KEY: Final = "other"
_NO_LINKS_KEY: Final = "_links"


@dataclass(frozen=True, slots=True)
class RoomLinks:
    """What the grouping reads of one room."""

    is_space: bool = False
    is_direct: bool = False
    # A space's children, in the spec's order (``child_order``).
    children: tuple[RoomId, ...] = ()
    # The parents this room claims, with who claimed: (parent, sender), sorted.
    parents: tuple[tuple[RoomId, UserId], ...] = ()
    # Of a space: who may add children (``m.space.child``'s level or above), and
    # whether every member may.
    adders: frozenset[UserId] = frozenset()
    anyone_adds: bool = False


NO_LINKS: Final = RoomLinks()
DIRECT_LINKS: Final = RoomLinks(is_direct=True)


def child_order(children: Mapping[RoomId, SpaceChild]) -> tuple[RoomId, ...]:
    """The spec's order (Ordering of children within a space): children with an
    ``order`` first, by it (code points), then by the child event's timestamp, then
    by room ID; the rest after them by timestamp, then room ID."""

    def key(item: tuple[RoomId, SpaceChild]) -> tuple:
        room_id, child = item
        if child.order is not None:
            return (0, child.order, child.ts, room_id)
        return (1, "", child.ts, room_id)

    return tuple(room_id for room_id, _ in sorted(children.items(), key=key))


def room_links(room: RoomState) -> RoomLinks:
    """The links of ``room`` (memoised on the frozen state)."""
    cached = room.__dict__.get(_NO_LINKS_KEY)
    if cached is not None:
        return cached
    if not room.is_space and not room.space_parents:
        links = DIRECT_LINKS if room.is_direct else NO_LINKS
    else:
        power = room.power
        adders: frozenset[UserId] = frozenset()
        anyone = False
        children: tuple[RoomId, ...] = ()
        if room.is_space:
            anyone = power.users_default >= power.space_child
            adders = frozenset(
                [u for u, level in power.elevated.items() if level >= power.space_child] + list(power.creators)
            )
            children = child_order(room.space_children)
        links = RoomLinks(
            is_space=room.is_space,
            is_direct=room.is_direct,
            children=children,
            parents=tuple(sorted((parent, claim.sender) for parent, claim in room.space_parents.items())),
            adders=adders,
            anyone_adds=anyone,
        )
    room.__dict__[_NO_LINKS_KEY] = links
    return links


class GroupKind(str, Enum):
    SPACE = "space"
    DIRECT = "direct"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class RoomGroup:
    """One group of the pane. ``key`` is unique in the tree (a space nested under two
    parents appears twice, under two keys); ``rooms`` are the group's own rooms (not
    those of its sub-spaces), in no particular order (the pane sorts them);
    ``members`` every room in it and below, each once."""

    key: str
    kind: GroupKind
    title: str
    depth: int
    space_id: RoomId | None = None
    rooms: tuple[RoomId, ...] = ()
    subgroups: tuple[RoomGroup, ...] = ()
    members: frozenset[RoomId] = field(default_factory=frozenset)

    def walk(self) -> Iterable[RoomGroup]:
        """This group and every group below it, depth first."""
        yield self
        for sub in self.subgroups:
            yield from sub.walk()


@dataclass(frozen=True, slots=True)
class Grouping:
    """The groups, top level first to last, and the rooms that are spaces."""

    groups: tuple[RoomGroup, ...]
    spaces: frozenset[RoomId]

    @property
    def trivial(self) -> bool:
        """Only Other rooms: the pane shows a flat list, with no header."""
        return all(group.kind is GroupKind.OTHER for group in self.groups)

    def all(self) -> Iterable[RoomGroup]:
        """Every group, depth first, top level first to last."""
        for top in self.groups:
            yield from top.walk()

    def find(self, key: str) -> RoomGroup | None:
        return next((group for group in self.all() if group.key == key), None)

    def space(self, space_id: RoomId) -> RoomGroup | None:
        """The first group of a joined space, wherever it sits."""
        return next((group for group in self.all() if group.space_id == space_id), None)


def group_rooms(
    rooms: Iterable[tuple[RoomId, str, str, RoomLinks]],
) -> Grouping:
    """Group joined rooms, given as (room ID, title, membership, links).

    Top level: each space no joined space contains (by title), then the spaces only
    reachable through a loop, then Direct messages, then Other rooms (not in any
    space, not direct). Spaces are headers, never rows."""
    titles: dict[RoomId, str] = {}
    links: dict[RoomId, RoomLinks] = {}
    for room_id, title, membership, room_links_ in rooms:
        if membership == "join":
            titles[room_id] = title
            links[room_id] = room_links_
    spaces = {room_id for room_id, link in links.items() if link.is_space}
    edges: dict[RoomId, list[RoomId]] = {}
    for space_id in spaces:
        edges[space_id] = [child for child in links[space_id].children if child in links and child != space_id]
    listed = {space_id: set(children) for space_id, children in edges.items()}
    for room_id, link in links.items():
        for parent, sender in link.parents:
            if parent not in spaces or parent == room_id or room_id in listed[parent]:
                continue
            parent_links = links[parent]
            if parent_links.anyone_adds or sender in parent_links.adders:
                edges[parent].append(room_id)
                listed[parent].add(room_id)
    contained = {child for children in edges.values() for child in children if child in spaces}

    budget = [MAX_ROWS]
    members_memo: dict[RoomId, frozenset[RoomId]] = {}

    def members_of(space_id: RoomId) -> frozenset[RoomId]:
        cached = members_memo.get(space_id)
        if cached is not None:
            return cached
        found: set[RoomId] = set()
        seen = {space_id}
        stack = [space_id]
        while stack:
            for child in edges[stack.pop()]:
                if child in spaces:
                    if child not in seen:
                        seen.add(child)
                        stack.append(child)
                else:
                    found.add(child)
        result = frozenset(found)
        members_memo[space_id] = result
        return result

    def build(space_id: RoomId, key: str, depth: int, path: frozenset[RoomId]) -> RoomGroup:
        budget[0] -= 1
        own: list[RoomId] = []
        subs: list[RoomGroup] = []
        if depth < MAX_DEPTH:
            inner = path | {space_id}
            for child in edges[space_id]:
                if budget[0] <= 0:
                    break
                if child in spaces:
                    if child not in inner:
                        subs.append(build(child, f"{key}/{child}", depth + 1, inner))
                else:
                    own.append(child)
                    budget[0] -= 1
        return RoomGroup(
            key, GroupKind.SPACE, titles[space_id], depth, space_id, tuple(own), tuple(subs), members_of(space_id)
        )

    def by_title(space_id: RoomId) -> tuple:
        return (titles[space_id].casefold(), space_id)

    groups: list[RoomGroup] = []
    reached: set[RoomId] = set()
    for space_id in sorted((s for s in spaces if s not in contained), key=by_title):
        group = build(space_id, f"space:{space_id}", 0, frozenset())
        groups.append(group)
        reached.update(g.space_id for g in group.walk() if g.space_id is not None)
    # Spaces inside a loop that no top-level space reaches: each loop shows once, from
    # its first space by title.
    for space_id in sorted((s for s in spaces if s not in reached), key=by_title):
        if space_id in reached:
            continue
        group = build(space_id, f"space:{space_id}", 0, frozenset())
        groups.append(group)
        reached.update(g.space_id for g in group.walk() if g.space_id is not None)

    in_spaces: set[RoomId] = set()
    for space_id in spaces:
        in_spaces.update(members_of(space_id))
    direct = tuple(room_id for room_id, link in links.items() if link.is_direct and not link.is_space)
    other = tuple(
        room_id for room_id, link in links.items()
        if not link.is_space and not link.is_direct and room_id not in in_spaces
    )
    if direct:
        groups.append(RoomGroup(DIRECT_KEY, GroupKind.DIRECT, "Direct messages", 0, None, direct, (), frozenset(direct)))
    if other or not groups:
        groups.append(RoomGroup(OTHER_KEY, GroupKind.OTHER, "Other rooms", 0, None, other, (), frozenset(other)))
    return Grouping(tuple(groups), frozenset(spaces))


def group_account(rooms: Iterable[RoomState]) -> Grouping:
    """``group_rooms`` over room states (a one-shot command's account)."""
    from app.model.summary import room_title

    return group_rooms((room.room_id, room_title(room), room.membership, room_links(room)) for room in rooms)


def descendants(grouping: Grouping, space_id: RoomId) -> frozenset[RoomId] | None:
    """Every room in a joined space and its sub-spaces, each once; None when the space
    is not one of the joined spaces."""
    group = grouping.space(space_id)
    return group.members if group is not None else None


def walk_order(grouping: Grouping, sorted_ids: Sequence[RoomId]) -> list[RoomId]:
    """Every grouped room once, in the order the pane shows them (its first place):
    groups top to bottom, each group's own rooms in ``sorted_ids``' order before its
    sub-spaces. What ``n``/``N`` walk, across group boundaries."""
    rank = {room_id: i for i, room_id in enumerate(sorted_ids)}
    order: list[RoomId] = []
    seen: set[RoomId] = set()
    for top in grouping.groups:
        for group in top.walk():
            for room_id in sorted((r for r in group.rooms if r in rank), key=rank.__getitem__):
                if room_id not in seen:
                    seen.add(room_id)
                    order.append(room_id)
    return order
