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
from app.devserver.actor import MatrixActor
from app.devserver.demo import demo_environment, prepare_demo_device
from app.devserver.seed import DemoUser, seed_demo_account
from app.devserver.synapse import SynapseServer
from app.matrix.client import MatrixClient
from app.matrix.service import MatrixService, SyncState
from app.matrix.session import Session
from app.ui.app import ReadmarkApp


async def shoot(base_url: str, demo: MatrixActor, out: Path) -> None:
    # The demo's own device, set up before the encrypted rooms were posted to: it reads them.
    client = MatrixClient.from_session(Session(base_url, demo.user_id, demo.device_id, demo.access_token))
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
    await service.close()
    out.write_text(svg, encoding="utf-8")


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/e2e/screenshot.svg").resolve()
    with tempfile.TemporaryDirectory() as scratch:
        for name in ("CONFIG", "DATA", "STATE", "CACHE"):
            os.environ[f"XDG_{name}_HOME"] = str(Path(scratch) / name.lower())
        with SynapseServer(Path(scratch) / "synapse") as server:
            profile = Path(scratch) / "profile"
            devices: list[MatrixActor] = []

            def ready(user: DemoUser) -> None:
                devices.append(prepare_demo_device(server.base_url, user.user_id, user.password, profile))

            seed_demo_account(server.base_url, peer_stores=Path(scratch) / "peers", prepare_demo_device=ready)
            with demo_environment(profile):
                asyncio.run(shoot(server.base_url, devices[0], out))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
