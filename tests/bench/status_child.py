"""``python -m tests.bench.status_child CAP ARGS...``: ``readmark ARGS...`` (``app.cli.main``)
with the ``/sync`` answer cap (``MAX_SYNC_BYTES``, 64 MiB) raised to CAP bytes, for
the benchmark of ``tests/bench/status.py`` at sizes whose synthetic body is larger than
readmark reads (5,000 rooms: 80 MB). Nothing else differs from ``python -m app``."""

from __future__ import annotations

import sys

import app.matrix.client

app.matrix.client.MAX_SYNC_BYTES = int(sys.argv[1])

from app.cli import main  # noqa: E402 - after the cap, as it is read per request

raise SystemExit(main(sys.argv[2:]))
