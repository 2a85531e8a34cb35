"""The core decides each room's receipt policy from the account: a space rule reaches a
room through nested spaces, a room's own setting beats the rules, a ``none`` room refuses
every receipt (a single key, a bulk read) and still moves the fully-read marker."""

from __future__ import annotations

from dataclasses import replace

from app.matrix.core import ReadStateCore
from app.model.account import AccountState
from app.model.names import NameInputs
from app.model.plan import ActionKind, FullyReadRequest, ReceiptAction, Refusal
from app.model.policy import Mode, PolicyRule
from app.model.receipts import ReceiptType
from app.model.room import SPACE_TYPE, RoomState, SpaceChild, add_timeline
from app.model.sending import ModeRules
from tests.model.builders import ME, msg

TOP, SUB, IN, OUT = "!top:t", "!sub:t", "!in:t", "!out:t"


def account() -> AccountState:
    rooms = [
        RoomState(TOP, ME, room_type=SPACE_TYPE, name_inputs=NameInputs(None, "#work:t"),
                  space_children={SUB: SpaceChild(None, 0)}),
        RoomState(SUB, ME, room_type=SPACE_TYPE, space_children={IN: SpaceChild(None, 0)}),
        add_timeline(RoomState(IN, ME, name="in"), [msg("$i1", ts=1)], limited=False),
        add_timeline(RoomState(OUT, ME, name="out"), [msg("$o1", ts=1)], limited=False),
    ]
    return AccountState(ME, {r.room_id: r for r in rooms})


def core_with(rules: tuple[PolicyRule, ...], state: AccountState | None = None) -> ReadStateCore:
    core = ReadStateCore(ME, modes=ModeRules(ReceiptType.PUBLIC, {}, rules))
    core.load(state or account(), ())
    core.private_supported = True
    return core


def test_a_space_rule_reaches_a_room_through_a_sub_space_by_alias() -> None:
    core = core_with((PolicyRule("space", "#work:t", Mode.NONE),))
    inside, outside = core.mode_in(IN), core.mode_in(OUT)
    assert not inside.sends and inside.rule == "rule: space #work:t"
    assert outside.sends and outside.receipt_type is ReceiptType.PUBLIC and outside.rule == "default"
    refusal = core.plan(IN, ReceiptAction(ActionKind.THREADED, ReceiptType.PUBLIC, "main"))
    assert isinstance(refusal, Refusal) and refusal.code == "receipts-off"
    assert isinstance(core.plan(IN, ReceiptAction(ActionKind.FULLY_READ, ReceiptType.PUBLIC)), FullyReadRequest)
    dry = core.bulk_plan("all rooms", [IN, OUT])
    assert [(r.room_id, r.request is None) for r in dry.rooms] == [(IN, True), (OUT, False)]
    assert dry.rooms[0].result.code == "receipts-off"  # type: ignore[union-attr]
    # The room leaves the space: the rule no longer reaches it.
    state = core.account
    core.account = state.with_room(replace(state.rooms[SUB], space_children={}))
    assert core.mode_in(IN).sends
    assert [(r.room_id, r.request is None) for r in core.bulk_plan("all rooms", [IN, OUT]).rooms] == [
        (IN, False), (OUT, False)]


def test_a_dry_run_under_a_space_rule_looks_at_the_spaces_once(monkeypatch) -> None:  # noqa: ANN001
    """Each room's mode needs its space ancestors; a dry run of many rooms works them out
    (or checks they still hold) once, not once per room: that was quadratic, 150 ms for
    1,000 rooms in spaces and 635 ms for 2,000 against 15 and 32 with no rule."""
    import app.matrix.core as core_module

    rooms = [add_timeline(RoomState(f"!r{i}:t", ME, name=f"r{i}"), [msg(f"$r{i}", ts=1)], limited=False)
             for i in range(50)]
    state = account()
    top = replace(state.rooms[SUB], space_children={**state.rooms[SUB].space_children,
                                                    **{r.room_id: SpaceChild(None, 0) for r in rooms}})
    state = AccountState(ME, {**state.rooms, SUB: top, **{r.room_id: r for r in rooms}})
    core = core_with((PolicyRule("space", "#work:t", Mode.NONE),), state)
    looked = []
    real = core_module.structure_of
    monkeypatch.setattr(core_module, "structure_of", lambda rooms: looked.append(1) or real(rooms))
    dry = core.bulk_plan("all rooms", [IN, OUT, *(r.room_id for r in rooms)])
    assert len(looked) == 1
    assert sorted(r.room_id for r in dry.rooms if r.request is None) == sorted([IN, *(r.room_id for r in rooms)])
    assert [r.room_id for r in dry.rooms if r.request is not None] == [OUT]


def test_the_rooms_own_setting_comes_first() -> None:
    state = account()
    state = state.with_room(replace(state.rooms[OUT], receipt_override="none"))
    core = core_with((PolicyRule("room", OUT, Mode.PUBLIC),), state)
    mode = core.mode_in(OUT)
    assert mode.mode is Mode.NONE and mode.rule == "this room"
    state = state.with_room(replace(state.rooms[OUT], receipt_override="private"))
    core.account = state
    assert core.mode_in(OUT).mode is Mode.PRIVATE and core.mode_in(OUT).rule == "this room"
    # p (the session mode) never moves a room a rule or a setting decided.
    core.session_mode = ReceiptType.PUBLIC
    assert core.mode_in(OUT).mode is Mode.PRIVATE
