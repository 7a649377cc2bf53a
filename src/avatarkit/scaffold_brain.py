'''The brain module ``avatarkit plugin new --kind brain`` writes (``{name}``, ``{module}``,
``{cls}``, ``{summary}`` are filled in), and the package files both kinds share.'''

BRAIN_MODULE = '''"""{name}: an avatarkit brain over any OpenAI-compatible server (made by
`avatarkit plugin new`): speech-to-text, the LLM and text-to-speech at `base_url` (vLLM,
Ollama, LocalAI, a cloud API...). Silero VAD finds the end of the user's turn.

Only the public API is used (`avatarkit.plugin`); LiveKit is imported in `build()`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, SecretStr

from avatarkit.plugin import Brain, BrainParts, HttpUrl, PartOptions, hookimpl


class {cls}(Brain):
    """{summary}"""

    name: ClassVar[str] = "{name}"
    summary: ClassVar[str] = (
        "{summary}"
    )
    env: ClassVar[tuple[str, ...]] = ("{env}",)
    requires: ClassVar[tuple[str, ...]] = (
        "livekit.agents", "livekit.plugins.openai", "livekit.plugins.silero")

    class Options(PartOptions):
        base_url: HttpUrl = Field("http://127.0.0.1:8000/v1",
                                  description="The OpenAI-compatible server.")
        api_key: SecretStr | None = Field(None, description="Its key (else ${env}).")
        model: str = Field("gpt-4.1-mini", description="LLM model name.")
        stt_model: str = Field("whisper-1", description="Speech-to-text model name.")
        tts_model: str = Field("tts-1", description="Text-to-speech model name.")
        voice: str = Field("alloy", description="Text-to-speech voice.")

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        return () if options.api_key is not None else cls.env

    def build(self) -> BrainParts:
        import os

        from livekit.plugins import openai, silero

        o = self.options
        key = o.api_key.get_secret_value() if o.api_key else os.environ["{env}"]
        return BrainParts(
            llm=openai.LLM(model=o.model, base_url=o.base_url, api_key=key),
            stt=openai.STT(model=o.stt_model, base_url=o.base_url, api_key=key),
            tts=openai.TTS(model=o.tts_model, voice=o.voice, base_url=o.base_url,
                           api_key=key),
            vad=silero.VAD.load(),
        )


@hookimpl
def register_brains(register: Any) -> None:
    register({cls})
'''

BRAIN_TESTS = '''"""The avatarkit contract, checked by avatarkit.testing (offline)."""

from __future__ import annotations

from avatarkit.testing import check_brain_lifecycle, check_import_cost, check_options
from {module} import {cls}


def test_options() -> None:
    assert check_options({cls}) == ["{env}"]


def test_import_cost() -> None:
    check_import_cost("{module}")


async def test_lifecycle(avatarkit_kit_env) -> None:
    await check_brain_lifecycle(lambda: {cls}({{"api_key": "sk-test"}}))

# With a server (or a stand-in of one) at hand, also check a spoken question is answered:
#     await avatarkit.testing.check_brain_answers({cls}, {{"base_url": ..., "api_key": ...}})
'''

PYPROJECT = '''[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "{summary}"
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["avatarkit>=0.1,<1"{deps}]

[project.optional-dependencies]
test = ["pytest>=8", "pytest-asyncio>=0.24"]

# avatarkit finds the {kind} through this entry point: `avatarkit plugins` lists it
[project.entry-points.avatarkit]
{name} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]

[tool.pytest.ini_options]
asyncio_mode = "auto"
'''

README = '''# {dist}

{summary}

An [avatarkit](https://github.com/avatarkit/avatarkit) {kind} plugin, made with
`avatarkit plugin new {name} --kind {kind}`.

```bash
pip install -e '.[test]'
avatarkit plugins            # lists {kind} '{name}'
avatarkit demo --{kind} {name}
pytest                       # avatarkit's contract checks (avatarkit.testing)
```

Edit `{module}.py`; keep heavy imports (livekit, numpy, your model) inside functions, and
keep the tests in `tests/` passing: they are the contract avatarkit relies on.
'''
