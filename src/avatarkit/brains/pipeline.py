"""The ``pipeline`` brain: cloud STT -> any OpenAI-compatible LLM -> cloud TTS, with Silero VAD.

- STT: ``deepgram`` (streaming, nova-3) or ``openai`` (gpt-4o-mini-transcribe; batch, cut into
  turns by the VAD).
- LLM: ``openai``, ``vllm`` or ``openai-compatible`` (Ollama, llama.cpp's server, LM Studio,
  gateways). vLLM and other OpenAI-compatible servers need ``base_url`` and ``model``;
  their key (if any) comes from ``api_key`` or the variable named by ``llm_api_key_env``.
- TTS: ``cartesia`` (streaming, sonic-3) or ``openai`` (gpt-4o-mini-tts, raw PCM).

Silero VAD is loaded once per process (:func:`load_vad`, called by ``prewarm``) and shared.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from ..brain import Brain, BrainParts
from ..engines.vad import load_vad
from ..hookspecs import hookimpl
from ..part import HttpUrl, PartOptions
from .openai_compat import openai_compatible_llm

STT_DEFAULTS = {"deepgram": "nova-3", "openai": "gpt-4o-mini-transcribe"}
LLM_DEFAULT_MODEL = "gpt-4.1-mini"
TTS_DEFAULTS = {"cartesia": "sonic-3", "openai": "gpt-4o-mini-tts"}
# Cartesia's default voice in livekit-plugins-cartesia ("Katie"); OpenAI's plugin default.
VOICE_DEFAULTS = {"cartesia": "f786b574-daa5-4673-aa0c-cbe3e8534c02", "openai": "ash"}

_ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

class PipelineBrain(Brain):
    """STT + LLM + TTS from cloud providers or a self-hosted OpenAI-compatible LLM."""

    name: ClassVar[str] = "pipeline"
    summary: ClassVar[str] = (
        "STT (Deepgram/OpenAI) -> LLM (OpenAI, vLLM, any OpenAI-compatible) -> "
        "TTS (Cartesia/OpenAI), Silero VAD."
    )
    env: ClassVar[tuple[str, ...]] = ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY")

    class Options(PartOptions):

        stt: Literal["deepgram", "openai"] = "deepgram"
        stt_model: str | None = Field(default=None, description="nova-3 / gpt-4o-mini-transcribe")
        stt_base_url: HttpUrl | None = Field(default=None, description="STT endpoint override.")
        language: str = Field(default="en", description="Language the user speaks.")

        llm: Literal["openai", "vllm", "openai-compatible"] = "openai"
        model: str | None = Field(
            default=None, description=f"Default {LLM_DEFAULT_MODEL} for openai; required else."
        )
        base_url: HttpUrl | None = Field(
            default=None, description="LLM server, e.g. http://gpu-box:8000/v1 (vLLM)."
        )
        api_key: SecretStr | None = Field(
            default=None, description="Key of the vLLM/OpenAI-compatible server, if any.")
        llm_api_key_env: str | None = Field(
            default=None, pattern=_ENV_VAR_NAME,
            description="Name of the variable holding the LLM server's key.",
        )
        temperature: float | None = Field(default=None, ge=0.0, le=2.0)

        tts: Literal["cartesia", "openai"] = "cartesia"
        tts_model: str | None = Field(default=None, description="sonic-3 / gpt-4o-mini-tts")
        voice: str | None = Field(default=None, description="Cartesia voice id / OpenAI voice.")
        tts_base_url: HttpUrl | None = Field(default=None, description="TTS endpoint override.")

        openai_api_key: SecretStr | None = Field(default=None, description="Else OPENAI_API_KEY.")
        deepgram_api_key: SecretStr | None = Field(
            default=None, description="Else DEEPGRAM_API_KEY.")
        cartesia_api_key: SecretStr | None = Field(
            default=None, description="Else CARTESIA_API_KEY.")

        min_silence_duration: float = Field(
            default=0.55, gt=0, le=5, description="Silero: silence that ends a user turn (s)."
        )
        turn_detection: Literal["vad", "stt"] | None = Field(
            default=None, description="AgentSession turn detection; None = LiveKit's default."
        )

        @model_validator(mode="after")
        def _check_llm(self) -> PipelineBrain.Options:
            if self.llm in ("vllm", "openai-compatible"):
                missing = [n for n in ("base_url", "model") if not getattr(self, n)]
                if missing:
                    raise ValueError(
                        f"llm='{self.llm}' needs {' and '.join(missing)} (the server's URL, "
                        "e.g. base_url=http://localhost:8000/v1, and the model it serves, "
                        "e.g. model=meta-llama/Llama-3.1-8B-Instruct)"
                    )
                if self.api_key is not None and self.llm_api_key_env:
                    raise ValueError("set api_key or llm_api_key_env, not both")
            elif self.api_key is not None or self.llm_api_key_env:
                raise ValueError(
                    "api_key/llm_api_key_env are for llm='vllm' or 'openai-compatible'; "
                    "for llm='openai' use openai_api_key or OPENAI_API_KEY"
                )
            return self

    options: Options

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules the chosen providers need (checked by ``avatarkit doctor``)."""
        mods = ["livekit.agents", "livekit.plugins.silero", "livekit.plugins.openai"]
        if options.stt == "deepgram":
            mods.append("livekit.plugins.deepgram")
        if options.tts == "cartesia":
            mods.append("livekit.plugins.cartesia")
        return tuple(mods)

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        """Exactly the variables the chosen providers need, in STT, LLM, TTS order."""
        needed: list[str] = []

        def need(var: str | None) -> None:
            if var and var not in needed:
                needed.append(var)

        openai_key_given = options.openai_api_key is not None
        if options.stt == "deepgram":
            need(None if options.deepgram_api_key is not None else "DEEPGRAM_API_KEY")
        else:
            need(None if openai_key_given else "OPENAI_API_KEY")
        if options.llm == "openai":
            need(None if openai_key_given else "OPENAI_API_KEY")
        else:
            need(options.llm_api_key_env)
        if options.tts == "cartesia":
            need(None if options.cartesia_api_key is not None else "CARTESIA_API_KEY")
        else:
            need(None if openai_key_given else "OPENAI_API_KEY")
        return tuple(needed)

    def prewarm(self) -> None:
        load_vad(self.options.min_silence_duration)

    def build(self) -> BrainParts:
        opts = self.options
        session_options: dict[str, Any] = {}
        if opts.turn_detection:
            session_options["turn_handling"] = {"turn_detection": opts.turn_detection}
        return BrainParts(
            llm=self._build_llm(),
            stt=self._build_stt(),
            tts=self._build_tts(),
            vad=load_vad(opts.min_silence_duration),
            session_options=session_options,
        )

    # -- components ---------------------------------------------------------------------

    def _openai_key(self) -> str | None:
        key = self.options.openai_api_key
        return key.get_secret_value() if key is not None else os.environ.get("OPENAI_API_KEY")

    def _build_stt(self) -> Any:
        opts = self.options
        model = opts.stt_model or STT_DEFAULTS[opts.stt]
        kwargs: dict[str, Any] = {"model": model}
        if opts.stt == "deepgram":
            from livekit.plugins import deepgram

            kwargs["language"] = opts.language
            if opts.deepgram_api_key is not None:
                kwargs["api_key"] = opts.deepgram_api_key.get_secret_value()
            if opts.stt_base_url:
                kwargs["base_url"] = opts.stt_base_url
            return deepgram.STT(**kwargs)
        from livekit.plugins import openai

        kwargs["language"] = opts.language
        if (key := self._openai_key()) is not None:
            kwargs["api_key"] = key
        if opts.stt_base_url:
            kwargs["base_url"] = opts.stt_base_url
        return openai.STT(**kwargs)

    def _build_llm(self) -> Any:
        opts = self.options
        if opts.llm == "openai":
            return openai_compatible_llm(
                model=opts.model or LLM_DEFAULT_MODEL,
                base_url=opts.base_url,
                api_key=self._openai_key(),
                temperature=opts.temperature,
            )
        api_key: str | None = None
        if opts.api_key is not None:
            api_key = opts.api_key.get_secret_value()
        elif opts.llm_api_key_env:
            api_key = os.environ.get(opts.llm_api_key_env)
        assert opts.model is not None  # checked by the options validator
        return openai_compatible_llm(
            model=opts.model, base_url=opts.base_url, api_key=api_key,
            temperature=opts.temperature,
        )

    def _build_tts(self) -> Any:
        opts = self.options
        model = opts.tts_model or TTS_DEFAULTS[opts.tts]
        voice = opts.voice or VOICE_DEFAULTS[opts.tts]
        if opts.tts == "cartesia":
            from livekit.plugins import cartesia

            kwargs: dict[str, Any] = {"model": model, "voice": voice, "language": opts.language}
            if opts.cartesia_api_key is not None:
                kwargs["api_key"] = opts.cartesia_api_key.get_secret_value()
            if opts.tts_base_url:
                kwargs["base_url"] = opts.tts_base_url
            return cartesia.TTS(**kwargs)
        from livekit.plugins import openai

        kwargs = {"model": model, "voice": voice, "response_format": "pcm"}
        if (key := self._openai_key()) is not None:
            kwargs["api_key"] = key
        if opts.tts_base_url:
            kwargs["base_url"] = opts.tts_base_url
        return openai.TTS(**kwargs)


@hookimpl
def register_brains(register: Any) -> None:
    register(PipelineBrain)
