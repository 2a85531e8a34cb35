"""What a homeserver's answers may be: the size caps, and the one bounded JSON decoder.

An answer is data from outside. It may be far larger than any real answer, nested deeper
than anything Matrix defines, or not UTF-8 at all; Python's ``json`` meets deep nesting
with ``RecursionError`` and a huge body with ``MemoryError``, neither of which the
callers (the sync loop, the receipt queue, the one-shot commands) can tell from a bug.
Every JSON body ``MatrixClient`` parses goes through ``decode_json``, which turns each of
these into a one-line ``ServerError``: retryable, since a glitch may pass and a hostile
server is best treated as a broken one.

The caps, each documented in the README's Limits section:

- ``MAX_ANSWER_BYTES`` for any answer, ``MAX_SYNC_BYTES`` for ``/sync`` (an initial sync
  of a large account is the one big answer): ``MatrixClient`` stops reading past them,
  so memory is bounded before anything is decoded. The ``/sync`` body, within its cap,
  is decoded by ``app.matrix.translate.parse_sync``, which turns a ``RecursionError``
  into its own ``SyncFormatError``.
- ``MAX_DEPTH`` levels of JSON nesting. Matrix documents nest a handful of levels and
  event content rarely a dozen; Python's decoder would go on until the interpreter's
  recursion limit, a depth that depends on how deep the caller's own stack is.
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any, Final

from app.matrix.errors import ServerError, first_line

MIB: Final = 1024 * 1024
MAX_ANSWER_BYTES: Final = 16 * MIB
# An initial sync of 10,000 rooms (the benchmarks' synthetic account, issue 16) is about
# 160 MB: 64 MiB refused any account past some 4,000 rooms.
MAX_SYNC_BYTES: Final = 256 * MIB
MAX_DEPTH: Final = 512

# The depth scan works on the bytes: UTF-8 never puts an ASCII byte inside a multi-byte
# character, so quotes, backslashes and brackets are found without decoding.
_SQUARE: Final = bytes.maketrans(b"{}", b"[]")
_NOT_STRUCTURE: Final = bytes(b for b in range(256) if b not in b'[]{}"')
_STRING: Final = re.compile(rb'"[^"]*"')
_SIGNED: Final = bytes.maketrans(b"[]", b"\x01\xff")
# Replace passes tried before the exact count: each removes every innermost pair, so a
# document as deep as real answers are is gone after this many cheap passes.
_QUICK_PASSES: Final = 16


class NotJson(ServerError):
    """The body is no JSON at all: a web page, say, or a cut one. Before a login that
    means the URL is not a homeserver; after one, a glitch like the rest."""


def too_large(what: str, limit: int) -> ServerError:
    size = f"{limit / MIB:g} MiB" if limit >= MIB else f"{limit} bytes"
    return ServerError(f"{what} answered more than {size}, readmark's limit for one answer")


def exceeds_depth(raw: bytes | bytearray, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels deep in a JSON text
    (brackets inside strings do not count). Meant for JSON: for anything else the answer
    means nothing, and the decoder then says what is wrong."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:
        # Escaped backslashes first, so that the quote after an escaped backslash still ends its string.
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    # Quotes and brackets only. Two adjacent quotes are an empty string, or the end of one
    # string and the start of the next with nothing between: either way dropping them
    # keeps every bracket on its side of the quotes, and in real answers it drops nearly
    # every string before the slower pass over what is left.
    structure = raw.translate(_SQUARE, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' in structure:
        structure = _STRING.sub(b"", structure)
    # Each pass removes every innermost pair, which keeps the depth of every node left:
    # after ``passes`` passes what is left is ``passes`` levels shallower than the text.
    for passes in range(_QUICK_PASSES):
        if not structure:
            return passes > limit
        if b"[" * max(limit + 1 - passes, 0) in structure:
            return True
        shorter = structure.replace(b"[]", b"")
        if len(shorter) == len(structure):
            return False  # unbalanced: not JSON
        structure = shorter
    return _QUICK_PASSES + _exact_depth(structure) > limit


def _exact_depth(structure: bytes) -> int:
    return max(accumulate(array("b", structure.translate(_SIGNED))), default=0)


def decode_json(
    raw: bytes | bytearray,
    *,
    what: str,
    max_depth: int = MAX_DEPTH,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> Any:
    """The JSON value of an answer's body. ``what`` names the request in messages
    (``GET /_matrix/client/versions``). Raises ``ServerError`` (one line) for a body
    over ``max_bytes``, nested deeper than ``max_depth`` or not UTF-8, and its subclass
    ``NotJson`` for a body that is no JSON."""
    if len(raw) > max_bytes:
        raise too_large(what, max_bytes)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ServerError(f"{what} answered with a body that is not UTF-8 (byte {error.start})") from None
    if exceeds_depth(raw, max_depth):
        raise ServerError(f"{what} answered with JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text)
    except ValueError as error:
        raise NotJson(f"{what} answered with something that is not JSON ({first_line(error, 120)})") from None
    except RecursionError:
        raise ServerError(f"{what} answered with JSON nested too deeply to read") from None
    except MemoryError:
        raise ServerError(f"{what} answered with more JSON than there is memory to read") from None
