"""examples/own-agent/support_agent.py as its author runs it (``python support_agent.py``),
in a real LiveKit room: the user's own ``AgentServer``, ``AgentSession`` and ``Agent`` with
``avatarkit.attach`` giving the session the local face.

A test user joins, asks about an order; the OpenAI stand-in (STT, chat with function calls,
TTS; ``OPENAI_BASE_URL``) has the model call ``set_emotion`` and the user's ``lookup_order``.
The order's status comes back in the agent's transcript and audio, with the avatar's video;
when the worker stops mid-session, the job's shutdown closes the face.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from livekit_server import LiveKitServer
from room_user import RoomUser, load_wav_16k
from room_worker import LOCAL_FACE_ARGS, QUIET_ENV, WorkerProcess, wait_until
from standins.openai_api import OpenAIStandin
from test_own_agent_example import EXAMPLE

pytestmark = [pytest.mark.room, pytest.mark.standin, pytest.mark.local_extra]
sys.path.insert(0, str(EXAMPLE))
from support_agent import ORDERS  # noqa: E402


class ExampleWorker(WorkerProcess):
    """``python support_agent.py --dev``: the example's own worker, not ``avatarkit run``."""

    def launch(self) -> ExampleWorker:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LIVEKIT_", "AVATARKIT_", "OPENAI_"))}
        env.update(QUIET_ENV)
        env.update(self.server.env())
        env.update(self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(EXAMPLE / "support_agent.py"), "--dev"], env=env,
                cwd=EXAMPLE, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        return self

    def registered(self) -> bool:
        if "registered worker" in self.output():
            return True
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"the example exited with {self.proc.returncode}:\n"
                               f"{self.output()[-4000:]}")
        return False


async def test_standin_attach_example_in_a_real_room(livekit_server: LiveKitServer,
                                                     tmp_path) -> None:
    agent_name = "own-agent-" + uuid.uuid4().hex[:6]
    async with OpenAIStandin(
            api_key="sk-room", transcript="where is my order B7",
            tool_calls=[("set_emotion", {"emotion": "concerned"}),
                        ("lookup_order", {"order_id": "B7"})],
            reply="Sorry: your order is {lookup_order}.", speech_seconds=1.0) as oai:
        worker = ExampleWorker(livekit_server, [], tmp_path / "example.log", env={
            "AGENT_NAME": agent_name, "OPENAI_API_KEY": "sk-room",
            "OPENAI_BASE_URL": oai.base_url})
        await worker.started(registered_within=120)
        user = RoomUser(livekit_server, "own-agent-room", agent_name=agent_name)
        try:
            await user.join()
            agent = await user.wait_for_agent(120)
            await user.wait_for_media(60)  # the local face's video and audio
            speech_end = await user.say(load_wav_16k())
            await wait_until(lambda: "warehouse" in user.agent_text(speech_end), 120,
                             "the answer with the order's status", interval=0.2)
            loud_at = user.loud_since(speech_end)
            # the worker stops mid-session: the job shuts down and closes the avatar
            code = await worker.stopped()
        finally:
            await user.leave()
            await worker.stopped(signal.SIGKILL, timeout=10)
    out = worker.output()
    assert "Traceback" not in out, out[-4000:]
    assert code == 0, out[-3000:]
    assert "avatar attached: face 'local'" in out
    assert "avatar closed (face 'local')" in out, out[-3000:]
    # the user's function tool ran in the worker, and the face took the emotion
    assert oai.tool_outputs["lookup_order"] == ORDERS["B7"]
    assert oai.tool_outputs["set_emotion"] == "Your face now shows: concerned."
    tools = {t["function"]["name"] for t in oai.paths("/v1/chat/completions")[0].json["tools"]}
    assert tools == {"lookup_order", "set_emotion", "set_background"}
    assert ORDERS["B7"] in user.agent_text(speech_end)
    assert loud_at is not None, "no agent audio after the question"
    assert user.got(agent.identity).video_frames > 10  # the avatar's video


async def test_standin_avatarkit_run_with_the_users_agent_in_a_real_room(
        livekit_server: LiveKitServer, tmp_path) -> None:
    """The same agent through ``avatarkit run`` in the example's directory (its
    avatarkit.toml says ``agent = "support_agent:Support"``): the job processes import the
    user's module from the working directory, as ``python -m`` would."""
    agent_name = "run-own-agent-" + uuid.uuid4().hex[:6]
    async with OpenAIStandin(
            api_key="sk-run", transcript="where is my order A42",
            tool_calls=[("set_emotion", {"emotion": "happy"}),
                        ("lookup_order", {"order_id": "A42"})],
            reply="Good news: your order was {lookup_order}.") as oai:
        urls = [arg for key in ("stt_base_url", "base_url", "tts_base_url")
                for arg in ("--brain-opt", f"{key}={oai.base_url}")]
        worker = WorkerProcess(livekit_server, ["--dev", *urls, *LOCAL_FACE_ARGS],
                               tmp_path / "run.log", cwd=EXAMPLE,
                               env={"AVATARKIT_AGENT_NAME": agent_name,
                                    "OPENAI_API_KEY": "sk-run"})
        await worker.started(registered_within=120)
        user = RoomUser(livekit_server, "run-own-agent-room", agent_name=agent_name)
        try:
            await user.join()
            await user.wait_for_agent(120)
            await user.wait_for_media(60)
            speech_end = await user.say(load_wav_16k())
            await wait_until(lambda: "Thursday" in user.agent_text(speech_end), 120,
                             "the answer with the order's status", interval=0.2)
        finally:
            await user.leave()
            code = await worker.stopped()
    out = worker.output()
    assert "Traceback" not in out, out[-4000:]
    assert code == 0, out[-3000:]
    assert oai.tool_outputs == {"set_emotion": "Your face now shows: happy.",
                                "lookup_order": ORDERS["A42"]}
    chat = oai.paths("/v1/chat/completions")[0].json
    assert "support agent for an online shop" in chat["messages"][0]["content"]
    assert ORDERS["A42"] in user.agent_text(speech_end)
