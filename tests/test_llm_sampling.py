"""What the LLM clients send for sampling, read off the wire by an OpenAI-API stand-in: the
bundled SmolLM2 samples at its model card's settings unless the user says otherwise, with
llama.cpp's DRY sampler against loops; any other model gets its server's defaults (nothing
sent)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from avatarkit.brains.local import LocalBrain
from avatarkit.brains.providers.cloud_llm import VLLM
from avatarkit.brains.providers.local import LlamaCppLLM
from avatarkit.engines.sampling import RECOMMENDED, sampling_for
from standins.openai_api import OpenAIStandin

pytestmark = pytest.mark.standin
KEY = "sk-test"


async def sent(model: Any, oai: OpenAIStandin) -> dict[str, Any]:
    """One chat request through ``model``; the JSON body the server received."""
    from livekit.agents import llm

    ctx = llm.ChatContext()
    ctx.add_message(role="user", content="What is the capital of France?")
    try:
        async with model.chat(chat_ctx=ctx) as stream:
            async for _ in stream:
                pass
    finally:
        await model.aclose()
    body: dict[str, Any] = oai.paths("/v1/chat/completions")[-1].json
    return body


def test_recommended_sampling_is_the_model_card_and_user_values_win() -> None:
    assert sampling_for("smollm2") == (0.2, 0.9, 0.8) == RECOMMENDED["smollm2"]
    assert sampling_for("smollm2", temperature=0.0) == (0.0, 0.9, 0.8)  # 0 is a value
    assert sampling_for("smollm2", top_p=1.0) == (0.2, 1.0, 0.8)
    assert sampling_for("meta-llama/Llama-3.1-8B-Instruct") == (None, None, None)
    assert sampling_for("qwen2.5:7b").extra_body() == {}


@pytest.mark.parametrize(("options", "temperature", "top_p", "dry"), [
    ({}, 0.2, 0.9, 0.8),  # the bundled model: its model card's sampling, DRY against loops
    ({"temperature": 0.7}, 0.7, 0.9, 0.8),
    ({"temperature": 0, "top_p": 0.5}, 0, 0.5, 0.8),
    ({"model": "qwen2.5:7b"}, None, None, None),  # another model: its server decides
])
async def test_standin_local_brain_sends_the_model_s_sampling(
        options: dict[str, Any], temperature: float | None, top_p: float | None,
        dry: float | None) -> None:
    import livekit.plugins.openai  # noqa: F401 - a LiveKit plugin registers on the main thread

    async with OpenAIStandin(api_key=KEY) as oai:
        brain = LocalBrain({"base_url": oai.base_url, "api_key": KEY, **options})
        # build_llm checks the server (blocking, as prewarm does): off the stand-in's loop
        body = await sent(await asyncio.to_thread(brain.build_llm), oai)
    assert body.get("temperature") == temperature and body.get("top_p") == top_p
    assert body.get("dry_multiplier") == dry
    assert body["max_completion_tokens"] == 200
    assert "id_slot" not in body  # a server at base_url is not the bundled one: no slot


async def test_standin_llama_cpp_provider_samples_like_the_local_brain() -> None:
    """The pipeline's ``llama.cpp`` LLM, as a worker's job process builds it (``base_url``
    set to the worker's server): the same model, the same sampling."""
    async with OpenAIStandin(api_key="not-needed") as oai:
        options = LlamaCppLLM.parse_options({"base_url": oai.base_url})
        body = await sent(LlamaCppLLM.create(options), oai)
    assert (body["temperature"], body["top_p"], body["dry_multiplier"]) == (0.2, 0.9, 0.8)


async def test_standin_vllm_top_p_is_passed_on() -> None:
    async with OpenAIStandin(api_key="not-needed") as oai:
        options = VLLM.parse_options({"base_url": oai.base_url, "model": "m", "top_p": 0.8})
        body = await sent(VLLM.create(options), oai)
    assert body["top_p"] == 0.8 and "temperature" not in body and "dry_multiplier" not in body
