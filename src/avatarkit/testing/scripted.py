"""A scripted brain for the kit: it speaks a given wav (or a generated voice-like signal)
whenever asked to say anything. No model, no network, no key."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from ..brain import Brain, BrainParts
from ..part import PartOptions

RATE = 24000


def speech_samples(seconds: float, rate: int = RATE, *, syllables: bool = True) -> Any:
    """A voiced-sounding int16 signal (harmonics of 150 Hz; ``syllables``: loudness at
    4 Hz, so a lip-synced face opens and closes its mouth). Silero VAD hears the steady one
    (``syllables=False``) as speech."""
    import numpy as np

    t = np.arange(int(seconds * rate)) / rate
    voice: Any = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    if not syllables:
        return (0.2 * 32767 * voice / 2).astype(np.int16)
    syllables_env = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)
    return (0.25 * 32767 * voice * syllables_env / 2).astype(np.int16)


def write_speech_wav(path: str | Path, seconds: float = 3.0, rate: int = RATE) -> Path:
    """Write :func:`speech_samples` as a mono 16-bit wav; returns the path."""
    path = Path(path)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(speech_samples(seconds, rate).tobytes())
    return path


def read_wav(path: str | Path) -> tuple[bytes, int]:
    """(mono 16-bit PCM, sample rate) of a wav file."""
    with wave.open(str(path), "rb") as src:
        if src.getnchannels() != 1 or src.getsampwidth() != 2:
            raise ValueError(f"{path}: need a mono 16-bit wav")
        return src.readframes(src.getnframes()), src.getframerate()


class ScriptedBrain(Brain):
    """Speaks ``wav`` (default: 3 s of :func:`speech_samples`) for every ``say``."""

    name: ClassVar[str] = "avatarkit-kit-scripted"
    summary: ClassVar[str] = "avatarkit.testing: speaks a given wav"
    load_cost: ClassVar[float] = 0.0

    class Options(PartOptions):
        wav: str | None = Field(None, description="mono 16-bit wav to speak")
        seconds: float = Field(3.0, gt=0, description="length of the generated speech")

    def build(self) -> BrainParts:
        if self.options.wav:
            pcm, rate = read_wav(self.options.wav)
        else:
            pcm, rate = speech_samples(self.options.seconds).tobytes(), RATE
        return BrainParts(llm=None, tts=_wav_tts(pcm, rate))


def _wav_tts(pcm: bytes, rate: int) -> Any:
    """A LiveKit TTS that answers every text with ``pcm``."""
    from livekit.agents import tts, utils
    from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

    class WavStream(tts.ChunkedStream):
        async def _run(self, output_emitter: tts.AudioEmitter) -> None:
            output_emitter.initialize(request_id=utils.shortuuid(), sample_rate=rate,
                                      num_channels=1, mime_type="audio/pcm")
            step = rate // 10 * 2  # 100 ms chunks
            for i in range(0, len(pcm), step):
                output_emitter.push(pcm[i:i + step])
            output_emitter.flush()

    class WavTTS(tts.TTS):
        def __init__(self) -> None:
            super().__init__(capabilities=tts.TTSCapabilities(streaming=False),
                             sample_rate=rate, num_channels=1)

        def synthesize(self, text: str, *,
                       conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
                       ) -> tts.ChunkedStream:
            return WavStream(tts=self, input_text=text, conn_options=conn_options)

    return WavTTS()
