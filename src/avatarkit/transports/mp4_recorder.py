"""An H.264/AAC mp4 writer that muxes by media timestamp (a :class:`MediaSink`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livekit import rtc

AUDIO_RATE = 48000


class Mp4Recorder:
    """Writes the face's video frames and the agent's audio into one mp4, in sync.

    Video frames are stamped with their media timestamp (not their arrival order). Audio
    is placed on a continuous timeline at its timestamp: gaps become silence, so the
    audio track stays as long as the video and every reply sits where it was heard.
    Encoding runs on one dedicated thread, one frame at a time, in arrival order; a
    cancelled ``push_*`` never interrupts an encode, and ``aclose`` runs after every
    encode already queued.
    """

    def __init__(self, path: str | Path, *, fps: int = 25, video: bool = True,
                 preset: str = "veryfast") -> None:
        self.path = Path(path)
        self.fps = fps
        self._want_video = video
        self._preset = preset
        self._container: Any = None
        self._vstream: Any = None
        self._astream: Any = None
        self._audio_samples = 0  # samples written on the audio timeline
        self._last_video_pts = -1
        self._last_video_ts = 0.0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mp4")
        self._closed = False
        self.video_frames = 0
        self.audio_seconds = 0.0
        self.first_video_ts: float | None = None

    def audio_only(self) -> None:
        """Record no video track (an audio-only session); only before anything is written."""
        if self._container is None:
            self._want_video = False

    def _open(self, width: int, height: int) -> None:
        import av

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), mode="w")
        if self._want_video:
            vs = self._container.add_stream("libx264", rate=self.fps)
            vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
            vs.options = {"preset": self._preset, "tune": "zerolatency"}
            vs.codec_context.time_base = Fraction(1, self.fps)
            self._vstream = vs
        a = self._container.add_stream("aac", rate=AUDIO_RATE)
        a.layout = "mono"
        self._astream = a

    async def _on_encoder_thread(self, fn: Callable[..., None], *args: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def push_video(self, frame: rtc.VideoFrame, timestamp: float) -> None:
        """Encode one video frame at ``timestamp`` seconds."""
        await self._on_encoder_thread(self._write_video, frame, timestamp)

    async def push_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None:
        """Place one audio frame on the timeline at ``timestamp`` seconds."""
        await self._on_encoder_thread(self._write_audio, frame, timestamp)

    def _write_video(self, frame: rtc.VideoFrame, timestamp: float) -> None:
        import av
        import numpy as np
        from livekit import rtc

        if self._container is None:
            self._open(frame.width, frame.height)
        if self._vstream is None:
            return
        pts = round(timestamp * self.fps)
        if pts <= self._last_video_pts:
            return  # two frames in one slot: keep the first, the timeline must grow
        rgba = frame if frame.type == rtc.VideoBufferType.RGBA else frame.convert(
            rtc.VideoBufferType.RGBA)
        arr = np.frombuffer(rgba.data, dtype=np.uint8).reshape(rgba.height, rgba.width, 4)
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr[:, :, :3]), format="rgb24")
        vf.pts = pts
        for packet in self._vstream.encode(vf):
            self._container.mux(packet)
        self._last_video_pts = pts
        self._last_video_ts = timestamp
        self.video_frames += 1
        if self.first_video_ts is None:
            self.first_video_ts = timestamp

    def _write_audio(self, frame: rtc.AudioFrame, timestamp: float) -> None:
        import numpy as np

        if self._container is None:
            if self._want_video:
                return  # audio before the first video frame has nowhere to sit yet
            self._open(0, 0)
        samples = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
        mono = samples.mean(axis=1).astype(np.int16)
        resampled = self._resample(mono, frame.sample_rate)
        start = round(timestamp * AUDIO_RATE)
        if start > self._audio_samples:
            self._encode_pcm(np.zeros(start - self._audio_samples, dtype=np.float32))
        elif start < self._audio_samples:
            # Late by less than a chunk: keep continuity rather than overwrite.
            pass
        self._encode_pcm(resampled)

    def _resample(self, mono: Any, rate: int) -> Any:
        import numpy as np

        data = mono.astype(np.float32) / 32768.0
        if rate == AUDIO_RATE:
            return data
        n_out = int(round(len(data) * AUDIO_RATE / rate))
        if n_out == 0:
            return np.zeros(0, dtype=np.float32)
        x_old = np.arange(len(data)) / rate
        x_new = np.arange(n_out) / AUDIO_RATE
        return np.interp(x_new, x_old, data).astype(np.float32)

    def _encode_pcm(self, pcm: Any) -> None:
        import av

        if len(pcm) == 0:
            return
        af = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="fltp", layout="mono")
        af.sample_rate = AUDIO_RATE
        af.pts = self._audio_samples
        af.time_base = Fraction(1, AUDIO_RATE)
        for packet in self._astream.encode(af):
            self._container.mux(packet)
        self._audio_samples += len(pcm)
        self.audio_seconds = self._audio_samples / AUDIO_RATE

    async def aclose(self) -> None:
        """Pad the audio to the video's length, flush encoders, finish the file."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._on_encoder_thread(self._finish)
        finally:
            self._executor.shutdown(wait=True)

    def _finish(self) -> None:
        import numpy as np

        if self._container is None:
            return
        if self._vstream is not None and self.video_frames:
            end = round((self._last_video_ts + 1 / self.fps) * AUDIO_RATE)
            if end > self._audio_samples:
                self._encode_pcm(np.zeros(end - self._audio_samples, dtype=np.float32))
            for packet in self._vstream.encode(None):
                self._container.mux(packet)
        for packet in self._astream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._container = None
