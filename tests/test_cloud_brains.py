"""The realtime and pipeline brains: options, credentials, components, and real sessions
against local stand-ins of OpenAI, Deepgram and Cartesia (``test_standin_*``, 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from avatarkit.brains.pipeline import PipelineBrain
from avatarkit.brains.providers.cloud_tts import CARTESIA_VOICE
from avatarkit.brains.realtime import RealtimeBrain
from avatarkit.engines import vad as vad_mod
from avatarkit.engines.vad import load_vad
from avatarkit.errors import ConfigError, MissingCredentialsError, UsageError
from standins.cartesia import CartesiaStandin
from standins.deepgram import DeepgramStandin
from standins.openai_api import OpenAIStandin

ALL_KEYS = ("OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY", "OPENAI_BASE_URL",
            "VLLM_KEY")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ALL_KEYS:
        monkeypatch.delenv(var, raising=False)


# -- import hygiene -------------------------------------------------------------------------

def test_plugin_modules_do_not_import_livekit() -> None:
    code = (
        "import sys, json\n"
        "import avatarkit.brains.realtime, avatarkit.brains.pipeline\n"
        "import avatarkit.faces.heygen, avatarkit.faces.hedra\n"
        "import avatarkit.doctor, avatarkit.tokens\n"
        "bad = [m for m in sys.modules if m == 'livekit' or m.startswith('livekit.')\n"
        "       or m.split('.')[0] in ('numpy', 'aiohttp', 'jwt', 'openai')]\n"
        "print(json.dumps(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert json.loads(out) == []


# -- realtime -------------------------------------------------------------------------------

def test_realtime_required_env_and_instructions() -> None:
    assert RealtimeBrain.required_env(RealtimeBrain.parse_options({})) == ("OPENAI_API_KEY",)
    assert RealtimeBrain.required_env(RealtimeBrain.parse_options({"api_key": "k"})) == ()
    with pytest.raises(MissingCredentialsError, match="OPENAI_API_KEY"):
        RealtimeBrain.check_usable(RealtimeBrain.parse_options({}), environ={})
    brain = RealtimeBrain({})
    assert brain.instructions_override() is None
    assert brain.instructions("configured") == "configured"
    brain = RealtimeBrain({"instructions": "You are a pirate."})
    assert brain.instructions_override() == "You are a pirate."
    assert brain.instructions("configured") == "You are a pirate."
    with pytest.raises(ConfigError, match="unknown option"):
        RealtimeBrain.parse_options({"voise": "x"})


def test_realtime_build_uses_the_plugin_defaults_and_server_vad(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.plugins.openai.realtime import RealtimeModel

    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    parts = RealtimeBrain({}).build()
    assert isinstance(parts.llm, RealtimeModel)
    assert parts.llm._opts.model == "gpt-realtime" and parts.llm._opts.voice == "marin"
    assert parts.llm._opts.api_key == "sk-env"
    assert parts.llm.capabilities.turn_detection is True  # server-side turn detection
    assert parts.vad is None and parts.stt is None and parts.tts is None
    assert set(parts.session_kwargs()) == {"llm"}

    parts = RealtimeBrain({"api_key": "sk-opt", "voice": "cedar", "model": "gpt-realtime-mini",
                           "local_vad": True}).build()
    assert parts.llm._opts.api_key == "sk-opt" and parts.llm._opts.voice == "cedar"
    assert parts.llm._opts.model == "gpt-realtime-mini"
    assert parts.vad is load_vad()


@pytest.mark.standin
async def test_standin_realtime_connects_and_configures_the_session() -> None:
    async with OpenAIStandin(api_key="sk-rt") as oai:
        brain = RealtimeBrain({"api_key": "sk-rt", "base_url": oai.base_url, "voice": "cedar"})
        model = brain.build().llm
        session = model.session()
        try:
            await asyncio.wait_for(oai.realtime_update.wait(), 10)
            oai.realtime_update.clear()
            await session.update_instructions("Speak like a pirate.")
            await asyncio.wait_for(oai.realtime_update.wait(), 10)
        finally:
            await session.aclose()
            await model.aclose()
    ws = oai.paths("/v1/realtime")[0]
    assert ws.query == {"model": "gpt-realtime"}
    assert ws.headers["Authorization"] == "Bearer sk-rt"
    updates = [e["session"] for e in oai.realtime_events if e["type"] == "session.update"]
    assert updates[0]["model"] == "gpt-realtime"
    assert updates[0]["audio"]["output"]["voice"] == "cedar"
    assert updates[0]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
    assert any(u.get("instructions") == "Speak like a pirate." for u in updates[1:])


# -- pipeline: options and credentials ---------------------------------------------------------

@pytest.mark.parametrize(("options", "expected"), [
    ({}, ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY")),
    ({"stt": "openai", "tts": "openai"}, ("OPENAI_API_KEY",)),
    ({"llm": "vllm", "base_url": "http://gpu:8000/v1", "model": "m"},
     ("DEEPGRAM_API_KEY", "CARTESIA_API_KEY")),
    ({"llm": "vllm", "base_url": "http://gpu:8000/v1", "model": "m",
      "llm_api_key_env": "VLLM_KEY", "tts": "openai"},
     ("DEEPGRAM_API_KEY", "VLLM_KEY", "OPENAI_API_KEY")),
    ({"stt": "openai", "llm": "openai-compatible", "base_url": "http://localhost:11434/v1",
      "model": "llama3.2"}, ("OPENAI_API_KEY", "CARTESIA_API_KEY")),
    ({"stt": "openai", "llm": "openai-compatible", "base_url": "http://h/v1",
      "model": "m", "api_key": "k", "tts": "openai"}, ("OPENAI_API_KEY",)),
    ({"stt": "openai", "tts": "openai", "openai_api_key": "sk"}, ()),
    ({"deepgram_api_key": "d", "cartesia_api_key": "c"}, ("OPENAI_API_KEY",)),
])
def test_pipeline_required_env_is_exact(options: dict[str, Any],
                                        expected: tuple[str, ...]) -> None:
    assert PipelineBrain.required_env(PipelineBrain.parse_options(options)) == expected


@pytest.mark.parametrize(("options", "message"), [
    ({"llm": "vllm"}, "llm='vllm' needs base_url and model"),
    ({"llm": "vllm", "model": "m"}, "llm='vllm' needs base_url"),
    ({"llm": "openai-compatible", "base_url": "http://h/v1"},
     "llm='openai-compatible' needs model"),
    ({"llm": "vllm", "base_url": "http://h/v1", "model": "m", "api_key": "k",
      "llm_api_key_env": "VLLM_KEY"}, "not both"),
    ({"llm_api_key_env": "X"}, "option 'llm_api_key_env' of brain 'pipeline' does not apply "
     "to llm 'openai'"),
    ({"llm": "vllm", "base_url": "http://h/v1", "model": "m",
      "llm_api_key_env": "not a var"}, "invalid options for llm 'vllm':\n  option 'api_key_env'"),
    ({"stt": "wisper"}, "unknown stt provider 'wisper' (speech-to-text) for the pipeline "
     "brain. did you mean 'whisper'? Registered stt providers: deepgram, openai, whisper"),
    ({"tts": "elevenlabs", "tts_options.voise": "x"}, "option 'voise': unknown option"),
    ({"tts": "elevenlabs", "voice": "v1", "tts_options": {"encoding": "wav"}},
     "option 'encoding': Input should be"),
    ({"tts_voice": "x"}, "option 'tts_voice': unknown option"),
])
def test_pipeline_invalid_options_are_clear(options: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=re.escape(message)):
        PipelineBrain.parse_options(options)


def test_pipeline_secrets_are_masked() -> None:
    opts = PipelineBrain.parse_options({"openai_api_key": "sk-hidden", "llm": "vllm",
                                        "base_url": "http://h/v1", "model": "m"})
    assert "sk-hidden" not in repr(opts) and "sk-hidden" not in opts.model_dump_json()


def test_pipeline_build_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.plugins import cartesia, deepgram, openai, silero

    for var in ("OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.setenv(var, "k-" + var)
    parts = PipelineBrain({}).build()
    assert isinstance(parts.stt, deepgram.STT) and parts.stt.model == "nova-3"
    assert isinstance(parts.llm, openai.LLM) and parts.llm.model == "gpt-4.1-mini"
    assert isinstance(parts.tts, cartesia.TTS) and parts.tts.model == "sonic-3"
    assert parts.tts._opts.voice == CARTESIA_VOICE
    assert isinstance(parts.vad, silero.VAD)
    assert parts.session_options == {}

    parts = PipelineBrain({"stt": "openai", "tts": "openai", "voice": "coral",
                           "turn_detection": "stt"}).build()
    assert isinstance(parts.stt, openai.STT) and parts.stt.model == "gpt-4o-mini-transcribe"
    assert isinstance(parts.tts, openai.TTS) and parts.tts.model == "gpt-4o-mini-tts"
    assert parts.tts._opts.voice == "coral" and parts.tts._opts.response_format == "pcm"
    assert parts.session_kwargs()["turn_handling"] == {"turn_detection": "stt"}


def test_pipeline_vad_is_loaded_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.plugins import silero

    for var in ("OPENAI_API_KEY", "DEEPGRAM_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.setenv(var, "k")
    vad_mod._load.cache_clear()  # a cold process
    loads: list[float] = []
    real_load = silero.VAD.load

    def counting_load(**kwargs: Any) -> Any:
        loads.append(kwargs["min_silence_duration"])
        return real_load(**kwargs)

    monkeypatch.setattr(silero.VAD, "load", counting_load)
    brain = PipelineBrain({"min_silence_duration": 0.3})
    brain.prewarm()
    first, second = brain.build(), PipelineBrain({"min_silence_duration": 0.3}).build()
    assert first.vad is second.vad
    assert first.stt is not second.stt  # fresh per-session components
    assert loads == [0.3]


# -- pipeline against stand-ins ---------------------------------------------------------------

def speech_frames(seconds: float, rate: int = 16000) -> Iterator[Any]:
    """10 ms frames of a voiced-sounding signal (harmonics of 150 Hz)."""
    from livekit import rtc

    n = rate // 100
    for i in range(int(seconds * 100)):
        t = (np.arange(n) + i * n) / rate
        x = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
        yield rtc.AudioFrame((0.2 * 32767 * x / 2).astype(np.int16).tobytes(), rate, 1, n)


class FrameInput:
    """A paced ``io.AudioInput``: ``seconds`` of signal, then silence until closed."""

    def __new__(cls, seconds: float) -> Any:
        from livekit import rtc
        from livekit.agents.voice import io

        class _Input(io.AudioInput):
            def __init__(self) -> None:
                super().__init__(label="test-input")
                self._frames = speech_frames(seconds)

            async def __anext__(self) -> rtc.AudioFrame:
                await asyncio.sleep(0.005)
                frame = next(self._frames, None)
                if frame is None:
                    return rtc.AudioFrame(b"\0\0" * 160, 16000, 1, 160)
                return frame

        return _Input()


class Collector:
    """Agent audio out: a ``QueueAudioOutput`` drained by a task that reports playback."""

    def __init__(self) -> None:
        from livekit.agents.voice.avatar import QueueAudioOutput

        self.output = QueueAudioOutput(sample_rate=24000)
        self.samples = 0
        self.segments = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from livekit.agents.voice.avatar import AudioSegmentEnd

        async def drain() -> None:
            async for item in self.output:
                if isinstance(item, AudioSegmentEnd):
                    self.segments += 1
                    self.output.notify_playback_finished(self.samples / 24000, False)
                else:
                    self.samples += item.samples_per_channel

        self._task = asyncio.create_task(drain())

    async def aclose(self) -> None:
        if self._task:
            self._task.cancel()


async def run_turn(brain: Any, *, user_text: str | None = None,
                   user_audio_seconds: float | None = None) -> tuple[Any, Collector]:
    """One real AgentSession turn with no room; returns (chat history items, audio)."""
    from livekit.agents import Agent, AgentSession
    from livekit.agents.utils import http_context

    collector = Collector()
    async with http_context.open():
        parts = brain.build()
        session: AgentSession[Any] = AgentSession(**parts.session_kwargs())
        session.output.audio = collector.output
        if user_audio_seconds is not None:
            session.input.audio = FrameInput(user_audio_seconds)
        await collector.start()
        replied = asyncio.Event()

        @session.on("conversation_item_added")
        def _added(ev: Any) -> None:
            if ev.item.type == "message" and ev.item.role == "assistant":
                replied.set()

        await session.start(Agent(instructions=brain.instructions("Be brief.")))
        try:
            if user_text is not None:
                await asyncio.wait_for(session.generate_reply(user_input=user_text), 20)
            await asyncio.wait_for(replied.wait(), 20)
            items = list(session.history.items)
        finally:
            await session.aclose()
            await collector.aclose()
    return items, collector


def texts(items: list[Any], role: str) -> list[str]:
    return [i.text_content for i in items if i.type == "message" and i.role == role]


@pytest.mark.standin
async def test_standin_pipeline_openai_stt_llm_tts() -> None:
    async with OpenAIStandin(api_key="sk-test") as oai:
        brain = PipelineBrain({
            "stt": "openai", "llm": "openai", "tts": "openai", "openai_api_key": "sk-test",
            "stt_base_url": oai.base_url, "base_url": oai.base_url,
            "tts_base_url": oai.base_url, "voice": "coral",
        })
        from livekit.agents.utils import AudioBuffer

        stt = brain.build().stt
        frames: AudioBuffer = list(speech_frames(0.6))
        event = await stt.recognize(frames)
        assert event.alternatives[0].text == "what time is it"

        items, audio = await run_turn(brain, user_text="what time is it")

    tr = oai.paths("/v1/audio/transcriptions")[0]
    assert tr.json["model"] == "gpt-4o-mini-transcribe" and tr.json["language"] == "en"
    assert tr.body.startswith(b"RIFF") and tr.headers["Authorization"] == "Bearer sk-test"
    chat = oai.paths("/v1/chat/completions")[0].json
    assert chat["model"] == "gpt-4.1-mini" and chat["stream"] is True
    assert chat["messages"][0]["content"] == "Be brief."
    assert chat["messages"][-1] == {"role": "user", "content": "what time is it"}
    speech = [c.json for c in oai.paths("/v1/audio/speech")]
    assert speech and all(s["voice"] == "coral" and s["model"] == "gpt-4o-mini-tts"
                          for s in speech)
    assert "".join(s["input"] for s in speech).replace(" ", "") == \
        "It is noon. Anything else?".replace(" ", "")
    assert texts(items, "assistant") == ["It is noon. Anything else?"]
    # every synthesized sentence (0.5 s of 24 kHz PCM each) reached the output
    assert abs(audio.samples - len(speech) * 12000) <= 2400


@pytest.mark.standin
async def test_standin_pipeline_deepgram_vllm_cartesia_voice_turn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_KEY", "vllm-secret")
    async with OpenAIStandin(api_key="vllm-secret", reply="Hello! I am here.") as vllm, \
            DeepgramStandin(api_key="dg-key", transcript="hello avatar") as dg, \
            CartesiaStandin(api_key="ca-key") as ca:
        brain = PipelineBrain({
            "stt": "deepgram", "deepgram_api_key": "dg-key", "stt_base_url": dg.base_url,
            "llm": "vllm", "base_url": vllm.base_url,
            "model": "meta-llama/Llama-3.1-8B-Instruct", "llm_api_key_env": "VLLM_KEY",
            "tts": "cartesia", "cartesia_api_key": "ca-key", "tts_base_url": ca.url,
            "turn_detection": "stt",
        })
        items, audio = await run_turn(brain, user_audio_seconds=1.0)

    listen = dg.paths("/v1/listen")[0]
    assert listen.headers["Authorization"] == "Token dg-key"
    assert listen.query["model"] == "nova-3" and listen.query["language"] == "en"
    assert listen.query["encoding"] == "linear16" and listen.query["sample_rate"] == "16000"
    assert dg.audio_bytes >= 16000 * 2 * 0.5
    assert texts(items, "user") == ["hello avatar"]

    chat = vllm.paths("/v1/chat/completions")[0]
    assert chat.headers["Authorization"] == "Bearer vllm-secret"
    assert chat.json["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert chat.json["messages"][-1] == {"role": "user", "content": "hello avatar"}

    ws = ca.paths("/tts/websocket")[0]
    assert ws.headers["X-API-Key"] == "ca-key" and ws.query["cartesia_version"]
    spoken = [r for r in ca.requests if r["transcript"].strip()]
    assert spoken and all(r["model_id"] == "sonic-3" for r in spoken)
    assert spoken[0]["voice"] == {"mode": "id", "id": CARTESIA_VOICE}
    assert "".join(r["transcript"] for r in spoken).split() == ["Hello!", "I", "am", "here."]
    assert texts(items, "assistant") == ["Hello! I am here."]
    assert audio.samples >= len(spoken) * 0.2 * 24000 * 0.9
