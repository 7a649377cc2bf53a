"""A stand-in for the LiveKit server's agent-worker endpoint (``/agent``).

It speaks the real protocol the LiveKit Agents worker uses: protobuf ``WorkerMessage`` /
``ServerMessage`` over a WebSocket, bearer-token auth. It answers the registration and
records every status update, so a test can check that ``avatarkit run`` really starts a
worker, which agent name it registers and what load it reports.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web


@dataclass
class WorkerEndpoint:
    registrations: list[Any] = field(default_factory=list)
    updates: list[Any] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    updated: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/agent", self._agent)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"ws://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _agent(self, request: web.Request) -> web.WebSocketResponse:
        from livekit.protocol import agent

        self.auth_headers.append(request.headers.get("Authorization", ""))
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            wm = agent.WorkerMessage()
            wm.ParseFromString(msg.data)
            if wm.HasField("register"):
                self.registrations.append(wm.register)
                reply = agent.ServerMessage()
                reply.register.worker_id = f"W-standin-{len(self.registrations)}"
                reply.register.server_info.version = "1.9.0"
                await ws.send_bytes(reply.SerializeToString())
            elif wm.HasField("update_worker"):
                self.updates.append(wm.update_worker)
                self.updated.set()
        return ws
