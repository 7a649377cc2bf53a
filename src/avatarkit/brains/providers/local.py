"""The local engines as speech providers: ``whisper`` (faster-whisper tiny.en),
``llama.cpp`` (the bundled ``llama-server`` with SmolLM2) and ``piper`` / ``espeak``
text-to-speech. They need the ``local`` extra and no API key; models load once per process
(:meth:`prewarm`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field

from ...errors import UsageError
from ...hookspecs import hookimpl
from ...part import PartOptions
from ...speech import LLMProvider, STTProvider, TTSProvider


class WhisperSTT(STTProvider):
    """faster-whisper with the packaged tiny.en model, on this machine."""

    name: ClassVar[str] = "whisper"
    summary: ClassVar[str] = "local faster-whisper tiny.en (English), no API key"
    modules: ClassVar[tuple[str, ...]] = ("faster_whisper",)
    install: ClassVar[str] = "pip install 'avatarkit[local]'"

    class Options(PartOptions):
        language: str = Field("en", description="language the user speaks (English only)")

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        super().check_usable(options, environ)
        from ...engines import assets

        assets.whisper_model_path()
        if options.language.replace("_", "-").split("-")[0].lower() not in ("en", "english"):
            raise UsageError(f"stt 'whisper': language={options.language!r}: the packaged "
                             "model (tiny.en) understands English only",
                             hint="use a cloud STT (deepgram, openai) for other languages")

    @classmethod
    def prewarm(cls, options: Any) -> None:
        from ...engines.whisper_stt import load_whisper_model

        load_whisper_model()

    @classmethod
    def create(cls, options: Any) -> Any:
        from ...engines.whisper_stt import WhisperSTT as Engine

        return Engine(language=options.language)


class LlamaCppLLM(LLMProvider):
    """The bundled llama.cpp server (``llama-server``) with SmolLM2, shared by every
    session of the process (of the worker, under ``avatarkit run``)."""

    name: ClassVar[str] = "llama.cpp"
    summary: ClassVar[str] = "local llama.cpp server (llama-server) with SmolLM2, no API key"
    modules: ClassVar[tuple[str, ...]] = ()

    class Options(PartOptions):
        model: str = Field("smollm2", description="model name sent to the server")
        temperature: float | None = Field(
            None, ge=0.0, le=2.0, description="None = the model's recommended (SmolLM2: 0.2)")
        top_p: float | None = Field(
            None, gt=0.0, le=1.0, description="None = the model's recommended (SmolLM2: 0.9)")
        max_tokens: int | None = Field(200, ge=1, description="cap on a reply's length")
        base_url: str | None = Field(
            None, description="set by the worker once it started the server (leave unset)")

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        super().check_usable(options, environ)
        from ...engines import assets

        if options.base_url is None:
            assets.llama_server_binary()
            assets.smollm2_gguf_path()

    @classmethod
    def _url(cls, options: Any) -> str:
        if options.base_url is not None:
            return str(options.base_url)
        from ...engines import llama_server

        return llama_server.ensure_started_sync()

    @classmethod
    def prewarm(cls, options: Any) -> None:
        cls._url(options)

    @classmethod
    def prepare_worker(cls, options: Any) -> Any:
        if options.base_url is not None:
            return None
        return options.model_copy(update={"base_url": cls._url(options)})

    @classmethod
    def create(cls, options: Any) -> Any:
        from ...engines.sampling import sampling_for
        from ..openai_compat import openai_compatible_llm

        sampling = sampling_for(options.model, options.temperature, options.top_p)
        return openai_compatible_llm(model=options.model, base_url=cls._url(options),
                                     temperature=sampling.temperature, top_p=sampling.top_p,
                                     max_tokens=options.max_tokens,
                                     extra_body=sampling.extra_body())


class PiperTTS(TTSProvider):
    """Piper, on this machine (the packaged voice, or a ``.onnx`` voice file)."""

    name: ClassVar[str] = "piper"
    summary: ClassVar[str] = "local Piper text-to-speech, no API key"
    modules: ClassVar[tuple[str, ...]] = ("piper",)
    install: ClassVar[str] = "pip install 'avatarkit[local]'"

    class Options(PartOptions):
        voice: str | None = Field(None, description="path to a Piper .onnx voice")

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        super().check_usable(options, environ)
        from ...engines.tts_select import resolve_tts

        resolve_tts("piper", options.voice)

    @classmethod
    def prewarm(cls, options: Any) -> None:
        from ...engines.piper_tts import load_piper_voice

        load_piper_voice(options.voice)

    @classmethod
    def create(cls, options: Any) -> Any:
        from ...engines.tts_select import create_tts

        return create_tts("piper", options.voice)


class EspeakTTS(TTSProvider):
    """espeak-ng, on this machine (robotic, tiny, always quick)."""

    name: ClassVar[str] = "espeak"
    summary: ClassVar[str] = "local espeak-ng text-to-speech, no API key"

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        super().check_usable(options, environ)
        from ...engines.tts_select import resolve_tts

        resolve_tts("espeak")

    @classmethod
    def create(cls, options: Any) -> Any:
        from ...engines.tts_select import create_tts

        return create_tts("espeak")


@hookimpl
def register_stt(register: Any) -> None:
    register(WhisperSTT)


@hookimpl
def register_llm(register: Any) -> None:
    register(LlamaCppLLM)


@hookimpl
def register_tts(register: Any) -> None:
    register(PiperTTS)
    register(EspeakTTS)
