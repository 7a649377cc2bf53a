"""Speech providers as plugins: the pipeline composes any registered STT x LLM x TTS by name.

ElevenLabs runs against a local stand-in of its multi-stream-input WebSocket and its HTTP
stream endpoint (``test_standin_*``); bad names, options and credentials are refused by the
CLI with exit code 2 before anything connects; a third-party provider registers through
the ``avatarkit`` entry points and is used by the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from avatarkit import speech
from avatarkit.brains.pipeline import PipelineBrain
from avatarkit.brains.providers.elevenlabs import DEFAULT_VOICE, ElevenLabsTTS
from avatarkit.registry import Registry
from cli_runner import run_cli
from standins.elevenlabs import ElevenLabsStandin
from standins.openai_api import OpenAIStandin

SENTENCES = "Hello there, I am your interviewer. Tell me about yourself."


@pytest.fixture(autouse=True)
def builtin_providers(clean_env: None) -> Any:
    """Each test starts from avatarkit's own providers (a test may load a plugin's)."""
    Registry.load(environ={"AVATARKIT_LOAD_PLUGINS": ""})
    yield
    speech.use_providers(speech._builtin_providers())


def elevenlabs_tts(el: ElevenLabsStandin, **extra: Any) -> Any:
    brain = PipelineBrain({"tts": "elevenlabs", "tts_options": {
        "api_key": el.api_key, "base_url": el.base_url, **extra},
        "deepgram_api_key": "d", "openai_api_key": "o"})
    return brain.build().tts


@pytest.mark.standin
async def test_standin_elevenlabs_streams_over_multi_stream_input() -> None:
    from livekit.agents.utils import http_context

    async with ElevenLabsStandin(api_key="el-key") as el, http_context.open():
        tts = elevenlabs_tts(el, voice_id="interviewer-voice")
        assert tts.sample_rate == 24000
        stream = tts.stream()
        for word in SENTENCES.split(" "):
            stream.push_text(word + " ")
        stream.end_input()
        samples = 0
        async for audio in stream:
            assert audio.frame.sample_rate == 24000
            samples += audio.frame.samples_per_channel
        await stream.aclose()
        await tts.aclose()
    ws = el.paths("/v1/text-to-speech/interviewer-voice/multi-stream-input")[0]
    assert ws.headers["xi-api-key"] == "el-key"
    assert ws.query["model_id"] == "eleven_turbo_v2_5"
    assert ws.query["output_format"] == "pcm_24000"
    assert ws.query["sync_alignment"] == "true"
    [ctx] = el.contexts.values()
    assert ctx.init["text"] == " " and ctx.closed  # init packet, then close_context
    assert " ".join(ctx.spoken).split() == SENTENCES.split()
    # every generated piece reached the stream as 24 kHz PCM
    assert samples * 2 == ctx.audio_bytes > 0


@pytest.mark.standin
async def test_standin_elevenlabs_synthesize_over_http() -> None:
    from livekit.agents.utils import http_context

    async with ElevenLabsStandin(api_key="el-key") as el, http_context.open():
        tts = elevenlabs_tts(el, encoding="pcm_16000", model="eleven_flash_v2_5")
        frames = [a.frame async for a in tts.synthesize("Good morning.")]
        await tts.aclose()
    call = el.paths(f"/v1/text-to-speech/{DEFAULT_VOICE}/stream")[0]
    assert call.query["output_format"] == "pcm_16000"
    assert call.json["text"] == "Good morning." and call.json["model_id"] == "eleven_flash_v2_5"
    samples = sum(f.samples_per_channel for f in frames)
    expected = int(len("Good morning.") * el.seconds_per_char * 16000)
    assert expected <= samples < expected + 16000 // 50  # the last frame padded to 20 ms


def test_pipeline_composes_providers_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    from livekit.plugins import deepgram, elevenlabs, openai

    for var in ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "ELEVEN_API_KEY"):
        monkeypatch.setenv(var, "k")
    opts = PipelineBrain.parse_options({"tts": "elevenlabs", "voice": "v-1",
                                        "tts_options.model": "eleven_multilingual_v2"})
    assert PipelineBrain.required_env(opts) == (
        "DEEPGRAM_API_KEY", "OPENAI_API_KEY", "ELEVEN_API_KEY")
    assert "livekit.plugins.elevenlabs" in PipelineBrain.required_modules(opts)
    parts = PipelineBrain(opts).build()
    assert isinstance(parts.stt, deepgram.STT) and isinstance(parts.llm, openai.LLM)
    assert isinstance(parts.tts, elevenlabs.TTS)
    assert parts.tts._opts.voice_id == "v-1" and parts.tts.model == "eleven_multilingual_v2"
    # options pass through a pickle (a worker's job processes get the plan that way)
    import pickle

    again = pickle.loads(pickle.dumps(opts))
    assert again.provider("tts")[0] is ElevenLabsTTS
    assert again.provider("tts")[1].voice_id == "v-1"


def test_listing_shows_providers_without_importing_livekit(capsys) -> None:
    result = run_cli(capsys, "plugins", "--json")
    assert result.returncode == 0 and result.network == []
    rows = {(p["kind"], p["name"]): p for p in json.loads(result.stdout)["parts"]}
    for kind, name in [("stt", "deepgram"), ("stt", "openai"), ("stt", "whisper"),
                       ("llm", "openai"), ("llm", "vllm"), ("llm", "openai-compatible"),
                       ("llm", "llama.cpp"), ("tts", "cartesia"), ("tts", "openai"),
                       ("tts", "elevenlabs"), ("tts", "piper"), ("tts", "espeak")]:
        assert (kind, name) in rows, (kind, name)
    assert rows[("tts", "elevenlabs")]["env"] == {"ELEVEN_API_KEY": False}


@pytest.mark.parametrize(("opts", "needle"), [
    (("tts=elevenlab",), "unknown tts provider 'elevenlab' (text-to-speech) for the pipeline "
     "brain. did you mean 'elevenlabs'? Registered tts providers: cartesia, elevenlabs, "
     "espeak, openai, piper"),
    (("stt=assemblyai",), "Registered stt providers: deepgram, openai, whisper"),
    (("llm=gpt",), "Registered llm providers: llama.cpp, openai, openai-compatible, vllm"),
    (("tts=elevenlabs", "tts_options.voice=x"),
     "invalid options for tts 'elevenlabs':\n  option 'voice': unknown option"),
    (("tts=elevenlabs",), "brain 'pipeline': tts 'elevenlabs' needs ELEVEN_API_KEY, which "
     "is not set"),
])
def test_bad_provider_is_a_usage_error_before_anything_connects(
        capsys, monkeypatch: pytest.MonkeyPatch, opts: tuple[str, ...], needle: str) -> None:
    for var in ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY"):
        monkeypatch.setenv(var, "k")
    monkeypatch.setenv("LIVEKIT_URL", "ws://127.0.0.1:9")
    args = [a for opt in opts for a in ("--brain-opt", opt)]
    result = run_cli(capsys, "run", "--brain", "pipeline", "--face", "none", *args)
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert result.stderr.count("error:") == 1
    assert result.network == []  # refused before any connection or name lookup


ACME = '''
from typing import Any, ClassVar
from pydantic import Field
from avatarkit import PartOptions, hookimpl
from avatarkit.speech import TTSProvider

class AcmeTTS(TTSProvider):
    """A third-party TTS: OpenAI's speech API under another name and voice."""
    name: ClassVar[str] = "acme"
    summary: ClassVar[str] = "Acme voices"
    env: ClassVar[tuple[str, ...]] = ("ACME_TOKEN",)

    class Options(PartOptions):
        voice: str = Field("acme-voice")
        base_url: str = Field("https://api.acme.example/v1")

    @classmethod
    def create(cls, options: Any) -> Any:
        import os
        from livekit.plugins import openai
        return openai.TTS(voice=options.voice, base_url=options.base_url,
                          api_key=os.environ["ACME_TOKEN"], response_format="pcm")

@hookimpl
def register_tts(register):
    register(AcmeTTS)
'''


@pytest.mark.standin
async def test_standin_third_party_provider_from_a_plugin(
        plugin_dir, capsys, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from livekit.agents.utils import http_context

    from avatarkit.composer import make_plan
    from avatarkit.config import load_config

    plugin_dir("acme-speech", {"acme_speech": ACME}, {"acme": "acme_speech"}, "0.3")
    listed = json.loads(run_cli(capsys, "plugins", "--json").stdout)["parts"]
    acme = [p for p in listed if p["name"] == "acme"]
    assert acme[0]["kind"] == "tts" and acme[0]["distribution"] == "acme-speech"

    monkeypatch.setenv("ACME_TOKEN", "acme-secret")
    async with OpenAIStandin(api_key="acme-secret") as oai:
        config = load_config(brain="pipeline", brain_opts=[
            "stt=openai", "llm=openai", "openai_api_key=acme-secret", "tts=acme",
            f"tts_options.base_url={oai.base_url}"], environ={})
        plan = make_plan(config, Registry.load(environ={}), environ={"ACME_TOKEN": "x"})
        async with http_context.open():
            tts = plan.brain_cls(plan.brain_options).build().tts
            frames = [a.frame async for a in tts.synthesize("Hi from Acme.")]
            await tts.aclose()
    speech_call = oai.paths("/v1/audio/speech")[0]
    assert speech_call.json["voice"] == "acme-voice"
    assert speech_call.headers["Authorization"] == "Bearer acme-secret"
    assert sum(f.samples_per_channel for f in frames) > 0


def test_config_show_masks_provider_keys(capsys) -> None:
    result = run_cli(capsys, "config", "show", "--brain", "pipeline", "--brain-opt",
                     "tts=elevenlabs", "--brain-opt", "tts_options.api_key=el-dotted",
                     "--brain-opt", 'stt_options={"api_key": "dg-nested"}')
    assert result.returncode == 0, result.stderr
    assert "el-dotted" not in result.stdout and "dg-nested" not in result.stdout
    assert result.stdout.count('"**********"') >= 2


@pytest.mark.local_extra
async def test_local_engines_as_providers_of_the_pipeline() -> None:
    """whisper (STT) and Piper (TTS) through the pipeline, no key needed; the LLM is any
    OpenAI-compatible server (here the stand-in)."""
    import numpy as np
    from livekit import rtc
    from livekit.agents.utils import http_context

    from room_user import QUESTION, load_wav_16k

    async with OpenAIStandin(api_key="none") as oai:
        opts = PipelineBrain.parse_options({
            "stt": "whisper", "tts": "piper", "llm": "openai-compatible",
            "llm_options": {"base_url": oai.base_url, "model": "m", "api_key": "none"}})
        assert PipelineBrain.required_env(opts) == ()
        PipelineBrain.check_usable(opts, environ={})
        brain = PipelineBrain(opts)
        brain.prewarm()
        async with http_context.open():
            parts = brain.build()
            samples = load_wav_16k(QUESTION)
            frames = [rtc.AudioFrame(samples[i:i + 160].tobytes(), 16000, 1, 160)
                      for i in range(0, len(samples) - 159, 160)]
            heard = await parts.stt.recognize(frames)
            spoken = [a.frame async for a in parts.tts.synthesize("Paris is the capital.")]
            reply = parts.llm.chat(chat_ctx=_chat("hi"))
            text = "".join([c.delta.content or "" async for c in reply if c.delta])
    assert {"capital", "france"} <= set(heard.alternatives[0].text.lower().replace(
        "?", "").split())
    audio = np.concatenate([np.frombuffer(f.data, np.int16) for f in spoken])
    assert len(audio) / spoken[0].sample_rate > 0.8 and np.abs(audio).max() > 1000
    assert text == oai.reply


def _chat(text: str) -> Any:
    from livekit.agents import llm

    ctx = llm.ChatContext()
    ctx.add_message(role="user", content=text)
    return ctx


def test_a_provider_name_registered_twice_names_both_distributions(plugin_dir) -> None:
    from avatarkit.errors import DuplicatePartError

    plugin_dir("acme-speech", {"acme_speech": ACME}, {"acme": "acme_speech"})
    plugin_dir("acme-clone", {"acme_clone": ACME}, {"acme": "acme_clone"})
    Registry.load(environ={})
    with pytest.raises(DuplicatePartError, match="acme-clone and acme-speech|acme-speech and "
                       "acme-clone"):
        PipelineBrain.parse_options({"tts": "acme"})


def test_a_provider_whose_package_is_missing_is_refused_naming_the_install() -> None:
    from avatarkit.errors import PartUnavailableError

    class Missing(ElevenLabsTTS):
        modules = ("livekit.plugins.not_installed_here",)

    with pytest.raises(PartUnavailableError, match="needs the Python module "
                       "livekit.plugins.not_installed_here") as info:
        Missing.check_usable(Missing.parse_options({}), environ={"ELEVEN_API_KEY": "k"})
    assert info.value.hint == "pip install 'avatarkit[elevenlabs]'"
