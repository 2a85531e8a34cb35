"""The rooms pane keeps each room's sort key until the room changes; the order it shows
is still exactly the definition: the joined rooms, in the account's order, sorted
(stably) by ``room_sort_key``, whatever changed, whatever ties."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.model.account import AccountState, RoomSort, room_sort_key
from app.model.room import RoomState, add_timeline
from app.model.summary import RoomSummary, summary_sort_key
from app.ui.state import View
from app.ui.widgets.room_list import RoomList
from tests.ui.recorded import ALICE, ME, message

NAMES = ["alpha", "Alpha", "beta", "gamma"]  # casefolded ties on purpose


def room(index: int, name: int, minutes: int, membership: str) -> RoomState:
    state = RoomState(f"!r{index}:example.org", ME, name=NAMES[name], membership=membership)
    if minutes:
        # Unread messages by someone else: counts, and the activity time, tie often.
        events = [message(f"$r{index}-{m}", ALICE, m % 3, f"m{m}") for m in range(minutes)]
        state = add_timeline(state, events, limited=False)
    return state


def definition(account: AccountState, sort: RoomSort) -> list[str]:
    joined = [r for r in account.rooms.values() if r.membership == "join"]
    return [r.room_id for r in sorted(joined, key=lambda r: room_sort_key(r, sort))]


room_spec = st.tuples(st.integers(0, 3), st.integers(0, 3), st.sampled_from(["join", "join", "join", "invite"]))
step = st.one_of(
    st.tuples(st.just("change"), st.integers(0, 11), room_spec),
    st.tuples(st.just("remove"), st.integers(0, 11), st.just(None)),
    st.tuples(st.just("sort"), st.sampled_from(list(RoomSort)), st.just(None)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(room_spec, min_size=1, max_size=12), st.lists(step, max_size=12))
def test_cached_keys_give_the_defined_order(initial, steps) -> None:  # noqa: ANN001
    rooms = {}
    for index, (name, minutes, membership) in enumerate(initial):
        r = room(index, name, minutes, membership)
        rooms[r.room_id] = r
    account = AccountState(ME, rooms)
    pane = RoomList()
    pane.update_rows = lambda order, changed={}, removed=(): None  # type: ignore[method-assign]
    view = View()
    pane.set_reactive(RoomList.view, view)
    pane.set_reactive(RoomList.account, account)
    pane._refresh_rows()
    assert [r.room_id for r in pane.shown_rooms] == definition(account, view.sort)
    for kind, target, spec in steps:
        if kind == "sort":
            view = view.with_(sort=target)
            pane.set_reactive(RoomList.view, view)
        elif kind == "remove":
            room_id = f"!r{target}:example.org"
            if room_id in account.rooms:
                account = replace(account, rooms={k: v for k, v in account.rooms.items() if k != room_id})
        else:
            name, minutes, membership = spec
            account = account.with_room(room(target, name, minutes, membership))
        pane.set_reactive(RoomList.account, account)
        pane._refresh_rows()
        assert [r.room_id for r in pane.shown_rooms] == definition(account, view.sort)


def test_an_unchanged_room_keeps_its_key(monkeypatch) -> None:
    rooms = {r.room_id: r for r in (room(i, i % 4, i % 3, "join") for i in range(20))}
    account = AccountState(ME, rooms)
    pane = RoomList()
    pane.update_rows = lambda order, changed={}, removed=(): None  # type: ignore[method-assign]
    pane.set_reactive(RoomList.account, account)
    pane._refresh_rows()
    computed: list[str] = []
    from app.ui.widgets import room_list

    def counting(summary: RoomSummary, sort: RoomSort) -> tuple:
        computed.append(summary.room_id)
        return summary_sort_key(summary, sort)

    monkeypatch.setattr(room_list, "summary_sort_key", counting)
    changed = room(3, 1, 2, "join")
    pane.set_reactive(RoomList.account, account.with_room(changed))
    pane._refresh_rows()
    assert computed == [changed.room_id]
