"""How long avatarkit.testing takes on a face and a brain, and what a scaffolded plugin
module costs to import. Baselines in the same run: the audio-only face ``none`` (the
cheapest face) and ``import pydantic`` (what every plugin module imports anyway).

    HF_HUB_OFFLINE=1 python benchmarks/kit_runtime.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path


async def face_kit(cls: type) -> float:
    from avatarkit.testing import (
        check_face_behaviour,
        check_face_fallback,
        check_face_lifecycle,
        check_options,
    )

    t0 = time.perf_counter()
    check_options(cls)
    await check_face_lifecycle(cls)
    seen = await check_face_behaviour(cls)
    if seen.video_frames:
        await check_face_fallback(cls)
    return time.perf_counter() - t0


async def brain_kit() -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from avatarkit.brains.pipeline import PipelineBrain
    from avatarkit.testing import check_brain_answers, check_brain_lifecycle, check_options
    from standins.openai_api import OpenAIStandin

    t0 = time.perf_counter()
    check_options(PipelineBrain, {"stt": "openai", "llm": "openai", "tts": "openai"})
    async with OpenAIStandin(api_key="sk-test") as oai:
        opts = {"stt": "openai", "llm": "openai", "tts": "openai", "openai_api_key": "sk-test",
                "stt_base_url": oai.base_url, "base_url": oai.base_url,
                "tts_base_url": oai.base_url}
        await check_brain_lifecycle(lambda: PipelineBrain(opts))
        await check_brain_answers(PipelineBrain, opts)
    return time.perf_counter() - t0


def main() -> None:
    from avatarkit.faces.local import LocalFace
    from avatarkit.faces.none import NoneFace
    from avatarkit.scaffold import scaffold
    from avatarkit.testing.imports import measure_import

    base = asyncio.run(face_kit(NoneFace))
    local = asyncio.run(face_kit(LocalFace))
    brain = asyncio.run(brain_kit())
    print(f"kit, face none (baseline):   {base:5.1f} s")
    print(f"kit, face local:             {local:5.1f} s  ({local / base:.1f}x none)")
    print(f"kit, brain pipeline:         {brain:5.1f} s  ({brain / base:.1f}x none)")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("face", "brain"):
            scaffold(f"bench-{kind}", kind, Path(tmp) / kind)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(Path(tmp) / "face"), str(Path(tmp) / "brain")])
        pyd = measure_import("pydantic", repeat=5).seconds
        for kind in ("face", "brain"):
            cost = measure_import(f"avatarkit_bench_{kind}", repeat=5)
            print(f"import scaffolded {kind}:      {cost.seconds * 1000:5.0f} ms "
                  f"({cost.seconds / pyd:.1f}x import pydantic, {pyd * 1000:.0f} ms); "
                  f"heavy modules: {', '.join(cost.heavy) or 'none'}")


if __name__ == "__main__":
    main()
