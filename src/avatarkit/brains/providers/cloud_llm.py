"""LLM providers: ``openai``, and ``vllm`` / ``openai-compatible`` (Ollama, llama.cpp's
server, LM Studio, gateways) which need ``base_url`` and ``model``; their key (if any) comes
from ``api_key`` or the variable named by ``api_key_env``."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from pydantic import Field, SecretStr, model_validator

from ...hookspecs import hookimpl
from ...part import HttpUrl, PartOptions
from ...speech import LLMProvider
from .cloud_stt import openai_key

ENV_VAR_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class OpenAILLM(LLMProvider):
    """OpenAI's chat completions (livekit-plugins-openai)."""

    name: ClassVar[str] = "openai"
    summary: ClassVar[str] = "OpenAI chat completions (gpt-4.1-mini)"
    env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    modules: ClassVar[tuple[str, ...]] = ("livekit.plugins.openai",)

    class Options(PartOptions):
        model: str = Field("gpt-4.1-mini", description="chat model")
        base_url: HttpUrl | None = Field(None, description="endpoint override")
        api_key: SecretStr | None = Field(None, description="else OPENAI_API_KEY")
        temperature: float | None = Field(None, ge=0.0, le=2.0)
        top_p: float | None = Field(None, gt=0.0, le=1.0)

    @classmethod
    def create(cls, options: Any) -> Any:
        from ..openai_compat import openai_compatible_llm

        return openai_compatible_llm(model=options.model, base_url=options.base_url,
                                     api_key=openai_key(options),
                                     temperature=options.temperature, top_p=options.top_p)


class _ServerOptions(PartOptions):
    base_url: HttpUrl | None = Field(
        None, description="the server, e.g. http://gpu-box:8000/v1 (required)")
    model: str | None = Field(None, description="the model it serves (required)")
    api_key: SecretStr | None = Field(None, description="the server's key, if any")
    api_key_env: str | None = Field(None, pattern=ENV_VAR_NAME,
                                    description="name of the variable holding its key")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1, description="cap on a reply's length")

    @model_validator(mode="after")
    def _check(self) -> _ServerOptions:
        missing = [n for n in ("base_url", "model") if not getattr(self, n)]
        if missing:
            raise ValueError(
                f"llm='{self.provider}' needs {' and '.join(missing)} (the server's URL, "
                "e.g. base_url=http://localhost:8000/v1, and the model it serves, "
                "e.g. model=meta-llama/Llama-3.1-8B-Instruct)")
        if self.api_key is not None and self.api_key_env:
            raise ValueError("set api_key or api_key_env, not both")
        return self

    provider: ClassVar[str] = "vllm"


class VLLM(LLMProvider):
    """A vLLM server's OpenAI-compatible API."""

    name: ClassVar[str] = "vllm"
    summary: ClassVar[str] = "a vLLM server (OpenAI-compatible API; base_url and model)"
    modules: ClassVar[tuple[str, ...]] = ("livekit.plugins.openai",)

    class Options(_ServerOptions):
        provider: ClassVar[str] = "vllm"

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        return (options.api_key_env,) if options.api_key_env else ()

    @classmethod
    def create(cls, options: Any) -> Any:
        from ..openai_compat import openai_compatible_llm

        api_key: str | None = None
        if options.api_key is not None:
            api_key = options.api_key.get_secret_value()
        elif options.api_key_env:
            api_key = os.environ.get(options.api_key_env)
        return openai_compatible_llm(model=options.model, base_url=options.base_url,
                                     api_key=api_key, temperature=options.temperature,
                                     top_p=options.top_p, max_tokens=options.max_tokens)


class OpenAICompatibleLLM(VLLM):
    """Any OpenAI-compatible chat server (Ollama, llama.cpp's server, LM Studio...)."""

    name: ClassVar[str] = "openai-compatible"
    summary: ClassVar[str] = ("any OpenAI-compatible server: Ollama, llama.cpp, LM Studio, "
                              "gateways (base_url and model)")

    class Options(_ServerOptions):
        provider: ClassVar[str] = "openai-compatible"


@hookimpl
def register_llm(register: Any) -> None:
    register(OpenAILLM)
    register(VLLM)
    register(OpenAICompatibleLLM)
