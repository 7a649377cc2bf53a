"""A signal drains a production worker (``avatarkit run``, no ``--dev``): the running
conversation goes on until its user leaves, then the worker exits 0 at once.

Real ``avatarkit run`` workers in a real LiveKit room. SIGTERM (realtime brain against the
OpenAI stand-in): it exercises ``lk_private.drain_server``, as livekit-agents 1.8.9's own
``drain()`` could spin forever once a job ended during the drain. Ctrl-C in a terminal (the
local brain): the terminal signals the worker's whole process group, and the llama.cpp
server the worker started must go on answering the running conversation.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from livekit_server import LiveKitServer
from local_helpers import words
from room_user import RoomUser, load_wav_16k
from room_worker import LOCAL_FACE_ARGS, WorkerProcess, wait_until
from standins.openai_api import OpenAIStandin

pytestmark = [pytest.mark.room]
AGENT = "drain-agent"
LOCAL_AGENT = "drain-local-agent"


async def test_sigterm_lets_the_running_session_finish_then_exits(
        livekit_server: LiveKitServer, tmp_path: Path) -> None:
    async with OpenAIStandin(api_key="sk-rt") as oai:
        worker = WorkerProcess(
            livekit_server, ["--brain", "realtime", "--brain-opt", f"base_url={oai.base_url}",
                             "--brain-opt", "api_key=sk-rt", "--face", "local", *LOCAL_FACE_ARGS],
            tmp_path / "worker.log", env={"AVATARKIT_AGENT_NAME": AGENT})
        await worker.started()
        user = RoomUser(livekit_server, "drain-room", agent_name=AGENT)
        try:
            await user.join()
            await user.wait_for_media(120)
            worker.send_signal(signal.SIGTERM)
            await wait_until(lambda: "waiting for 1 running session(s) to end"
                             in worker.output(), 30, "the drain")
            await asyncio.sleep(3.0)
            # draining: the conversation goes on, the worker waits for it
            assert worker.proc is not None and worker.proc.poll() is None, worker.output()[-3000:]
            frames = user.got(user.agents()[0].identity).video_frames
            await asyncio.sleep(1.0)
            assert user.got(user.agents()[0].identity).video_frames > frames + 5
            left = time.monotonic()
            await user.leave()
            code = await worker.exited(60)
            took = time.monotonic() - left
        finally:
            await user.leave()
            await worker.stopped()
    assert code == 0, worker.output()[-3000:]
    assert took < 30, f"the worker took {took:.1f} s to exit after the last session ended"
    assert "Traceback" not in worker.output(), worker.output()[-3000:]


@pytest.mark.e2e
@pytest.mark.local_extra
async def test_ctrl_c_drain_keeps_the_local_llm_serving_the_running_session(
        livekit_server: LiveKitServer, tmp_path: Path) -> None:
    import psutil

    worker = WorkerProcess(livekit_server,
                           ["--brain", "local", "--face", "local", *LOCAL_FACE_ARGS],
                           tmp_path / "worker.log", env={"AVATARKIT_AGENT_NAME": LOCAL_AGENT})
    await worker.started()
    llama = [p for p in psutil.Process(worker.pid).children(recursive=True)
             if p.name() == "llama-server"]
    assert len(llama) == 1, worker.output()[-3000:]
    user = RoomUser(livekit_server, "drain-local-room", agent_name=LOCAL_AGENT)
    try:
        await user.join()
        await user.wait_for_media(240)
        os.killpg(worker.pid, signal.SIGINT)  # what Ctrl-C in the worker's terminal sends
        await wait_until(lambda: "waiting for 1 running session(s) to end"
                         in worker.output(), 30, "the drain")
        speech_end = await user.say(load_wav_16k())  # "What is the capital of France?"
        await wait_until(lambda: len(user.agent_text(speech_end).split()) >= 2, 120,
                         "an answer during the drain")
        assert llama[0].is_running(), "llama-server died with the terminal's Ctrl-C"
        assert words(user.user_text()) & {"capital", "france"}, user.transcripts
        await user.leave()
        code = await worker.exited(60)
    finally:
        await user.leave()
        await worker.stopped()
    assert code == 0, worker.output()[-3000:]
    assert "Traceback" not in worker.output(), worker.output()[-3000:]
    await wait_until(lambda: not llama[0].is_running(), 10, "llama-server to stop with the worker")
