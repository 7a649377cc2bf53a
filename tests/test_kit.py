"""avatarkit.testing, the plugin authors' kit, tested by its use: built-in parts pass it
(``none``, ``local``, the ``realtime`` and ``pipeline`` brains against the OpenAI stand-in),
and a deliberately broken plugin is caught, each fault by the rule it breaks."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import pytest

from avatarkit.brains.pipeline import PipelineBrain
from avatarkit.brains.realtime import RealtimeBrain
from avatarkit.faces.none import NoneFace
from avatarkit.testing import (
    ContractError,
    check_brain_answers,
    check_brain_lifecycle,
    check_face_behaviour,
    check_face_fallback,
    check_face_lifecycle,
    check_import_cost,
    check_options,
)
from standins.openai_api import OpenAIStandin

BROKEN = '''
"""A plugin that breaks the contract in every way the kit must catch."""
import asyncio
import numpy  # heavy, at module level
from pydantic import BaseModel
from avatarkit.plugin import Face, PartOptions, hookimpl

LEDGER = {"started": 0, "stopped": 0}

class LeakyFace(Face):
    """Opens a paid session in start() and never stops it."""
    name = "leaky"
    async def start(self, session, transport):
        LEDGER["started"] += 1
    async def aclose(self):
        pass

class LaxFace(Face):
    """Accepts any option; forgets to report its env var."""
    name = "lax"
    env = ("LAX_API_KEY",)
    class Options(BaseModel):
        pass
    @classmethod
    def check_usable(cls, options, environ=None):
        pass
    async def start(self, session, transport):
        pass
    async def aclose(self):
        pass

class SilentFace(Face):
    """Renders into the media sink; swallows its renderer's death (failure() stays None)."""
    name = "silent"
    async def start(self, session, transport):
        self.sink = transport.media_sink()
        session.output.replace_audio_tail(transport.audio_output())
        self.task = asyncio.create_task(self._render())
    async def _render(self):
        from livekit import rtc
        while True:
            try:
                frame = rtc.VideoFrame(64, 64, rtc.VideoBufferType.RGBA, bytes(64 * 64 * 4))
                await self.sink.push_video(frame, 0.0)
            except Exception:
                pass  # swallowed: the composer never learns the face is dead
            await asyncio.sleep(0.04)
    async def aclose(self):
        self.task.cancel()

class ClosesTwiceFace(Face):
    """Its second aclose() raises; its start leaves a task running."""
    name = "closestwice"
    closed = False
    async def start(self, session, transport):
        self.task = asyncio.create_task(asyncio.sleep(3600), name="forgotten")
    async def aclose(self):
        if self.closed:
            raise RuntimeError("already closed")
        self.closed = True

@hookimpl
def register_faces(register):
    for f in (LeakyFace, LaxFace, SilentFace, ClosesTwiceFace):
        register(f)
'''


@pytest.fixture
def broken(plugin_dir: Any, clean_env: None) -> Any:
    plugin_dir("avatarkit-broken-kit", {"ak_broken_kit": BROKEN}, {"brokenkit": "ak_broken_kit"})
    import ak_broken_kit

    return ak_broken_kit


# -- built-in parts pass the kit --------------------------------------------------------------

async def test_kit_none_face(clean_env: None) -> None:
    t0 = time.perf_counter()
    check_options(NoneFace)
    check_import_cost("avatarkit.faces.none")
    await check_face_lifecycle(NoneFace)
    seen = await check_face_behaviour(NoneFace)
    assert seen.video_frames == 0 and seen.audio_frames > 0
    print(f"kit run, face none: {time.perf_counter() - t0:.1f} s")


@pytest.mark.local_extra
async def test_kit_local_face(clean_env: None) -> None:
    from avatarkit.faces.local import LocalFace

    t0 = time.perf_counter()
    check_options(LocalFace)
    check_import_cost("avatarkit.faces.local")
    await check_face_lifecycle(LocalFace)
    seen = await check_face_behaviour(LocalFace)
    assert seen.video_frames > 10 and seen.motion_speaking and seen.motion_speaking >= 4
    assert await check_face_fallback(LocalFace) < 3.0
    print(f"kit run, face local: {time.perf_counter() - t0:.1f} s "
          f"(first frame {seen.first_frame_latency:.2f} s)")


@pytest.mark.standin
async def test_kit_realtime_brain_standin(clean_env: None) -> None:
    t0 = time.perf_counter()
    assert check_options(RealtimeBrain) == ["OPENAI_API_KEY"]
    check_import_cost("avatarkit.brains.realtime")
    async with OpenAIStandin(api_key="sk-test") as oai:
        options = {"api_key": "sk-test", "base_url": oai.base_url}
        await check_brain_lifecycle(lambda: RealtimeBrain(options))
    assert not oai.realtime_events  # building and closing opened no paid session
    print(f"kit run, brain realtime: {time.perf_counter() - t0:.1f} s")


@pytest.mark.standin
async def test_kit_pipeline_brain_answers_standin(clean_env: None) -> None:
    t0 = time.perf_counter()
    check_options(PipelineBrain, {"stt": "openai", "llm": "openai", "tts": "openai"})
    async with OpenAIStandin(api_key="sk-test") as oai:
        options = {"stt": "openai", "llm": "openai", "tts": "openai",
                   "openai_api_key": "sk-test", "stt_base_url": oai.base_url,
                   "base_url": oai.base_url, "tts_base_url": oai.base_url}
        await check_brain_lifecycle(lambda: PipelineBrain(options))
        report = await check_brain_answers(PipelineBrain, options)
    assert report.turns and report.turns[0].heard == "what time is it"
    assert "noon" in report.turns[0].answered
    print(f"kit run, brain pipeline: {time.perf_counter() - t0:.1f} s")


# -- the kit catches a broken plugin ------------------------------------------------------------

def test_kit_catches_a_heavy_import(broken: Any) -> None:
    with pytest.raises(ContractError, match="imports numpy"):
        check_import_cost("ak_broken_kit")


def test_kit_catches_lax_options(broken: Any) -> None:
    with pytest.raises(ContractError, match="accepted an unknown option"):
        check_options(broken.LaxFace)
    broken.LaxFace.Options.model_config["extra"] = "forbid"
    broken.LaxFace.Options.model_rebuild(force=True)
    with pytest.raises(ContractError, match="accepted a missing LAX_API_KEY"):
        check_options(broken.LaxFace)


async def test_kit_catches_a_paid_session_never_stopped(broken: Any) -> None:
    ledger = broken.LEDGER
    with pytest.raises(ContractError, match="1 paid session.* started, 0 stop"):
        await check_face_lifecycle(broken.LeakyFace,
                                   paid=lambda: (ledger["started"], ledger["stopped"]))


async def test_kit_catches_a_failing_second_close(broken: Any) -> None:
    with pytest.raises(ContractError, match=r"close twice\] raised RuntimeError"):
        await check_face_lifecycle(broken.ClosesTwiceFace)
    broken.ClosesTwiceFace.aclose = lambda self: _noop()
    with pytest.raises(ContractError, match="task.*still running after close: forgotten"):
        await check_face_lifecycle(broken.ClosesTwiceFace, settle=0.2)


async def _noop() -> None:
    return None


async def test_kit_catches_a_swallowed_failure(broken: Any) -> None:
    with pytest.raises(ContractError, match=r"failure\(\) still returned None"):
        await check_face_fallback(broken.SilentFace, within=1.0)


def test_kit_is_a_pytest_plugin(tmp_path: Any) -> None:
    test = tmp_path / "test_uses_fixture.py"
    test.write_text("def test_wav(avatarkit_speech_wav):\n"
                    "    assert avatarkit_speech_wav.read_bytes()[:4] == b'RIFF'\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(test)], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
