"""A start from the local cache paints before any request, so nothing on that path may
import nio or aiohttp (their import is a large part of a start; tests/bench/coldstart.py
measures it), nor pycryptodome (``Crypto``: secret storage and the key backup import it
when they first work)."""

from __future__ import annotations

import subprocess
import sys


def test_the_start_path_imports_neither_nio_nor_aiohttp_nor_pycryptodome() -> None:
    code = (
        "import sys\n"
        "import app.cli, app.matrix.client, app.matrix.service, app.store.cache, app.ui.app\n"
        "from app.matrix.client import MatrixClient\n"
        "client = MatrixClient('https://example.org', user_id='@me:example.org', device_id='D', access_token='t' * 10)\n"
        "print(sorted(name for name in ('nio', 'aiohttp', 'Crypto') if name in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_the_first_request_brings_nio_in() -> None:
    code = (
        "import asyncio, sys\n"
        "from app.matrix.client import MatrixClient\n"
        "async def main():\n"
        "    client = MatrixClient('http://127.0.0.1:9', request_timeout=2)\n"
        "    try:\n"
        "        await client.versions()\n"
        "    except Exception as error:\n"
        "        print(type(error).__name__)\n"
        "    print('nio' in sys.modules)\n"
        "    await client.close()\n"
        "asyncio.run(main())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.split()
    assert out == ["NetworkError", "True"]
