"""The one OpenAI-compatible LLM path: OpenAI itself, vLLM, Ollama, llama.cpp's server."""

from __future__ import annotations

from typing import Any


def openai_compatible_llm(
    *,
    model: str,
    base_url: str | None = None,
    api_key: str | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    extra_body: dict[str, Any] | None = None,
) -> Any:
    """A ``livekit.plugins.openai.LLM`` for ``model`` at ``base_url`` (OpenAI when ``None``).

    Self-hosted servers (vLLM, llama.cpp, Ollama) usually ignore the key; a placeholder is
    sent so the OpenAI client does not refuse to start. ``temperature``/``top_p``: ``None``
    sends nothing (the server's default). ``max_tokens`` caps a reply (sent as
    ``max_completion_tokens``, which vLLM and llama.cpp's server honour). ``extra_body``:
    more fields for every request (llama.cpp's ``id_slot``, ``dry_multiplier``).
    """
    from livekit.plugins import openai

    kwargs: dict[str, Any] = {"model": model}
    if base_url:
        kwargs["base_url"] = base_url
        kwargs["api_key"] = api_key or "not-needed"
    elif api_key:
        kwargs["api_key"] = api_key
    if temperature is not None:
        kwargs["temperature"] = temperature
    if top_p is not None:
        kwargs["top_p"] = top_p
    if max_tokens is not None:
        kwargs["max_completion_tokens"] = max_tokens
    if extra_body:
        kwargs["extra_body"] = extra_body
    return openai.LLM(**kwargs)
