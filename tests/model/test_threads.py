"""Thread membership: the spec's rules, relation hops, and hostile relation shapes."""

from __future__ import annotations

from app.model.ids import MAIN
from app.model.room import MAX_RELATION_HOPS, backfill

from tests.model.builders import edit, msg, reaction, reply, room, spec_dag


def test_spec_dag_threads() -> None:
    state = spec_dag()
    assert {e: state.thread_of[e] for e in "$A $B $I".split()} == {"$A": MAIN, "$B": MAIN, "$I": MAIN}
    assert [state.thread_of[e] for e in "$C $E $G $H".split()] == ["$A"] * 4
    assert [state.thread_of[e] for e in "$D $F".split()] == ["$B"] * 2
    assert state.thread_ids == (MAIN, "$A", "$B")


def test_relations_to_a_thread_reply_belong_to_its_thread() -> None:
    state = room(msg("$root"), reply("$r1", "$root"), reaction("$like", "$r1"), edit("$fix", "$r1"))
    assert state.thread_of["$like"] == "$root"
    assert state.thread_of["$fix"] == "$root"


def test_relations_to_the_root_are_in_main() -> None:
    state = room(msg("$root"), reply("$r1", "$root"), reaction("$like", "$root"), edit("$fix", "$root"))
    assert state.thread_of["$root"] == MAIN
    assert state.thread_of["$like"] == MAIN
    assert state.thread_of["$fix"] == MAIN


def test_the_root_must_be_reached_within_three_relation_edges() -> None:
    # e1 -> r -> root is 2 edges, e2 3 edges (in the thread); e3 needs 4 (main).
    chain = [msg("$root"), reply("$r", "$root")]
    parent = "$r"
    for i in range(1, 4):
        chain.append(msg(f"$e{i}", rel_type="m.reference", relates_to=parent))
        parent = f"$e{i}"
    state = room(*chain)
    assert MAX_RELATION_HOPS == 3
    assert [state.thread_of[e] for e in ("$r", "$e1", "$e2")] == ["$root"] * 3
    assert state.thread_of["$e3"] == MAIN


def test_relation_cycles_and_self_references_end_in_main() -> None:
    state = room(
        msg("$x", rel_type="m.reference", relates_to="$y"),
        msg("$y", rel_type="m.reference", relates_to="$x"),
        msg("$self", rel_type="m.reference", relates_to="$self"),
        msg("$own-root", rel_type="m.thread", relates_to="$own-root"),
    )
    assert state.thread_of == {"$x": MAIN, "$y": MAIN, "$self": MAIN, "$own-root": MAIN}


def test_unknown_parent_is_main_until_it_arrives() -> None:
    state = room(msg("$root"), reaction("$like", "$r1"))
    assert state.thread_of["$like"] == MAIN
    later = backfill(state, [reply("$r1", "$root", ts=state.events[0].ts + 1)])
    assert later.thread_of["$like"] == "$root"


def test_thread_reply_with_unknown_root_still_forms_its_thread() -> None:
    state = room(reply("$r1", "$gone"), reply("$r2", "$gone"))
    assert state.thread_of["$r1"] == "$gone"
    assert state.thread_positions["$gone"] == (0, 1)
