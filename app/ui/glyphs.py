"""The symbols the panes draw, with a plain-text set for terminals that lack them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Glyphs:
    """One set of the symbols the panes and the status line draw."""

    unread: str
    marked_unread: str
    threads: str
    highlight: str
    my_public: str
    my_private: str
    others: str
    rule: str
    gap: str
    live: str
    catching_up: str
    offline: str
    sent: str
    settled: str
    failed: str
    encrypted: str
    group_open: str
    group_closed: str


FANCY = Glyphs(
    unread="●",
    marked_unread="◆",
    threads="🧵",
    highlight="@",
    my_public="◂ you",
    my_private="◂ you ⦿",
    others="▸",
    rule="─",
    gap="┄",
    live="●",
    catching_up="◌",
    offline="○",
    sent="→",
    settled="✓",
    failed="✗",
    encrypted="🔒",
    group_open="▾",
    group_closed="▸",
)

PLAIN = Glyphs(
    unread="*",
    marked_unread="!",
    threads="t",
    highlight="@",
    my_public="< you (public)",
    my_private="< you (private)",
    others="read by",
    rule="-",
    gap=".",
    live="",
    catching_up="",
    offline="",
    sent="->",
    settled="ok",
    failed="FAILED",
    encrypted="e2e",
    group_open="-",
    group_closed="+",
)


def glyphs_for(enabled: bool) -> Glyphs:
    return FANCY if enabled else PLAIN
