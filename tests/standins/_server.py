"""A tiny base for stand-in servers: an aiohttp app on 127.0.0.1, a call log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    """One HTTP request (or WebSocket upgrade) a stand-in received."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    json: Any = None
    body: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)


class StandinServer:
    """Start with ``await s.start()``; ``s.url`` is ``http://127.0.0.1:PORT``."""

    def __init__(self) -> None:
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.calls: list[Call] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> StandinServer:
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def record(self, request: web.Request, **extra: Any) -> Call:
        body = await request.read() if request.can_read_body else b""
        payload: Any = None
        if body and request.content_type == "application/json":
            payload = await request.json()
        call = Call(request.method, request.path, dict(request.headers), dict(request.query),
                    payload, body, dict(extra))
        self.calls.append(call)
        return call

    def paths(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    async def __aenter__(self) -> StandinServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
