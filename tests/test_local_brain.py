"""The ``local`` brain: options, registration, real components, and one real offline turn."""

from __future__ import annotations

import asyncio
import io as std_io
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import redirect_stderr
from pathlib import Path
from typing import Any

import numpy as np
import pluggy
import pytest
from livekit import rtc
from livekit.agents import Agent, AgentSession
from livekit.agents.voice import io

from avatarkit import hookspecs, progress
from avatarkit.brains import local as local_brain
from avatarkit.brains.local import LocalBrain, shutdown, turn_handling
from avatarkit.engines import llama_server
from avatarkit.engines.espeak_tts import EspeakTTS
from avatarkit.engines.llama_server import free_loopback_port
from avatarkit.engines.piper_tts import PiperTTS
from avatarkit.engines.whisper_stt import WhisperSTT
from avatarkit.errors import AvatarkitError, ConfigError, UsageError
from local_helpers import espeak_frame, words

pytestmark = pytest.mark.local_extra  # the offline engines / the renderer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SRC = Path(__file__).resolve().parents[1] / "src"
HEAVY = ("livekit", "numpy", "onnxruntime", "faster_whisper", "av", "piper", "ctranslate2")


@pytest.fixture(scope="module")
def brain() -> Iterator[LocalBrain]:
    """A prewarmed brain (models loaded, llama-server started) shared by the module."""
    b = LocalBrain({})
    b.prewarm()
    yield b
    shutdown()


# -- cheap: import, options, registration ---------------------------------------------

def test_import_is_light() -> None:
    code = (
        "import json, sys; import avatarkit.brains.local as m; "
        "m.LocalBrain.Options(); "
        f"print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in {HEAVY!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(SRC)}).stdout
    assert json.loads(out) == []


def test_options() -> None:
    opts = LocalBrain.parse_options({})
    assert opts.base_url is None and opts.model == "smollm2" and opts.tts == "auto"
    assert 0.3 <= opts.min_silence <= 0.4
    assert LocalBrain.env == () and LocalBrain.name == "local" and LocalBrain.summary
    with pytest.raises(ConfigError, match="unknown option"):
        LocalBrain({"modle": "x"})
    with pytest.raises(ConfigError, match="tts"):
        LocalBrain({"tts": "kokoro"})
    secret = LocalBrain({"api_key": "sk-123"}).options
    assert "sk-123" not in repr(secret)


def test_registers_with_pluggy() -> None:
    pm = pluggy.PluginManager("avatarkit")
    pm.add_hookspecs(hookspecs)
    pm.register(local_brain)
    registered: list[type[Any]] = []
    pm.hook.register_brains(register=registered.append)
    assert registered == [LocalBrain]


def test_check_usable_names_what_to_install(tmp_path: Path) -> None:
    LocalBrain.check_usable(LocalBrain.parse_options({}), {})
    with pytest.raises(UsageError, match="not found"):
        LocalBrain.check_usable(LocalBrain.parse_options(
            {"voice": str(tmp_path / "none.onnx")}), {})
    with pytest.raises(UsageError, match="English only"):
        LocalBrain.check_usable(LocalBrain.parse_options({"stt_language": "de"}), {})
    LocalBrain.check_usable(LocalBrain.parse_options({"stt_language": "en-US"}), {})
    with pytest.raises(UsageError, match="cannot be used with tts='espeak'"):
        LocalBrain.check_usable(LocalBrain.parse_options({"tts": "espeak", "voice": "v.onnx"}),
                                {})


def test_progress_notes_are_shown_for_slow_loads_and_can_be_silenced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "SLOW_AFTER", 0.05)
    monkeypatch.delenv("AVATARKIT_QUIET", raising=False)
    for quiet, expected in ((False, "loading thing... 0.2 s\n"), (True, "")):
        progress.set_quiet(quiet)
        err = std_io.StringIO()
        with redirect_stderr(err), progress.loading("thing"):
            time.sleep(0.2)
        assert err.getvalue() == expected
    progress.set_quiet(None)
    err = std_io.StringIO()
    with redirect_stderr(err), progress.loading("fast"):
        pass
    assert err.getvalue() == ""


# -- real components -----------------------------------------------------------------

async def test_build_returns_real_components(brain: LocalBrain) -> None:
    from livekit.agents import tts as lk_tts
    from livekit.agents import vad as lk_vad
    from livekit.plugins import openai

    parts = brain.build()
    # fast turns: whisper streams (it transcribes from the first silence, with the VAD)
    assert isinstance(parts.stt, WhisperSTT) and parts.stt.capabilities.streaming
    # a 15 s window with a beam of 5: faster and hears better than 30 s greedy
    assert (parts.stt.window, parts.stt.beam_size) == (15.0, 5)
    # fast turns: Piper behind a stream adapter whose first chunk is a short clause
    assert isinstance(parts.tts, lk_tts.StreamAdapter)
    assert isinstance(parts.tts._wrapped_tts, PiperTTS) and parts.tts.sample_rate == 22050
    assert isinstance(parts.vad, lk_vad.VAD)
    assert isinstance(parts.llm, openai.LLM) and parts.llm.model == "smollm2"
    assert parts.session_options == {"turn_handling": turn_handling(brain.options.min_silence)}
    handling = parts.session_options["turn_handling"]
    assert handling["endpointing"]["min_delay"] == brain.options.min_silence
    slow = LocalBrain({"fast_turns": False}).build()
    assert not slow.stt.capabilities.streaming
    greedy_brain = LocalBrain({"stt_window": 30, "stt_beam": 1})
    greedy = greedy_brain.build().stt
    assert isinstance(greedy, WhisperSTT) and (greedy.window, greedy.beam_size) == (30.0, 1)
    await greedy_brain.aclose()
    assert slow.session_options == {"turn_handling": turn_handling()}
    assert parts.vad is brain.build().vad  # one VAD per process
    server = llama_server.shared_server()
    assert server.ready and server.base_url in str(parts.llm._client.base_url)
    AgentSession(**parts.session_kwargs())  # the shape AgentSession 1.8 accepts
    await brain.aclose()
    await brain.aclose()  # idempotent


async def test_build_with_espeak_and_a_user_server(brain: LocalBrain) -> None:
    url = llama_server.shared_server().base_url  # stands in for the user's vLLM/Ollama
    other = LocalBrain({"tts": "espeak", "base_url": url, "temperature": 0.2})
    parts = other.build()
    assert isinstance(parts.tts._wrapped_tts, EspeakTTS)
    assert str(parts.llm._client.base_url).startswith(url)
    await other.aclose()


def test_unreachable_base_url_fails_build_clearly() -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}/v1"
    with pytest.raises(AvatarkitError, match="no OpenAI-compatible LLM server") as err:
        LocalBrain({"base_url": url}).build()
    assert url in str(err.value) and err.value.exit_code == 1


def test_build_starts_the_server_when_prewarm_was_skipped() -> None:
    shutdown()
    assert not llama_server.shared_server().running
    parts = LocalBrain({}).build()
    assert llama_server.shared_server().ready
    assert parts.llm is not None


# -- one real offline turn through AgentSession ---------------------------------------

class SpeechInput(io.AudioInput):
    """Silence, then ``speech``, then silence forever, as 10 ms frames paced in real time."""

    def __init__(self, speech: rtc.AudioFrame) -> None:
        super().__init__(label="speech")
        self._samples = np.frombuffer(speech.data, dtype=np.int16)
        self._frames = self._generate()
        self.speech_ended_at: float | None = None

    async def _generate(self) -> AsyncIterator[rtc.AudioFrame]:
        step = 160
        lead = np.zeros(8000, dtype=np.int16)
        audio = np.concatenate([lead, self._samples])
        audio = np.concatenate([audio, np.zeros(-len(audio) % step, dtype=np.int16)])
        voiced = np.flatnonzero(np.abs(audio) > 300)
        last_voiced = int(voiced[-1]) if len(voiced) else 0
        start = time.monotonic()
        for i in range(0, len(audio), step):
            await asyncio.sleep(max(0.0, start + i / 16000 - time.monotonic()))
            yield rtc.AudioFrame(audio[i:i + step].tobytes(), 16000, 1, step)
            if i <= last_voiced < i + step:  # the user's voice really stops here
                self.speech_ended_at = time.monotonic()
        silence = np.zeros(step, dtype=np.int16).tobytes()
        while True:
            await asyncio.sleep(0.01)
            yield rtc.AudioFrame(silence, 16000, 1, step)

    async def __anext__(self) -> rtc.AudioFrame:
        return await self._frames.__anext__()


class RecordingOutput(io.AudioOutput):
    """Keeps the agent's audio; playback "ends" as soon as a segment is flushed (fast tests)."""

    def __init__(self) -> None:
        super().__init__(label="recorder", capabilities=io.AudioOutputCapabilities(pause=False))
        self.frames: list[rtc.AudioFrame] = []
        self.first_audio_at: float | None = None
        self._segment = 0.0
        self._started: float | None = None

    async def capture_frame(self, frame: rtc.AudioFrame) -> None:
        await super().capture_frame(frame)
        if self.first_audio_at is None:
            self.first_audio_at = time.monotonic()
        if self._started is None:
            self._started = time.monotonic()
            self.on_playback_started(created_at=time.time())
        self.frames.append(frame)
        self._segment += frame.duration

    def flush(self) -> None:
        super().flush()
        if self._started is None:
            return
        position = self._segment
        self._started, self._segment = None, 0.0
        self.on_playback_finished(playback_position=position, interrupted=False)

    def clear_buffer(self) -> None:
        if self._started is not None:
            position = min(self._segment, time.monotonic() - self._started)
            self._started, self._segment = None, 0.0
            self.on_playback_finished(playback_position=position, interrupted=True)


async def test_one_offline_turn(brain: LocalBrain) -> None:
    parts = brain.build()
    session = AgentSession(**parts.session_kwargs(), session_close_transcript_timeout=0.1)
    speech = SpeechInput(espeak_frame("What is the capital of France?"))
    output = RecordingOutput()
    session.input.audio = speech
    session.output.audio = output
    messages: dict[str, str] = {}
    replied = asyncio.Event()

    @session.on("conversation_item_added")
    def _on_item(ev: Any) -> None:
        item = ev.item
        if item.type == "message" and item.text_content:
            messages[item.role] = item.text_content
            if item.role == "assistant":
                replied.set()

    await session.start(agent=Agent(instructions="You are a helpful avatar. Answer in one "
                                    "short sentence."))
    try:
        await asyncio.wait_for(replied.wait(), 30)
    finally:
        await session.aclose()
        await brain.aclose()
    assert {"capital", "france"} <= words(messages.get("user", "")), messages
    assert messages["assistant"].strip()
    assert output.frames and output.first_audio_at is not None
    assert speech.speech_ended_at is not None
    # latency budgets are measured by benchmarks/, not asserted here (shared CPUs are noisy)
    latency = output.first_audio_at - speech.speech_ended_at
    print(f"\nspeech end -> first agent audio: {latency:.2f} s")
    assert latency > 0
