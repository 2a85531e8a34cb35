"""``app.matrix.answers``: the depth scan against the nesting of the decoded value (hypothesis,
with brackets, quotes and backslashes inside strings), and ``decode_json``'s one-line
errors for what a hostile server sends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.matrix.errors import ServerError
from app.matrix.answers import MAX_DEPTH, NotJson, decode_json, exceeds_depth

# Strings full of what a naive bracket count trips on.
TRICKY_TEXT = st.text(alphabet='[]{}"\\ab\u00e9\U0001f9f5', max_size=8)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TRICKY_TEXT, children, max_size=4),
    max_leaves=60,
)


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


def chain(depth: int, value: Any = 1) -> Any:
    for level in range(depth):
        value = [value] if level % 2 else {"k[": value, "s": "]]}"}
    return value


@settings(max_examples=400, deadline=None)
@given(JSON_VALUES, st.integers(0, 40), st.booleans())
def test_the_depth_scan_agrees_with_the_decoded_value(value: Any, extra: int, ascii_only: bool) -> None:
    value = chain(extra, value)  # past the quick passes too
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    depth = depth_of(value)
    for limit in {0, 1, max(depth - 1, 0), depth, depth + 1, 16, 17}:
        assert exceeds_depth(raw, limit) == (depth > limit), (raw[:200], depth, limit)


def test_shapes_a_scan_could_miss() -> None:
    for raw, depth in [
        (b"[" * 100_000 + b"]" * 100_000, 100_000),
        (b"[[]," * 600 + b"1" + b"]" * 600, 601),  # a zigzag: no long run until a pass
        (b'["\\\\", [["\\"]"]]]', 3),  # an escaped backslash, then an escaped quote
        (b'[{"a": "[[[[[["}]', 2),
    ]:
        assert exceeds_depth(raw, depth - 1) and not exceeds_depth(raw, depth), raw[:40]


def test_decode_json_reads_what_is_within_the_caps() -> None:
    assert decode_json(json.dumps(chain(MAX_DEPTH)).encode(), what="GET /x") == chain(MAX_DEPTH)
    assert decode_json('{"a": "Zoë 🧵"}'.encode(), what="GET /x") == {"a": "Zoë 🧵"}


@pytest.mark.parametrize(
    ("raw", "error", "reason"),
    [
        (json.dumps(chain(MAX_DEPTH + 1)).encode(), ServerError, "nested deeper than 512 levels"),
        (b"[" * 1_000_000, ServerError, "nested deeper than 512 levels"),
        (b'{"a": "\xed\xa0\x80"}', ServerError, "not UTF-8"),  # a lone surrogate, encoded
        (b'{"a": "\xff"}', ServerError, "not UTF-8"),
        (b"<html>hello</html>", NotJson, "not JSON"),
        (b'{"a": 1', NotJson, "not JSON"),
        (b"x" * 101, ServerError, "more than 100 bytes"),
    ],
    ids=["deep-513", "deep-million", "surrogate", "invalid-byte", "html", "cut", "too-large"],
)
def test_decode_json_errors_are_one_line_server_errors(raw: bytes, error: type, reason: str) -> None:
    with pytest.raises(error) as caught:
        decode_json(raw, what="GET /_matrix/client/versions", max_bytes=100 if reason.startswith("more") else 1 << 24)
    message = str(caught.value)
    assert isinstance(caught.value, ServerError) and caught.value.is_retryable
    assert reason in message and "\n" not in message and message.startswith("GET /_matrix/client/versions")


def test_python_json_alone_would_raise_recursion_error() -> None:
    """What the decoder is for: the stdlib gives up with RecursionError (the body the
    issue saw), which no caller can tell from a bug."""
    with pytest.raises(RecursionError):
        json.loads(b"[" * 100_000 + b"]" * 100_000)
