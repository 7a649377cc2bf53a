"""Stand-in for HeyGen's LiveAvatar sessions API and WebSocket, as livekit-plugins-liveavatar
1.8 calls them (``livekit/plugins/liveavatar/api.py`` and ``avatar.py``):

- ``POST {api_url}/token``  (``X-API-KEY``) -> ``{"data": {"session_id", "session_token"}}``
- ``POST {api_url}/start``  (``Bearer <session_token>``) -> ``{"data": {"ws_url"}}``
- ``POST {api_url}/stop``   (``Bearer <session_token>``) -> ``{"code": 100, ...}``
- WebSocket at ``ws_url``: sends ``session.state_updated`` (connected); takes ``agent.speak``
  (base64 24 kHz s16le mono PCM), ``agent.speak_end``, ``agent.interrupt``,
  ``agent.start_listening``/``agent.stop_listening``, ``session.keep_alive``; answers a turn
  with ``agent.speak_started`` / ``agent.speak_ended``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from ._server import StandinServer

API_PATH = "/v1/sessions"


class LiveAvatarStandin(StandinServer):
    """Records every call; ``api_url`` is what the plugin's ``api_url`` should be set to."""

    def __init__(
        self,
        *,
        api_key: str = "la-test-key",
        start_status: int = 200,
        token_delay: float = 0.0,
        on_started: Callable[[dict[str, Any]], Any] | None = None,
        on_audio: Callable[[bytes], Any] | None = None,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.start_status = start_status
        self.token_delay = token_delay
        self.on_started = on_started
        self.on_audio = on_audio  # each agent.speak's PCM, for a renderer that plays it
        self.sessions: dict[str, dict[str, Any]] = {}  # id -> token, state, config
        self.ws_messages: list[dict[str, Any]] = []
        self.speak_audio = bytearray()  # decoded PCM of every agent.speak
        self.ws_connected = asyncio.Event()
        self.speak_end_seen = asyncio.Event()
        self.app.router.add_post(API_PATH + "/token", self._token)
        self.app.router.add_post(API_PATH + "/start", self._start)
        self.app.router.add_post(API_PATH + "/stop", self._stop)
        self.app.router.add_get("/ws/{session_id}", self._ws)

    @property
    def api_url(self) -> str:
        return self.url + API_PATH

    def stop_calls(self) -> list[Any]:
        return self.paths(API_PATH + "/stop")

    # -- HTTP -----------------------------------------------------------------------------

    def _session_for(self, request: web.Request, body: Any) -> dict[str, Any] | None:
        auth = request.headers.get("Authorization", "")
        sid = (body or {}).get("session_id")
        sess = self.sessions.get(sid or "")
        if sess is None or auth != f"Bearer {sess['token']}":
            return None
        return sess

    async def _token(self, request: web.Request) -> web.Response:
        call = await self.record(request)
        if request.headers.get("X-API-KEY") != self.api_key:
            return web.json_response({"code": 401, "message": "invalid api key"}, status=401)
        body = call.json or {}
        lk = body.get("livekit_config") or {}
        if not body.get("avatar_id") or not all(
            lk.get(k) for k in ("livekit_room", "livekit_url", "livekit_client_token")
        ):
            return web.json_response({"code": 400, "message": "bad request"}, status=400)
        sid, token = str(uuid.uuid4()), "st-" + uuid.uuid4().hex
        self.sessions[sid] = {"token": token, "state": "created", "config": body}
        if self.token_delay:  # created (and billed) already; the answer is slow
            await asyncio.sleep(self.token_delay)
        return web.json_response({"code": 1000, "data": {"session_id": sid,
                                                         "session_token": token}})

    async def _start(self, request: web.Request) -> web.Response:
        call = await self.record(request)
        sess = self._session_for(request, call.json)
        if sess is None:
            return web.json_response({"code": 401, "message": "bad session token"}, status=401)
        if self.start_status != 200:
            return web.json_response({"code": 5000, "message": "internal error"},
                                     status=self.start_status)
        sess["state"] = "started"
        sid = call.json["session_id"]
        if self.on_started is not None:
            result = self.on_started(sess["config"])
            if asyncio.iscoroutine(result):
                await result
        return web.json_response({"code": 100, "data": {
            "session_id": sid, "ws_url": f"{self.ws_base}/ws/{sid}",
        }})

    async def _stop(self, request: web.Request) -> web.Response:
        call = await self.record(request)
        sess = self._session_for(request, call.json)
        if sess is None:
            return web.json_response({"code": 401, "message": "bad session token"}, status=401)
        sess["state"] = "stopped"
        return web.json_response({"code": 100, "data": None, "message": "Session stopped"})

    # -- WebSocket ------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        await self.record(request)
        sess = self.sessions.get(request.match_info["session_id"])
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        if sess is None or sess["state"] != "started":
            await ws.close(code=4001, message=b"session not started")
            return ws
        self.ws_connected.set()
        await ws.send_json({"type": "session.state_updated", "state": "connected"})
        speaking = False
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            event = json.loads(msg.data)
            self.ws_messages.append(event)
            kind = event.get("type")
            if kind == "agent.speak":
                pcm = base64.b64decode(event["audio"])
                self.speak_audio.extend(pcm)
                if self.on_audio is not None:
                    self.on_audio(pcm)
                if not speaking:
                    speaking = True
                    await ws.send_json({"type": "agent.speak_started",
                                        "event_id": event.get("event_id")})
            elif kind == "agent.speak_end":
                if speaking:
                    speaking = False
                    await ws.send_json({"type": "agent.speak_ended",
                                        "event_id": event.get("event_id")})
                self.speak_end_seen.set()
            elif kind == "agent.interrupt":
                speaking = False
                await ws.send_json({"type": "agent.speak_interrupted"})
        return ws

    def messages(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.ws_messages if m.get("type") == kind]
