"""The ``realtime`` brain: OpenAI's speech-to-speech Realtime API.

One model listens, thinks and speaks: ``livekit.plugins.openai.realtime.RealtimeModel``.
Turn detection runs on OpenAI's side (semantic server VAD, the plugin's default), so no
local VAD is needed; ``local_vad=true`` adds Silero on the worker, which only makes the
agent notice barge-in a little sooner at the cost of ~1 s model load per process and some CPU.

Instructions: ``instructions`` (option) overrides the configured agent instructions; the
composer asks :meth:`RealtimeBrain.instructions` (or :meth:`instructions_override`).
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from ..brain import Brain, BrainParts
from ..hookspecs import hookimpl
from ..part import HttpUrl, PartOptions

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_VOICE = "marin"


class RealtimeBrain(Brain):
    """OpenAI Realtime (speech in, speech out) through ``livekit-plugins-openai``."""

    name: ClassVar[str] = "realtime"
    summary: ClassVar[str] = "OpenAI Realtime speech-to-speech model (server-side turn detection)."
    env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)

    class Options(PartOptions):

        model: str = Field(default=DEFAULT_MODEL, description="Realtime model name.")
        voice: str = Field(default=DEFAULT_VOICE, description="Output voice, e.g. marin, cedar.")
        temperature: float | None = Field(
            default=None, ge=0.0, le=2.0,
            description="Passed through; the GA Realtime API (v1) ignores it.",
        )
        instructions: str | None = Field(
            default=None, description="Overrides the configured agent instructions."
        )
        api_key: SecretStr | None = Field(default=None, description="Else OPENAI_API_KEY.")
        base_url: HttpUrl | None = Field(
            default=None, description="API base URL (proxy/gateway); else OPENAI_BASE_URL/OpenAI."
        )
        local_vad: bool = Field(
            default=False, description="Also run Silero VAD locally (faster barge-in)."
        )

    options: Options

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        return () if options.api_key is not None else cls.env

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules this brain needs (checked by ``avatarkit doctor``)."""
        mods = ("livekit.agents", "livekit.plugins.openai")
        return (*mods, "livekit.plugins.silero") if options.local_vad else mods

    def instructions_override(self) -> str | None:
        """The ``instructions`` option, or ``None`` to keep the configured instructions."""
        return self.options.instructions

    def instructions(self, default: str) -> str:
        """The agent instructions: the ``instructions`` option when set, else ``default``."""
        override = self.instructions_override()
        return override if override else default

    def prewarm(self) -> None:
        if self.options.local_vad:
            from ..engines.vad import load_vad

            load_vad()

    def build(self) -> BrainParts:
        from livekit.plugins.openai.realtime import RealtimeModel

        opts = self.options
        kwargs: dict[str, Any] = {"model": opts.model, "voice": opts.voice}
        api_key = opts.api_key.get_secret_value() if opts.api_key else os.environ.get(
            "OPENAI_API_KEY")
        if api_key:
            kwargs["api_key"] = api_key
        if opts.base_url:
            kwargs["base_url"] = opts.base_url
        if opts.temperature is not None:
            kwargs["temperature"] = opts.temperature
        vad = None
        if opts.local_vad:
            from ..engines.vad import load_vad

            vad = load_vad()
        return BrainParts(llm=RealtimeModel(**kwargs), vad=vad)


@hookimpl
def register_brains(register: Any) -> None:
    register(RealtimeBrain)
