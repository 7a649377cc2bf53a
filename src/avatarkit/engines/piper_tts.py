"""Offline text-to-speech: Piper with the packaged ``en_US-joe-medium`` voice (22,050 Hz).

:class:`PiperTTS` is a non-streaming ``tts.TTS``. ``AgentSession`` wraps it in the
framework's sentence-level ``tts.StreamAdapter``, which is what gives the earliest first
audio here: Piper renders a whole sentence in one ONNX run (no partial audio inside a
sentence), so nothing can start before the first sentence is complete, and the adapter
starts it exactly then, while the LLM is still writing the rest. Within one request,
:class:`PiperChunkedStream` pushes each sentence's PCM the moment Piper produces it.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from livekit.agents import APIConnectionError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from ..progress import loading
from . import assets
from .threaded import iterate_in_thread

if TYPE_CHECKING:
    from piper import PiperVoice

_voices_lock = threading.Lock()


def load_piper_voice(path: str | Path | None = None) -> PiperVoice:
    """The Piper voice at ``path`` (default: the packaged one), loaded once per process."""
    voice_path = str(assets.piper_voice_path(path))
    with _voices_lock:  # concurrent first calls load it once
        return _load_voice(voice_path)


@functools.cache
def _load_voice(voice_path: str) -> PiperVoice:
    with loading(f"piper voice {Path(voice_path).stem}"):
        voice = _new_voice(voice_path)
        for _ in voice.synthesize("Hello."):  # warm up: the first run is slow
            pass
    return voice


def seeded_piper_voice(seed: int, path: str | Path | None = None) -> PiperVoice:
    """A new, uncached Piper voice that speaks a text the same way on every call with ``seed``.

    Piper draws its prosody from ONNX Runtime's random ops, which take their seed from the
    process-wide one when the session is created: ``seed`` is set just before, under the
    voices' lock, and stays set for sessions created later in the process. Each call builds
    a new session (about 0.2 s), whose random sequence starts again from ``seed``.
    """
    import onnxruntime

    voice_path = str(assets.piper_voice_path(path))
    with _voices_lock:
        onnxruntime.set_seed(seed)
        return _new_voice(voice_path)


def _new_voice(voice_path: str) -> PiperVoice:
    """``PiperVoice.load()`` with our session options (it takes none)."""
    if not assets.piper_available():
        raise assets.UsageError("Piper TTS is not installed (package piper-tts)",
                                hint=f"pip install piper-tts (or {assets.LOCAL_EXTRA})")
    from piper import PiperConfig, PiperVoice

    config = json.loads(Path(f"{voice_path}.json").read_text(encoding="utf-8"))
    return PiperVoice(session=_session(voice_path), config=PiperConfig.from_dict(config))


def _session(voice_path: str) -> Any:
    """The voice's ONNX session with idle threads that sleep instead of spinning.

    onnxruntime's intra-op threads spin between runs by default; while Piper speaks the
    reply's first words, llama.cpp is still writing the rest and the face is rendering, so
    the spinning threads take the cores those need. Measured (same run, a 4-word first
    chunk with one other busy core): 0.146 s spinning, 0.114 s not; no difference on idle
    cores (0.081 / 0.087 s).
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(voice_path, sess_options=options,
                                        providers=["CPUExecutionProvider"])


def voice_sample_rate(path: str | Path | None = None) -> int:
    """Output rate of a Piper voice, read from its ``.onnx.json`` (no model load)."""
    voice_path = assets.piper_voice_path(path)
    config = json.loads(Path(f"{voice_path}.json").read_text(encoding="utf-8"))
    return int(config["audio"]["sample_rate"])


class PiperTTS(tts.TTS):
    """Piper text-to-speech, mono 16-bit PCM at the voice's rate (22,050 Hz by default).

    ``voice`` is the path of a Piper ``.onnx`` voice (its ``.onnx.json`` beside it);
    ``length_scale`` < 1 speaks faster. The voice is shared by every instance in the process.
    """

    def __init__(
        self,
        *,
        voice: str | Path | None = None,
        length_scale: float | None = None,
        speaker_id: int | None = None,
    ) -> None:
        self._voice_path = assets.piper_voice_path(voice)
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False),
            sample_rate=voice_sample_rate(self._voice_path),
            num_channels=1,
        )
        self._length_scale = length_scale
        self._speaker_id = speaker_id

    @property
    def model(self) -> str:
        return self._voice_path.stem

    @property
    def provider(self) -> str:
        return "piper"

    def prewarm(self) -> None:
        """Load the voice now (blocking) instead of on the first sentence."""
        load_piper_voice(self._voice_path)

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> PiperChunkedStream:
        return PiperChunkedStream(tts=self, input_text=text, conn_options=conn_options)

    def pcm_chunks(self, text: str) -> Iterator[bytes]:
        """Blocking: 16-bit PCM, one chunk per sentence, as Piper renders them."""
        from piper import SynthesisConfig

        voice = load_piper_voice(self._voice_path)
        config = SynthesisConfig(speaker_id=self._speaker_id, length_scale=self._length_scale)
        for chunk in voice.synthesize(text, syn_config=config):
            yield chunk.audio_int16_bytes


class PiperChunkedStream(tts.ChunkedStream):
    """One synthesis request; Piper runs in a worker thread, audio is pushed per sentence."""

    def __init__(
        self, *, tts: PiperTTS, input_text: str, conn_options: APIConnectOptions
    ) -> None:
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._piper = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        output_emitter.initialize(
            request_id=utils.shortuuid(),
            sample_rate=self._piper.sample_rate,
            num_channels=1,
            mime_type="audio/pcm",
        )
        text = self.input_text
        try:
            async for pcm in iterate_in_thread(lambda: self._piper.pcm_chunks(text)):
                output_emitter.push(pcm)
        except assets.UsageError:
            raise
        except Exception as exc:
            raise APIConnectionError(f"Piper failed to synthesize: {exc}",
                                     retryable=False) from exc
        output_emitter.flush()
