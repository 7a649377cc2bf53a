"""Cloud speech-to-text: ``deepgram`` (streaming, nova-3) and ``openai``
(gpt-4o-mini-transcribe; batch, cut into turns by the VAD)."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import Field, SecretStr

from ...hookspecs import hookimpl
from ...part import HttpUrl, PartOptions
from ...speech import STTProvider


class DeepgramSTT(STTProvider):
    """Deepgram's streaming WebSocket API (livekit-plugins-deepgram)."""

    name: ClassVar[str] = "deepgram"
    summary: ClassVar[str] = "Deepgram streaming speech-to-text (nova-3)"
    env: ClassVar[tuple[str, ...]] = ("DEEPGRAM_API_KEY",)
    modules: ClassVar[tuple[str, ...]] = ("livekit.plugins.deepgram",)

    class Options(PartOptions):
        model: str = Field("nova-3", description="Deepgram model")
        language: str = Field("en", description="language the user speaks")
        base_url: HttpUrl | None = Field(None, description="endpoint override")
        api_key: SecretStr | None = Field(None, description="else DEEPGRAM_API_KEY")

    @classmethod
    def create(cls, options: Any) -> Any:
        from livekit.plugins import deepgram

        kwargs: dict[str, Any] = {"model": options.model, "language": options.language}
        if options.api_key is not None:
            kwargs["api_key"] = options.api_key.get_secret_value()
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return deepgram.STT(**kwargs)


def openai_key(options: Any) -> str | None:
    """The ``api_key`` option, else ``OPENAI_API_KEY``."""
    key = options.api_key
    return key.get_secret_value() if key is not None else os.environ.get("OPENAI_API_KEY")


class OpenAISTT(STTProvider):
    """OpenAI's transcription endpoint (livekit-plugins-openai)."""

    name: ClassVar[str] = "openai"
    summary: ClassVar[str] = "OpenAI transcription (gpt-4o-mini-transcribe), per VAD turn"
    env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    modules: ClassVar[tuple[str, ...]] = ("livekit.plugins.openai",)

    class Options(PartOptions):
        model: str = Field("gpt-4o-mini-transcribe", description="transcription model")
        language: str = Field("en", description="language the user speaks")
        base_url: HttpUrl | None = Field(None, description="endpoint override")
        api_key: SecretStr | None = Field(None, description="else OPENAI_API_KEY")

    @classmethod
    def create(cls, options: Any) -> Any:
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {"model": options.model, "language": options.language}
        if (key := openai_key(options)) is not None:
            kwargs["api_key"] = key
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return openai.STT(**kwargs)


@hookimpl
def register_stt(register: Any) -> None:
    register(DeepgramSTT)
    register(OpenAISTT)
