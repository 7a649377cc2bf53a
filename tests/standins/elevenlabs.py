"""Stand-in for ElevenLabs' text-to-speech API as livekit-plugins-elevenlabs 1.8 uses it.

- Streaming: the multi-context WebSocket
  ``/v1/text-to-speech/{voice_id}/multi-stream-input?model_id=..&output_format=..&...``
  (header ``xi-api-key``). Per ``context_id`` the client sends an init packet
  (``{"text": " ", "voice_settings": {...}, "context_id": ..}``), text pieces (each ends
  with a space; ``"flush": true`` asks for the audio of what is buffered), an empty flush,
  then ``{"context_id": .., "close_context": true}``. The server answers
  ``{"audio": <base64>, "contextId": .., "normalizedAlignment": {"chars": [..],
  "charStartTimesMs": [..], "charDurationsMs": [..]}}`` per generated piece, and
  ``{"isFinal": true, "contextId": ..}`` once a closed context is done.
- One-shot: ``POST /v1/text-to-speech/{voice_id}/stream?output_format=..`` with a JSON body
  (``text``, ``model_id``, ...), answering the audio bytes.

Audio is raw ``pcm_<rate>`` (16-bit mono); any other ``output_format`` is refused.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from ._server import StandinServer
from .openai_api import tone_pcm


@dataclass
class Context:
    """What one ``context_id`` received and was sent."""

    init: dict[str, Any]
    texts: list[str] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)
    audio_bytes: int = 0
    buffer: str = ""
    closed: bool = False


class ElevenLabsStandin(StandinServer):
    def __init__(self, *, api_key: str = "el-test", seconds_per_char: float = 0.02) -> None:
        super().__init__()
        self.api_key = api_key
        self.seconds_per_char = seconds_per_char
        self.messages: list[dict[str, Any]] = []
        self.contexts: dict[str, Context] = {}
        self.app.router.add_get("/v1/text-to-speech/{voice_id}/multi-stream-input", self._ws)
        self.app.router.add_post("/v1/text-to-speech/{voice_id}/stream", self._stream)

    @property
    def base_url(self) -> str:
        """What to give the plugin as ``base_url`` (its default is ``.../v1``)."""
        return self.url + "/v1"

    def _rate(self, output_format: str) -> int | None:
        kind, _, rate = output_format.partition("_")
        return int(rate) if kind == "pcm" and rate.isdigit() else None

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("xi-api-key") != self.api_key:
            return web.json_response({"detail": {"status": "invalid_api_key",
                                                 "message": "Invalid API key"}}, status=401)
        if self._rate(request.query.get("output_format", "")) is None:
            return web.json_response({"detail": {"status": "invalid_output_format",
                                                 "message": "stand-in speaks pcm_* only"}},
                                     status=400)
        return None

    def _speech(self, text: str, rate: int) -> tuple[bytes, dict[str, Any]]:
        """A tone as long as ``text`` would take, and its character alignment."""
        step = int(self.seconds_per_char * 1000)
        pcm = tone_pcm(len(text) * self.seconds_per_char, rate=rate)
        alignment = {"chars": list(text),
                     "charStartTimesMs": [i * step for i in range(len(text))],
                     "charDurationsMs": [step] * len(text)}
        return pcm, alignment

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        await self.record(request, voice_id=request.match_info["voice_id"])
        if (refused := self._refused(request)) is not None:
            return refused
        rate = self._rate(request.query["output_format"])
        assert rate is not None
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            self.messages.append(data)
            ctx_id = data.get("context_id")
            if ctx_id is None:
                await ws.send_json({"error": "context_id is required"})
                continue
            ctx = self.contexts.get(ctx_id)
            if ctx is None:  # the first message of a context initialises it
                self.contexts[ctx_id] = Context(init=data)
                continue
            if data.get("close_context"):
                await self._generate(ws, ctx_id, ctx, rate)
                ctx.closed = True
                await ws.send_json({"isFinal": True, "contextId": ctx_id})
                continue
            text = data.get("text", "")
            ctx.texts.append(text)
            ctx.buffer += text
            if data.get("flush"):
                await self._generate(ws, ctx_id, ctx, rate)
        return ws

    async def _generate(self, ws: web.WebSocketResponse, ctx_id: str, ctx: Context,
                        rate: int) -> None:
        text, ctx.buffer = ctx.buffer.strip(), ""
        if not text:
            return
        pcm, alignment = self._speech(text, rate)
        ctx.spoken.append(text)
        ctx.audio_bytes += len(pcm)
        await ws.send_json({"audio": base64.b64encode(pcm).decode(), "contextId": ctx_id,
                            "isFinal": None, "normalizedAlignment": alignment,
                            "alignment": alignment})

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        call = await self.record(request, voice_id=request.match_info["voice_id"])
        if (refused := self._refused(request)) is not None:
            return refused
        rate = self._rate(request.query["output_format"])
        assert rate is not None
        body = call.json or {}
        if not str(body.get("text", "")).strip() or not body.get("model_id"):
            return web.json_response({"detail": {"status": "invalid_request",
                                                 "message": "text and model_id required"}},
                                     status=422)
        pcm, _ = self._speech(body["text"], rate)
        return web.Response(body=pcm, content_type="audio/pcm")
