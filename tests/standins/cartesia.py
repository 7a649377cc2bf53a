"""Stand-in for Cartesia's TTS WebSocket (``/tts/websocket?cartesia_version=...``, header
``X-API-Key``) as livekit-plugins-cartesia 1.8 uses it: JSON requests with ``context_id``,
``transcript``, ``continue``, ``model_id``, ``voice`` and ``output_format`` (raw pcm_s16le);
answers ``{"type": "chunk", "data": <base64 pcm>}`` per transcript piece, and
``{"type": "done", "done": true}`` after the last (``continue: false``) request.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import WSMsgType, web

from ._server import StandinServer
from .openai_api import tone_pcm


class CartesiaStandin(StandinServer):
    def __init__(self, *, api_key: str = "cartesia-test", seconds_per_piece: float = 0.2) -> None:
        super().__init__()
        self.api_key = api_key
        self.seconds_per_piece = seconds_per_piece
        self.requests: list[dict[str, Any]] = []
        self.app.router.add_get("/tts/websocket", self._ws)

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        if request.headers.get("X-API-Key") != self.api_key:
            return web.json_response({"error": "invalid api key"}, status=401)
        if not request.query.get("cartesia_version"):
            return web.json_response({"error": "cartesia_version required"}, status=400)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            req = json.loads(msg.data)
            self.requests.append(req)
            ctx = req["context_id"]
            fmt = req.get("output_format") or {}
            if fmt.get("container") != "raw" or fmt.get("encoding") != "pcm_s16le":
                await ws.send_json({"type": "error", "context_id": ctx, "done": True,
                                    "error": "unsupported output_format"})
                continue
            if req.get("transcript", "").strip():
                pcm = tone_pcm(self.seconds_per_piece, rate=int(fmt["sample_rate"]))
                await ws.send_json({"type": "chunk", "context_id": ctx, "status_code": 206,
                                    "done": False, "step_time": 10.0,
                                    "data": base64.b64encode(pcm).decode()})
            if not req.get("continue", False):
                await ws.send_json({"type": "done", "context_id": ctx, "status_code": 206,
                                    "done": True})
        return ws
