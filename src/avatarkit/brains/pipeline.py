"""The ``pipeline`` brain: any registered STT -> LLM -> TTS, with Silero VAD.

The providers are plugins (:mod:`avatarkit.speech`), picked by name: ``stt`` (deepgram,
openai, whisper...), ``llm`` (openai, vllm, openai-compatible, llama.cpp...) and ``tts``
(cartesia, openai, elevenlabs, piper, espeak...). Each provider's own options go in
``stt_options`` / ``llm_options`` / ``tts_options`` (``--brain-opt tts_options.voice_id=...``
or a ``[brain.options.pipeline.tts_options]`` table); the short forms of the first release
(``model``, ``base_url``, ``voice``, ``openai_api_key``...) still work and fill those in.

Names and options are checked when the options are validated, credentials by
:meth:`PipelineBrain.check_usable`: all before anything connects. Silero VAD is loaded once
per process (:func:`load_vad`, called by ``prewarm``) and shared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, PrivateAttr, SecretStr, model_validator

from ..brain import Brain, BrainParts
from ..engines.vad import load_vad
from ..errors import ConfigError, MissingCredentialsError
from ..hookspecs import hookimpl
from ..part import HttpUrl, PartOptions
from ..speech import KINDS, lookup

#: Short forms: pipeline option -> (kind, the provider option(s) it fills, first that exists).
SHORTHANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "stt_model": ("stt", ("model",)), "stt_base_url": ("stt", ("base_url",)),
    "model": ("llm", ("model",)), "base_url": ("llm", ("base_url",)),
    "api_key": ("llm", ("api_key",)), "llm_api_key_env": ("llm", ("api_key_env",)),
    "temperature": ("llm", ("temperature",)), "top_p": ("llm", ("top_p",)),
    "tts_model": ("tts", ("model",)), "voice": ("tts", ("voice", "voice_id")),
    "tts_base_url": ("tts", ("base_url",)),
}
#: ``<provider>_api_key`` short forms: the key of every chosen provider of that name.
PROVIDER_KEYS = ("openai", "deepgram", "cartesia", "elevenlabs")


class PipelineOptions(PartOptions):
    """Options of the ``pipeline`` brain."""

    stt: str = Field("deepgram", description="STT provider (see `avatarkit plugins`)")
    llm: str = Field("openai", description="LLM provider")
    tts: str = Field("cartesia", description="TTS provider")
    stt_options: dict[str, Any] = Field(default_factory=dict, description="STT's options")
    llm_options: dict[str, Any] = Field(default_factory=dict, description="LLM's options")
    tts_options: dict[str, Any] = Field(default_factory=dict, description="TTS's options")
    language: str = Field(default="en", description="Language the user speaks.")

    stt_model: str | None = Field(default=None, description="= stt_options.model")
    stt_base_url: HttpUrl | None = Field(default=None, description="= stt_options.base_url")
    model: str | None = Field(default=None, description="= llm_options.model")
    base_url: HttpUrl | None = Field(default=None, description="= llm_options.base_url")
    api_key: SecretStr | None = Field(default=None, description="= llm_options.api_key")
    llm_api_key_env: str | None = Field(default=None, description="= llm_options.api_key_env")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="= llm_options.top_p")
    tts_model: str | None = Field(default=None, description="= tts_options.model")
    voice: str | None = Field(default=None, description="= tts_options.voice (or voice_id)")
    tts_base_url: HttpUrl | None = Field(default=None, description="= tts_options.base_url")
    openai_api_key: SecretStr | None = Field(default=None, description="Else OPENAI_API_KEY.")
    deepgram_api_key: SecretStr | None = Field(
        default=None, description="Else DEEPGRAM_API_KEY.")
    cartesia_api_key: SecretStr | None = Field(
        default=None, description="Else CARTESIA_API_KEY.")
    elevenlabs_api_key: SecretStr | None = Field(
        default=None, description="Else ELEVEN_API_KEY.")

    min_silence_duration: float = Field(
        default=0.55, gt=0, le=5, description="Silero: silence that ends a user turn (s)."
    )
    turn_detection: Literal["vad", "stt"] | None = Field(
        default=None, description="AgentSession turn detection; None = LiveKit's default."
    )

    _resolved: dict[str, tuple[Any, Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _fold_dotted(cls, data: Any) -> Any:
        """``tts_options.voice_id=X`` (a ``--brain-opt``) -> ``tts_options: {voice_id: X}``."""
        if not isinstance(data, Mapping):
            return data
        out: dict[str, Any] = {}
        for key, value in data.items():
            head, dot, rest = str(key).partition(".")
            if dot and head in (f"{kind}_options" for kind in KINDS):
                table = dict(out.get(head) or {})
                table[rest] = value
                out[head] = table
            elif key in out and isinstance(out[key], dict) and isinstance(value, Mapping):
                out[key] = {**dict(value), **out[key]}
            else:
                out[key] = value
        return out

    @model_validator(mode="after")
    def _resolve(self) -> PipelineOptions:
        """Each provider by name, and its options validated by its own model."""
        self._resolved = {kind: self._provider(kind) for kind in KINDS}
        return self

    def _provider(self, kind: str) -> tuple[Any, Any]:
        cls = lookup(kind, getattr(self, kind))
        fields = cls.Options.model_fields
        raw: dict[str, Any] = {}
        if "language" in fields and (kind == "stt" or "language" in self.model_fields_set):
            raw["language"] = self.language
        for option, (target, names) in SHORTHANDS.items():
            value = getattr(self, option)
            if target != kind or value is None:
                continue
            name = next((n for n in names if n in fields), None)
            if name is None:
                raise ConfigError(
                    f"option '{option}' of brain 'pipeline' does not apply to {kind} "
                    f"'{cls.name}'", hint=f"the options of {kind} '{cls.name}' are: "
                    f"{', '.join(fields) or 'none'} (set them as {kind}_options.KEY=VALUE)")
            raw[name] = value.get_secret_value() if isinstance(value, SecretStr) else value
        key = getattr(self, f"{cls.name}_api_key", None) if cls.name in PROVIDER_KEYS else None
        if key is not None and "api_key" in fields:
            raw["api_key"] = key.get_secret_value()
        raw.update(getattr(self, f"{kind}_options"))
        return cls, cls.parse_options(raw)

    def provider(self, kind: str) -> tuple[Any, Any]:
        """``(provider class, its validated options)`` for ``kind`` (stt, llm, tts)."""
        if kind not in self._resolved:
            self._resolved[kind] = self._provider(kind)
        return self._resolved[kind]


class PipelineBrain(Brain):
    """Any registered STT + LLM + TTS, with Silero VAD."""

    name: ClassVar[str] = "pipeline"
    summary: ClassVar[str] = (
        "any STT x LLM x TTS by name: deepgram/openai/whisper -> openai/vllm/"
        "openai-compatible/llama.cpp -> cartesia/openai/elevenlabs/piper; Silero VAD"
    )
    env: ClassVar[tuple[str, ...]] = ("DEEPGRAM_API_KEY", "OPENAI_API_KEY", "CARTESIA_API_KEY")
    Options = PipelineOptions

    options: PipelineOptions

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules the chosen providers need (checked by ``avatarkit doctor``)."""
        mods = ["livekit.agents", "livekit.plugins.silero"]
        for kind in KINDS:
            mods += [m for m in options.provider(kind)[0].modules if m not in mods]
        return tuple(mods)

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        """Exactly the variables the chosen providers need, in STT, LLM, TTS order."""
        needed: list[str] = []
        for kind in KINDS:
            provider, opts = options.provider(kind)
            needed += [v for v in provider.required_env(opts) if v not in needed]
        return tuple(needed)

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """Each provider's credentials and local requirements; the first missing one is
        named with the provider that needs it."""
        for kind in KINDS:
            provider, opts = options.provider(kind)
            try:
                provider.check_usable(opts, environ)
            except MissingCredentialsError as exc:
                raise MissingCredentialsError(
                    f"brain 'pipeline': {exc.message}", hint=exc.hint) from None

    def prewarm(self) -> None:
        load_vad(self.options.min_silence_duration)
        for kind in KINDS:
            provider, opts = self.options.provider(kind)
            provider.prewarm(opts)

    def prepare_worker(self) -> PipelineOptions | None:
        """Let each provider start what job processes share (the llama.cpp server)."""
        updates = {}
        for kind in KINDS:
            provider, opts = self.options.provider(kind)
            new = provider.prepare_worker(opts)
            if new is not None:
                updates[kind] = (provider, new)
        if not updates:
            return None
        copy = self.options.model_copy()
        copy._resolved = {**self.options._resolved, **updates}
        return copy

    def build(self) -> BrainParts:
        opts = self.options
        session_options: dict[str, Any] = {}
        if opts.turn_detection:
            session_options["turn_handling"] = {"turn_detection": opts.turn_detection}
        made = {}
        for kind in KINDS:
            provider, provider_opts = opts.provider(kind)
            made[kind] = provider.create(provider_opts)
        return BrainParts(
            llm=made["llm"], stt=made["stt"], tts=made["tts"],
            vad=load_vad(opts.min_silence_duration), session_options=session_options,
        )


@hookimpl
def register_brains(register: Any) -> None:
    register(PipelineBrain)
