"""Stand-in for Deepgram's streaming ``/v1/listen`` WebSocket as livekit-plugins-deepgram 1.8
uses it: query options (model, language, encoding=linear16, sample_rate, ...), header
``Authorization: Token <key>``, binary PCM frames, text ``KeepAlive`` / ``Finalize`` /
``CloseStream``. It answers with ``SpeechStarted`` and ``Results`` (interim, then final with
``speech_final``) once it has heard ``utterance_seconds`` of audio.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from ._server import StandinServer


class DeepgramStandin(StandinServer):
    def __init__(self, *, api_key: str = "dg-test", transcript: str = "hello there",
                 utterance_seconds: float = 0.5, loud_only: bool = False) -> None:
        super().__init__()
        self.loud_only = loud_only  # count only audio above a speaking level (not silence)
        self.api_key = api_key
        self.transcript = transcript
        self.utterance_seconds = utterance_seconds
        self.audio_bytes = 0
        self.control: list[str] = []
        self.app.router.add_get("/v1/listen", self._listen)

    @property
    def base_url(self) -> str:
        return self.url + "/v1/listen"

    def _results(self, *, final: bool, start: float, duration: float) -> dict[str, Any]:
        words = self.transcript.split()
        step = duration / max(len(words), 1)
        return {
            "type": "Results", "channel_index": [0, 1], "duration": duration, "start": start,
            "is_final": final, "speech_final": final, "from_finalize": False,
            "channel": {"alternatives": [{
                "transcript": self.transcript if final else " ".join(words[:1]),
                "confidence": 0.98,
                "words": [{"word": w, "punctuated_word": w, "start": start + i * step,
                           "end": start + (i + 1) * step, "confidence": 0.98}
                          for i, w in enumerate(words if final else words[:1])],
            }]},
            "metadata": {"request_id": str(uuid.uuid4()), "model_uuid": str(uuid.uuid4())},
        }

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        await self.record(request)
        if request.headers.get("Authorization") != f"Token {self.api_key}":
            return web.json_response({"err_code": "INVALID_AUTH"}, status=401)
        q = request.query
        if q.get("encoding") != "linear16" or not q.get("sample_rate"):
            return web.json_response({"err_code": "Bad Request"}, status=400)
        bytes_per_second = int(q["sample_rate"]) * int(q.get("channels", "1")) * 2
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        heard = 0
        answered = False
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                if not self.loud_only or _rms(msg.data) > 300:
                    heard += len(msg.data)
                self.audio_bytes += len(msg.data)
                seconds = heard / bytes_per_second
                if not answered and seconds >= self.utterance_seconds:
                    answered = True
                    await ws.send_json({"type": "SpeechStarted", "channel": [0],
                                        "timestamp": 0.0})
                    await ws.send_json(self._results(final=False, start=0.0, duration=seconds))
                    await ws.send_json(self._results(final=True, start=0.0, duration=seconds))
            elif msg.type == WSMsgType.TEXT:
                kind = json.loads(msg.data).get("type")
                self.control.append(kind)
                if kind == "CloseStream":
                    await ws.send_json({"type": "Metadata", "request_id": str(uuid.uuid4()),
                                        "duration": heard / bytes_per_second, "channels": 1})
                    await ws.close()
        return ws


def _rms(pcm: bytes) -> float:
    """Level of 16-bit PCM (full scale 32767)."""
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples ** 2))) if len(samples) else 0.0
