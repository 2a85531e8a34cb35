"""Make the README's screenshot: the demo account on a throwaway Synapse, the real
service and TUI, exported by Textual as SVG once the counts have settled.

    .venv/bin/python -m tests.e2e.screenshot tests/e2e/screenshot.svg
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from app.config import Settings
from app.devserver.seed import seed_demo_account
from app.devserver.synapse import SynapseServer
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService
from app.matrix.service import SyncState
from app.ui.app import ReadmarkApp


async def shoot(base_url: str, user: str, password: str, out: Path) -> None:
    client, _ = await MatrixClient.login(base_url, user, password)
    service = MatrixService(client, use_cache=False)
    app = ReadmarkApp(service, Settings())
    async with app.run_test(size=(150, 32)) as pilot:
        for _ in range(200):
            await pilot.pause(0.1)
            if service.status.state is SyncState.LIVE:
                break
        await pilot.pause(3.0)  # background thread fills settle the counts
        await pilot.press("tab", "j", "enter")
        await pilot.pause(1.0)
        svg = app.export_screenshot(title="readmark")
    out.write_text(svg, encoding="utf-8")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/e2e/screenshot.svg").resolve()
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("CONFIG", "DATA", "STATE", "CACHE"):
            os.environ[f"XDG_{name}_HOME"] = str(Path(scratch) / name.lower())
        with SynapseServer(Path(scratch) / "synapse") as server:
            account = seed_demo_account(server.base_url)
            asyncio.run(shoot(server.base_url, account.user_id, account.password, out))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
