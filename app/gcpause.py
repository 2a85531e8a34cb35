"""``collector_paused()``: the cyclic garbage collector off around bulk decoding.

Decoding a sync body or the cache allocates hundreds of thousands of containers and no
reference cycles; with the collector on, their allocation sets off collections that walk
the growing heap again and again. Off for the call, a large initial sync decodes
markedly faster (``tests/bench/initial_sync.py`` measures it). Nested use is fine;
a collector that was already off stays off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
