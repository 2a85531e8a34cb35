"""Spaces seeded on the real Synapse through ``MatrixActor`` (raw HTTP, no readmark
code): shared by the TUI tests (tests/ui/) and the CLI tests of spaces and bulk reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.devserver.actor import MatrixActor

CLIENT_V3 = "/_matrix/client/v3"


def server_of(actor: MatrixActor) -> str:
    return actor.user_id.split(":", 1)[1]


def make_space(actor: MatrixActor, name: str, invite: Iterable[str] = (), preset: str = "private_chat") -> str:
    body = {"name": name, "preset": preset, "invite": list(invite), "creation_content": {"type": "m.space"}}
    return actor.request("POST", f"{CLIENT_V3}/createRoom", body)["room_id"]


def add_child(actor: MatrixActor, space_id: str, child_id: str) -> None:
    """``m.space.child`` in the space: the space lists the room."""
    actor.send_state(space_id, "m.space.child", {"via": [server_of(actor)]}, state_key=child_id)
