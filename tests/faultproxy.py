"""A loopback HTTP proxy in front of the test Synapse that injects what a real server
cannot be made to do on demand: 429s, 5xx, latency and dropped connections.

Rules are checked in order for each request; the first match answers (or delays and
forwards). Everything else is forwarded unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Rule:
    matches: Callable[[web.Request], bool]
    times: int = 1
    status: int | None = None
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    reset: bool = False  # close the connection without an answer


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict
    body: bytes


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.base_url = ""

    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    async def start(self) -> FaultProxy:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        for rule in self.rules:
            if rule.times > 0 and rule.matches(request):
                rule.times -= 1
                if rule.delay:
                    await asyncio.sleep(rule.delay)
                if rule.reset:
                    assert request.transport is not None
                    request.transport.close()
                    return web.Response(status=500)
                if rule.status is not None:
                    return web.json_response(rule.body or {}, status=rule.status, headers=rule.headers)
                break
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, data=body, headers=headers, allow_redirects=False
        ) as answer:
            payload = await answer.read()
            passed = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after")}
            return web.Response(status=answer.status, body=payload, headers=passed)


def path_contains(fragment: str, method: str | None = None) -> Callable[[web.Request], bool]:
    return lambda request: fragment in request.path and (method is None or request.method == method)
