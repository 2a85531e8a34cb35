"""When to try a failed request again: one policy for the sync loop and the receipt queue.

Only what ``MatrixError.is_retryable`` allows is retried. A ``429`` waits as long as the
server said (asking sooner only earns another 429); anything else backs off
exponentially from ``START`` to ``CAP`` seconds, with jitter so that clients cut off by
the same outage do not all come back in the same second.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from app.matrix.errors import RateLimited

START = 0.5
CAP = 30.0
# A server's retry_after_ms of 0 still gets a breath before the retry.
MIN_WAIT = 0.05


def retry_delay(error: Exception, attempt: int, *, jitter: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number ``attempt + 1`` of a request that failed with
    ``error`` (a retryable ``MatrixError``, or an answer that could not be read)."""
    if isinstance(error, RateLimited) and error.retry_after_ms is not None:
        return max(error.retry_after_ms / 1000.0, MIN_WAIT)
    return min(CAP, START * 2 ** min(attempt, 16)) * (0.5 + jitter() / 2)
