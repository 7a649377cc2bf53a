"""SIGTERM drains a production worker (``avatarkit run``, no ``--dev``): the running
conversation goes on until its user leaves, then the worker exits 0 at once.

Real ``avatarkit run`` (realtime brain against the OpenAI stand-in, the local face) in a real
LiveKit room. It exercises ``lk_private.drain_server``: livekit-agents 1.8.9's own
``drain()`` could spin forever once a job ended during the drain.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from livekit_server import LiveKitServer
from room_user import RoomUser
from room_worker import LOCAL_FACE_OPTS, WorkerProcess, wait_until
from standins.openai_api import OpenAIStandin

pytestmark = [pytest.mark.room]
AGENT = "drain-agent"


async def test_sigterm_lets_the_running_session_finish_then_exits(
        livekit_server: LiveKitServer, tmp_path: Path) -> None:
    face_opts = [a for opt in LOCAL_FACE_OPTS for a in ("--face-opt", opt)]
    async with OpenAIStandin(api_key="sk-rt") as oai:
        worker = WorkerProcess(
            livekit_server, ["--brain", "realtime", "--brain-opt", f"base_url={oai.base_url}",
                             "--brain-opt", "api_key=sk-rt", "--face", "local", *face_opts],
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
