"""A browser stand-in made with aiortc: mic track, recvonly video, a data channel; it
POSTs its offer to a playground like the page does (after ICE gathering)."""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import time
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription


class ToneMic(MediaStreamTrack):
    """48 kHz stereo 20 ms frames: a 300 Hz tone for ``tone`` s after ``lead`` s, then
    silence; paced in real time like a microphone."""

    kind = "audio"

    def __init__(self, lead: float = 0.2, tone: float = 1.0, level: float = 0.3) -> None:
        super().__init__()
        self.lead, self.tone, self.level = lead, tone, level
        self._n = 0
        self._t0: float | None = None

    async def recv(self) -> Any:
        import av

        if self._t0 is None:
            self._t0 = time.monotonic()
        due = self._t0 + self._n * 0.02
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = self._n * 0.02 + np.arange(960) / 48000
        on = (t >= self.lead) & (t < self.lead + self.tone)
        mono = (np.sin(2 * math.pi * 300 * t) * self.level * 32767 * on).astype(np.int16)
        stereo = np.repeat(mono, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = 48000
        frame.pts = self._n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self._n += 1
        return frame


class PeerClient:
    """Connects to ``offer_url``; collects data-channel messages and received media."""

    def __init__(self, mic: MediaStreamTrack | None = None, video: bool = True) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("avatarkit")
        self.messages: list[dict[str, Any]] = []
        self.video_frames: list[Any] = []
        self.audio_frames: list[tuple[float, Any]] = []
        self.session: str | None = None
        self._mic = mic or ToneMic()
        self._video = video
        self._readers: list[asyncio.Task[Any]] = []
        self.channel.on("message", lambda m: self.messages.append(json.loads(m)))
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._readers.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        from aiortc.mediastreams import MediaStreamError

        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if track.kind == "video":
                self.video_frames.append(frame)
                del self.video_frames[:-5]
            else:
                self.audio_frames.append((time.monotonic(), frame))
                del self.audio_frames[:-500]

    async def connect(self, offer_url: str, **post: Any) -> dict[str, Any]:
        import aiohttp

        self.pc.addTrack(self._mic)
        if self._video:
            self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        body = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        async with aiohttp.ClientSession() as http, \
                http.post(offer_url, json=body, **post) as resp:
            data = await resp.json()
            if resp.status != 200:
                return {"status": resp.status, **data}
        self.session = data["session"]
        await self.pc.setRemoteDescription(RTCSessionDescription(data["sdp"], data["type"]))
        return {"status": 200, **data}

    async def wait_for(self, kind: str, timeout: float = 30.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.messages:
                if msg.get("type") == kind and all(msg.get(k) == v for k, v in match.items()):
                    return msg
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind!r} message {match} within {timeout} s: {self.messages}")

    def send(self, message: dict[str, Any]) -> None:
        self.channel.send(json.dumps(message))

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.pc.close()
