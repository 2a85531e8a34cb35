"""The running owner of a profile answers ``readmark status`` beside it, over a local
socket: its live state, decrypted text included, which never reaches the disk.

The socket is a Linux abstract-namespace Unix socket named after the profile's state
directory (no file to leave behind or to fit in a path's 108 bytes); the owner answers
only processes of its own user (``SO_PEERCRED``). One request per connection, one JSON
line each way, both bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_REQUEST = 4096
MAX_ANSWER = 64 * 2**20


def address(state_dir: Path) -> str:
    """The abstract socket name of a profile (leading NUL: no file)."""
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:32]
    return f"\0readmark-{os.getuid()}-{digest}"


def _peer_uid(sock: socket.socket) -> int | None:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    _, uid, _ = struct.unpack("3i", raw)
    return uid


async def serve(state_dir: Path, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> asyncio.AbstractServer | None:
    """Answer requests until the returned server is closed; None when the socket cannot
    be made (another owner's, not Linux): callers then read the cache as before."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            if sock is None or _peer_uid(sock) != os.getuid():
                return
            line = await asyncio.wait_for(reader.readline(), 5)
            if len(line) > MAX_REQUEST:
                return
            request = json.loads(line)
            if not isinstance(request, dict):
                return
            writer.write(json.dumps(answer(request), ensure_ascii=False).encode() + b"\n")
            await writer.drain()
        except (OSError, ValueError, RecursionError, asyncio.TimeoutError) as error:
            log.debug("an owner-socket request failed: %s", type(error).__name__)
        except Exception:  # noqa: BLE001 - a bug here must not stop the owner
            log.exception("answering an owner-socket request failed")
        finally:
            writer.close()

    try:
        return await asyncio.start_unix_server(handle, path=address(state_dir))
    except (OSError, NotImplementedError) as error:
        log.info("no owner socket (%s): status beside this readmark reads its cache", error)
        return None


def ask(state_dir: Path, request: dict[str, Any], timeout: float = 3.0) -> dict[str, Any] | None:
    """The running owner's answer, or None when there is none within ``timeout``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(address(state_dir))
            sock.sendall(json.dumps(request).encode() + b"\n")
            chunks, size = [], 0
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER:
                    return None
        answer = json.loads(b"".join(chunks))
    except (OSError, ValueError, RecursionError):
        return None
    return answer if isinstance(answer, dict) else None
