"""Cloud text-to-speech: ``cartesia`` (streaming, sonic-3) and ``openai``
(gpt-4o-mini-tts, raw PCM)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr

from ...hookspecs import hookimpl
from ...part import HttpUrl, PartOptions
from ...speech import TTSProvider
from .cloud_stt import openai_key

#: Cartesia's default voice in livekit-plugins-cartesia ("Katie").
CARTESIA_VOICE = "f786b574-daa5-4673-aa0c-cbe3e8534c02"


class CartesiaTTS(TTSProvider):
    """Cartesia's TTS WebSocket (livekit-plugins-cartesia)."""

    name: ClassVar[str] = "cartesia"
    summary: ClassVar[str] = "Cartesia streaming text-to-speech (sonic-3)"
    env: ClassVar[tuple[str, ...]] = ("CARTESIA_API_KEY",)
    modules: ClassVar[tuple[str, ...]] = ("livekit.plugins.cartesia",)

    class Options(PartOptions):
        model: str = Field("sonic-3", description="Cartesia model")
        voice: str = Field(CARTESIA_VOICE, description="Cartesia voice id")
        language: str = Field("en", description="language spoken")
        base_url: HttpUrl | None = Field(None, description="endpoint override")
        api_key: SecretStr | None = Field(None, description="else CARTESIA_API_KEY")

    @classmethod
    def create(cls, options: Any) -> Any:
        from livekit.plugins import cartesia

        kwargs: dict[str, Any] = {"model": options.model, "voice": options.voice,
                                  "language": options.language}
        if options.api_key is not None:
            kwargs["api_key"] = options.api_key.get_secret_value()
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return cartesia.TTS(**kwargs)


class OpenAITTS(TTSProvider):
    """OpenAI's speech endpoint, raw 24 kHz PCM (livekit-plugins-openai)."""

    name: ClassVar[str] = "openai"
    summary: ClassVar[str] = "OpenAI text-to-speech (gpt-4o-mini-tts), raw PCM"
    env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    modules: ClassVar[tuple[str, ...]] = ("livekit.plugins.openai",)

    class Options(PartOptions):
        model: str = Field("gpt-4o-mini-tts", description="speech model")
        voice: str = Field("ash", description="OpenAI voice")
        base_url: HttpUrl | None = Field(None, description="endpoint override")
        api_key: SecretStr | None = Field(None, description="else OPENAI_API_KEY")

    @classmethod
    def create(cls, options: Any) -> Any:
        from livekit.plugins import openai

        kwargs: dict[str, Any] = {"model": options.model, "voice": options.voice,
                                  "response_format": "pcm"}
        if (key := openai_key(options)) is not None:
            kwargs["api_key"] = key
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return openai.TTS(**kwargs)


@hookimpl
def register_tts(register: Any) -> None:
    register(CartesiaTTS)
    register(OpenAITTS)
