"""Stand-in for the OpenAI API as livekit-plugins-openai 1.8 calls it (through the ``openai``
client, and aiohttp for Realtime):

- ``GET /v1/models`` -> ``{"object": "list", "data": [{"id", "object": "model"}]}``
- ``POST /v1/audio/transcriptions`` (multipart: ``file`` wav, ``model``, ``language``,
  ``response_format``) -> ``{"text": ...}``
- ``POST /v1/chat/completions`` with ``stream: true`` -> SSE ``chat.completion.chunk``s,
  ``data: [DONE]``. With ``tool_calls=[(name, arguments), ...]`` the answer to a user message
  is those function calls (streamed ``delta.tool_calls``, ``finish_reason: "tool_calls"``,
  only tools the request offers); the answer to the tool results is ``reply`` with
  ``{name}`` replaced by that tool's output (kept in ``tool_outputs``).
- ``POST /v1/audio/speech`` (``stream_format: "sse"``) -> SSE ``speech.audio.delta`` (base64
  audio in ``response_format``) then ``speech.audio.done``
- ``GET /v1/realtime?model=...`` WebSocket: sends ``session.created``, records client events
  (``session.update`` ...), answers ``session.update`` with ``session.updated``,
  ``conversation.item.create`` with ``conversation.item.added``, and ``response.create``
  with a response: the first one that can make the scripted ``tool_calls`` (tools of the
  session) is those function calls (``response.output_item.added``/``.done``), every
  other one is empty; ``response.done`` ends each.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from ._server import StandinServer


def tone_pcm(seconds: float, rate: int = 24000, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16).tobytes()


class OpenAIStandin(StandinServer):
    def __init__(self, *, api_key: str = "sk-test", transcript: str = "what time is it",
                 reply: str = "It is noon. Anything else?", speech_seconds: float = 0.5,
                 tool_calls: list[tuple[str, dict[str, Any]]] | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.transcript, self.reply, self.speech_seconds = transcript, reply, speech_seconds
        self.tool_calls = list(tool_calls or [])
        self.tool_outputs: dict[str, str] = {}
        self.realtime_events: list[dict[str, Any]] = []
        self.realtime_update = asyncio.Event()
        self._realtime_called = False
        r = self.app.router
        r.add_get("/v1/models", self._models)
        r.add_post("/v1/audio/transcriptions", self._transcriptions)
        r.add_post("/v1/chat/completions", self._chat)
        r.add_post("/v1/audio/speech", self._speech)
        r.add_get("/v1/realtime", self._realtime)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    def _unauthorized(self) -> web.Response:
        return web.json_response({"error": {"message": "Incorrect API key provided",
                                            "type": "invalid_request_error",
                                            "code": "invalid_api_key"}}, status=401)

    async def _models(self, request: web.Request) -> web.Response:
        await self.record(request)
        if not self._authorized(request):
            return self._unauthorized()
        return web.json_response({"object": "list", "data": [
            {"id": model, "object": "model", "created": 0, "owned_by": "standin"}
            for model in ("smollm2", "gpt-4o-mini")]})

    async def _transcriptions(self, request: web.Request) -> web.Response:
        fields: dict[str, Any] = {}
        async for part in await request.multipart():
            data = await part.read()  # type: ignore[union-attr]
            fields[part.name or ""] = data if part.name == "file" else data.decode()
        self.calls.append(_call(request, fields))
        if not self._authorized(request):
            return self._unauthorized()
        if not fields.get("file", b"").startswith(b"RIFF"):
            return web.json_response({"error": {"message": "file must be audio"}}, status=400)
        return web.json_response({"text": self.transcript})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        call = await self.record(request)
        if not self._authorized(request):
            return self._unauthorized()
        body = call.json
        cid = "chatcmpl-" + uuid.uuid4().hex[:12]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                          "x-request-id": "req_" + uuid.uuid4().hex[:16]})
        await resp.prepare(request)

        async def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            payload = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                       "model": body["model"], "choices": [
                           {"index": 0, "delta": delta, "finish_reason": finish}]}
            await resp.write(f"data: {json.dumps(payload)}\n\n".encode())

        messages = body.get("messages") or []
        offered = {t.get("function", {}).get("name") for t in body.get("tools") or []}
        calls = [(n, a) for n, a in self.tool_calls if n in offered]
        if calls and messages and messages[-1].get("role") == "user":
            await self._stream_tool_calls(chunk, calls)
            await resp.write(b"data: [DONE]\n\n")
            await resp.write_eof()
            return resp
        reply = self.reply
        if messages and messages[-1].get("role") == "tool":
            self.tool_outputs.update(_tool_outputs(messages))
            reply = reply.format(**self.tool_outputs) if self.tool_outputs else reply
        await chunk({"role": "assistant", "content": ""})
        words = reply.split(" ")
        for i, word in enumerate(words):
            await chunk({"content": word if i == len(words) - 1 else word + " "})
        await chunk({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                     "model": body["model"], "choices": [],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 6, "total_tokens": 16}}
            await resp.write(f"data: {json.dumps(usage)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    @staticmethod
    async def _stream_tool_calls(chunk: Any, calls: list[tuple[str, dict[str, Any]]]) -> None:
        """Function calls as OpenAI streams them: id and name first, arguments in pieces."""
        await chunk({"role": "assistant", "content": None})
        for index, (name, arguments) in enumerate(calls):
            call_id = "call_" + uuid.uuid4().hex[:12]
            await chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                         "function": {"name": name, "arguments": ""}}]})
            text = json.dumps(arguments)
            half = len(text) // 2
            for piece in (text[:half], text[half:]):
                await chunk({"tool_calls": [{"index": index,
                                             "function": {"arguments": piece}}]})
        await chunk({}, "tool_calls")

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        call = await self.record(request)
        if not self._authorized(request):
            return self._unauthorized()
        body = call.json
        if body.get("response_format") != "pcm" or body.get("stream_format") != "sse":
            return web.json_response({"error": {"message": "stand-in speaks pcm over sse"}},
                                     status=400)
        pcm = tone_pcm(self.speech_seconds)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                          "x-request-id": "req_" + uuid.uuid4().hex[:16]})
        await resp.prepare(request)
        step = 4800  # 100 ms of 24 kHz s16le
        for i in range(0, len(pcm), step):
            event = {"type": "speech.audio.delta",
                     "audio": base64.b64encode(pcm[i:i + step]).decode()}
            await resp.write(f"data: {json.dumps(event)}\n\n".encode())
        done = {"type": "speech.audio.done",
                "usage": {"input_tokens": 5, "output_tokens": 50, "total_tokens": 55}}
        await resp.write(f"data: {json.dumps(done)}\n\n".encode())
        await resp.write_eof()
        return resp

    async def _realtime(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        if not self._authorized(request):
            return self._unauthorized()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = {"id": "sess_" + uuid.uuid4().hex[:12], "object": "realtime.session",
                   "type": "realtime", "model": request.query.get("model")}
        await ws.send_json({"type": "session.created", "event_id": "ev_1", "session": session})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            event = json.loads(msg.data)
            self.realtime_events.append(event)
            if event.get("type") == "session.update":
                session.update(event.get("session") or {})
                await ws.send_json({"type": "session.updated", "event_id": "ev_u",
                                    "session": session})
                self.realtime_update.set()
            elif event.get("type") == "conversation.item.create":
                item = {"object": "realtime.item", "status": "completed", **event["item"]}
                await ws.send_json({"type": "conversation.item.added", "event_id": "ev_i",
                                    "previous_item_id": None, "item": item})
            elif event.get("type") == "response.create":
                await self._realtime_response(ws, event, session)
        return ws

    async def _realtime_response(self, ws: web.WebSocketResponse, event: dict[str, Any],
                                 session: dict[str, Any]) -> None:
        number = sum(e.get("type") == "response.create" for e in self.realtime_events)
        rid = f"resp_{number}"
        base = {"id": rid, "object": "realtime.response",
                "metadata": (event.get("response") or {}).get("metadata")}
        await ws.send_json({"type": "response.created", "event_id": f"ev_rc{number}",
                            "response": {**base, "status": "in_progress", "output": []}})
        offered = {t.get("name") for t in session.get("tools") or []}
        calls = [] if self._realtime_called else \
            [(n, a) for n, a in self.tool_calls if n in offered]
        self._realtime_called = self._realtime_called or bool(calls)
        output = []
        for index, (name, arguments) in enumerate(calls):
            item = {"id": f"item_{number}_{index}", "object": "realtime.item",
                    "type": "function_call", "status": "in_progress", "name": name,
                    "call_id": f"call_{number}_{index}", "arguments": ""}
            await ws.send_json({"type": "response.output_item.added", "event_id": "ev_oa",
                                "response_id": rid, "output_index": index, "item": item})
            item = {**item, "status": "completed", "arguments": json.dumps(arguments)}
            await ws.send_json({"type": "response.output_item.done", "event_id": "ev_od",
                                "response_id": rid, "output_index": index, "item": item})
            output.append(item)
        await ws.send_json({"type": "response.done", "event_id": f"ev_rd{number}",
                            "response": {**base, "status": "completed", "output": output}})


def _tool_outputs(messages: list[dict[str, Any]]) -> dict[str, str]:
    """Tool name -> output content, from the assistant's calls and the tool messages."""
    names = {call["id"]: call["function"]["name"] for m in messages
             if m.get("role") == "assistant" for call in m.get("tool_calls") or []}
    return {names.get(m.get("tool_call_id"), "?"): str(m.get("content"))
            for m in messages if m.get("role") == "tool"}


def _call(request: web.Request, fields: dict[str, Any]) -> Any:
    from ._server import Call

    return Call(request.method, request.path, dict(request.headers), dict(request.query),
                {k: v for k, v in fields.items() if k != "file"}, fields.get("file", b""))
