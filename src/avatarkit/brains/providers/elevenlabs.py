"""``elevenlabs`` text-to-speech (livekit-plugins-elevenlabs, the ``elevenlabs`` extra).

Streaming goes over ElevenLabs' multi-stream-input WebSocket
(``/v1/text-to-speech/{voice_id}/multi-stream-input``); the audio is raw PCM by default
(``encoding=pcm_24000``), so nothing has to decode MP3.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from ...errors import PartUnavailableError
from ...hookspecs import hookimpl
from ...part import HttpUrl, PartOptions
from ...speech import TTSProvider

#: livekit-plugins-elevenlabs' default voice.
DEFAULT_VOICE = "hpp4J3VqNfWAUOO0d1Us"
Encoding = Literal["pcm_16000", "pcm_22050", "pcm_24000", "pcm_44100", "mp3_22050_32",
                   "mp3_44100_128"]


class ElevenLabsTTS(TTSProvider):
    """ElevenLabs streaming text-to-speech."""

    name: ClassVar[str] = "elevenlabs"
    summary: ClassVar[str] = "ElevenLabs streaming text-to-speech (eleven_turbo_v2_5)"
    env: ClassVar[tuple[str, ...]] = ("ELEVEN_API_KEY",)
    modules: ClassVar[tuple[str, ...]] = ("livekit.plugins.elevenlabs",)
    install: ClassVar[str] = "pip install 'avatarkit[elevenlabs]'"

    class Options(PartOptions):
        voice_id: str = Field(DEFAULT_VOICE, description="ElevenLabs voice id")
        model: str = Field("eleven_turbo_v2_5", description="ElevenLabs model")
        language: str | None = Field(None, description="language code to enforce, e.g. en")
        encoding: Encoding = Field("pcm_24000", description="audio format streamed back")
        base_url: HttpUrl | None = Field(
            None, description="API base, default https://api.elevenlabs.io/v1")
        api_key: SecretStr | None = Field(None, description="else ELEVEN_API_KEY")

    @classmethod
    def create(cls, options: Any) -> Any:
        try:
            from livekit.plugins import elevenlabs
        except ImportError:
            raise PartUnavailableError(
                "tts 'elevenlabs' needs livekit-plugins-elevenlabs, which is not installed",
                hint="pip install 'avatarkit[elevenlabs]'") from None
        kwargs: dict[str, Any] = {"voice_id": options.voice_id, "model": options.model,
                                  "encoding": options.encoding}
        if options.language:
            kwargs["language"] = options.language
        if options.api_key is not None:
            kwargs["api_key"] = options.api_key.get_secret_value()
        if options.base_url:
            kwargs["base_url"] = options.base_url
        return elevenlabs.TTS(**kwargs)


@hookimpl
def register_tts(register: Any) -> None:
    register(ElevenLabsTTS)
