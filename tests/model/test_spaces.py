"""Grouping rooms under spaces, direct messages and the rest (app.model.spaces)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.room import SPACE_TYPE, PowerLevels, RoomState, SpaceChild, SpaceParent
from app.model.spaces import (
    MAX_ROWS,
    GroupKind,
    RoomLinks,
    child_order,
    descendants,
    group_account,
    room_links,
    walk_order,
)

from tests.model.builders import ALICE, BOB, ME


def space(room_id: str, *children: str, name: str | None = None, **kw) -> RoomState:
    return RoomState(
        room_id, ME, name=name or room_id.strip("!").split(":")[0], room_type=SPACE_TYPE,
        space_children={child: SpaceChild(None, i) for i, child in enumerate(children)}, **kw,
    )


def plain(room_id: str, **kw) -> RoomState:
    return RoomState(room_id, ME, name=kw.pop("name", room_id.strip("!").split(":")[0]), **kw)


def shape(grouping) -> list:
    """(key, own rooms sorted, members sorted) for every group, depth first."""
    return [
        (group.key, sorted(group.rooms), sorted(group.members))
        for top in grouping.groups
        for group in top.walk()
    ]


def test_the_spec_example_of_child_ordering() -> None:
    children = {
        "!b:example.org": SpaceChild(" ", 1640341000000),
        "!a:example.org": SpaceChild("aaaa", 1640141000000),
        "!c:example.org": SpaceChild("first", 1640841000000),
        "!e:example.org": SpaceChild(None, 1640641000000),
        "!d:example.org": SpaceChild(None, 1640741000000),
    }
    assert child_order(children) == ("!b:example.org", "!a:example.org", "!c:example.org", "!e:example.org",
                                     "!d:example.org")


def test_equal_orders_fall_back_to_timestamp_then_room_id() -> None:
    children = {"!z:t": SpaceChild("x", 5), "!y:t": SpaceChild("x", 5), "!x:t": SpaceChild("x", 1)}
    assert child_order(children) == ("!x:t", "!y:t", "!z:t")


def test_nested_spaces_dms_and_other_rooms() -> None:
    rooms = [
        space("!eng:t", "!backend:t", "!infra:t", "!both:t", name="Eng"),
        space("!infra:t", "!k8s:t", "!both:t", name="Infra"),
        plain("!backend:t"), plain("!k8s:t"), plain("!both:t"),
        plain("!alice:t", is_direct=True),
        plain("!random:t"),
    ]
    grouping = group_account(rooms)
    assert shape(grouping) == [
        ("space:!eng:t", ["!backend:t", "!both:t"], ["!backend:t", "!both:t", "!k8s:t"]),
        ("space:!eng:t/!infra:t", ["!both:t", "!k8s:t"], ["!both:t", "!k8s:t"]),
        ("direct", ["!alice:t"], ["!alice:t"]),
        ("other", ["!random:t"], ["!random:t"]),
    ]
    assert [g.kind for g in grouping.groups] == [GroupKind.SPACE, GroupKind.DIRECT, GroupKind.OTHER]
    assert grouping.spaces == {"!eng:t", "!infra:t"}
    assert descendants(grouping, "!eng:t") == {"!backend:t", "!both:t", "!k8s:t"}
    assert descendants(grouping, "!infra:t") == {"!both:t", "!k8s:t"}
    assert descendants(grouping, "!nope:t") is None
    assert not grouping.trivial


def test_walk_order_shows_each_room_once_in_group_order() -> None:
    rooms = [
        space("!eng:t", "!b:t", "!infra:t", "!both:t", name="Eng"),
        space("!infra:t", "!k:t", "!both:t", name="Infra"),
        plain("!b:t"), plain("!k:t"), plain("!both:t"), plain("!dm:t", is_direct=True), plain("!o:t"),
    ]
    grouping = group_account(rooms)
    by_sort = ["!o:t", "!k:t", "!both:t", "!dm:t", "!b:t"]
    assert walk_order(grouping, by_sort) == ["!both:t", "!b:t", "!k:t", "!dm:t", "!o:t"]


def test_no_spaces_and_no_dms_is_one_flat_group() -> None:
    grouping = group_account([plain("!a:t"), plain("!b:t")])
    assert grouping.trivial
    assert shape(grouping) == [("other", ["!a:t", "!b:t"], ["!a:t", "!b:t"])]
    assert group_account([]).trivial


def test_a_cycle_shows_once_and_does_not_hang() -> None:
    rooms = [space("!a:t", "!b:t", "!r:t", name="A"), space("!b:t", "!a:t", name="B"), plain("!r:t")]
    grouping = group_account(rooms)
    assert shape(grouping) == [
        ("space:!a:t", ["!r:t"], ["!r:t"]),
        ("space:!a:t/!b:t", [], ["!r:t"]),
    ]
    # A space that contains itself.
    assert shape(group_account([space("!s:t", "!s:t", "!r:t"), plain("!r:t")])) == [
        ("space:!s:t", ["!r:t"], ["!r:t"])
    ]


def test_left_rooms_unjoined_spaces_and_invites_are_not_grouped() -> None:
    rooms = [
        space("!s:t", "!left:t", "!gone:t", "!invited:t", "!r:t", name="S"),
        plain("!left:t", membership="leave"),
        plain("!invited:t", membership="invite"),
        plain("!r:t"),
        plain("!child-of-unjoined:t", space_parents={"!unjoined:t": SpaceParent(ALICE)}),
        plain("!dm-left:t", is_direct=True, membership="leave"),
    ]
    assert shape(group_account(rooms)) == [
        ("space:!s:t", ["!r:t"], ["!r:t"]),
        ("other", ["!child-of-unjoined:t"], ["!child-of-unjoined:t"]),
    ]


def test_a_parent_claim_holds_only_with_power_to_add_children() -> None:
    power = PowerLevels(users_default=0, elevated={ALICE: 100}, space_child=50)
    rooms = [
        space("!s:t", name="S", power=power),
        plain("!by-admin:t", space_parents={"!s:t": SpaceParent(ALICE)}),
        plain("!by-nobody:t", space_parents={"!s:t": SpaceParent(BOB)}),
    ]
    assert shape(group_account(rooms)) == [
        ("space:!s:t", ["!by-admin:t"], ["!by-admin:t"]),
        ("other", ["!by-nobody:t"], ["!by-nobody:t"]),
    ]
    # Where every member may add children, any member's claim holds.
    rooms[0] = space("!s:t", name="S", power=PowerLevels(users_default=50, space_child=50))
    assert shape(group_account(rooms))[0] == ("space:!s:t", ["!by-admin:t", "!by-nobody:t"],
                                              ["!by-admin:t", "!by-nobody:t"])
    # A room-version-12 creator stands above every level.
    rooms[0] = space("!s:t", name="S", power=PowerLevels(creators=frozenset({BOB})))
    assert shape(group_account(rooms))[0][1] == ["!by-nobody:t"]


def test_a_child_the_space_lists_needs_no_power_check() -> None:
    rooms = [space("!s:t", "!r:t", power=PowerLevels(space_child=100)),
             plain("!r:t", space_parents={"!s:t": SpaceParent(BOB)})]
    assert shape(group_account(rooms)) == [("space:!s:t", ["!r:t"], ["!r:t"])]


def test_a_dm_in_a_space_shows_in_both() -> None:
    rooms = [space("!s:t", "!dm:t"), plain("!dm:t", is_direct=True)]
    assert shape(group_account(rooms)) == [("space:!s:t", ["!dm:t"], ["!dm:t"]), ("direct", ["!dm:t"], ["!dm:t"])]


def test_thousands_of_children_and_a_deep_chain_are_bounded() -> None:
    children = [f"!c{i}:t" for i in range(5_000)]
    rooms = [space("!big:t", *children)] + [plain(c) for c in children]
    grouping = group_account(rooms)
    assert len(grouping.groups[0].rooms) == 5_000
    chain = [space(f"!s{i}:t", f"!s{i + 1}:t") for i in range(50)] + [space("!s50:t", "!leaf:t"), plain("!leaf:t")]
    grouping = group_account(chain)
    depth = max(g.depth for g in grouping.groups[0].walk())
    assert depth < 50
    # Whatever the depth shown, the totals above count the leaf.
    assert grouping.groups[0].members == {"!leaf:t"}


def test_a_diamond_of_spaces_is_laid_out_within_the_row_budget() -> None:
    # Each layer's two spaces contain both of the next layer's: 2**20 paths.
    rooms = []
    for layer in range(20):
        nxt = [f"!l{layer + 1}a:t", f"!l{layer + 1}b:t"] if layer < 19 else ["!leaf:t"]
        rooms += [space(f"!l{layer}a:t", *nxt), space(f"!l{layer}b:t", *nxt)]
    rooms.append(plain("!leaf:t"))
    grouping = group_account(rooms)
    rows = sum(1 + len(g.rooms) for top in grouping.groups for g in top.walk())
    assert rows <= MAX_ROWS * 2
    assert all(top.members == {"!leaf:t"} for top in grouping.groups)


def test_room_links_are_memoised_and_shared_for_plain_rooms() -> None:
    room = plain("!r:t")
    assert room_links(room) is room_links(room)
    assert room_links(plain("!r2:t")) is room_links(room)
    assert room_links(plain("!d:t", is_direct=True)).is_direct
    links = room_links(space("!s:t", "!b:t", "!a:t", power=PowerLevels(elevated={ALICE: 100})))
    assert links == RoomLinks(True, False, ("!b:t", "!a:t"), (), frozenset({ALICE}), False)


@st.composite
def graphs(draw):
    names = [f"!n{i}:t" for i in range(draw(st.integers(1, 12)))]
    is_space = {n: draw(st.booleans()) for n in names}
    rooms = []
    for n in names:
        kids = draw(st.lists(st.sampled_from(names), max_size=5, unique=True))
        direct = draw(st.booleans())
        if is_space[n]:
            rooms.append(space(n, *kids, is_direct=direct))
        else:
            rooms.append(plain(n, is_direct=direct))
    return rooms


def reachable(rooms, start) -> set:
    by_id = {r.room_id: r for r in rooms}
    seen, stack, found = {start}, [start], set()
    while stack:
        for child in by_id[stack.pop()].space_children:
            if child not in by_id:
                continue
            if by_id[child].is_space:
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
            else:
                found.add(child)
    return found


@given(graphs())
@settings(max_examples=300, deadline=None)
def test_any_graph_groups_every_room_and_totals_count_each_once(rooms) -> None:
    grouping = group_account(rooms)
    shown = set()
    for top in grouping.groups:
        for group in top.walk():
            shown.update(group.rooms)
            if group.space_id is not None:
                # A group's members are every room reachable from its space, each once.
                assert group.members == reachable(rooms, group.space_id)
                assert set(group.rooms) <= group.members
    non_spaces = {r.room_id for r in rooms if not r.is_space}
    assert shown == non_spaces
    spaces_shown = {g.space_id for top in grouping.groups for g in top.walk() if g.space_id}
    assert spaces_shown == {r.room_id for r in rooms if r.is_space}
    keys = [g.key for top in grouping.groups for g in top.walk()]
    assert len(keys) == len(set(keys))
    sorted_ids = sorted(non_spaces)
    assert sorted(walk_order(grouping, sorted_ids)) == sorted_ids


def test_titles_order_top_level_spaces() -> None:
    rooms = [space("!z:t", name="alpha"), space("!a:t", name="Beta"), plain("!r:t")]
    assert [g.title for g in group_account(rooms).groups] == ["alpha", "Beta", "Other rooms"]


def test_hostile_names_are_kept_literally() -> None:
    rooms = [space("!s:t", "!r:t", name="[b]x[/b] \x1b[31m"), plain("!r:t", name="$(rm -rf)")]
    assert group_account(rooms).groups[0].title == "[b]x[/b] \x1b[31m"
