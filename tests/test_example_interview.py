"""``examples/interview/``: Deepgram -> OpenAI -> ElevenLabs -> the local face, run offline.

The same code path as the README: ``avatarkit run --config examples/interview/avatarkit.toml``
as a real worker on a real LiveKit server, and the token endpoint of ``avatarkit serve``
(read from the same file) handing the candidate a token that dispatches the interviewer.
Only the cloud is replaced: local stand-ins speak Deepgram's, OpenAI's and ElevenLabs' wire
protocols, reached through ``--brain-opt *_options.base_url`` flags.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from avatarkit.config import load_config
from avatarkit.web.token_server import TokenServer
from livekit_server import LiveKitServer, free_tcp_port
from room_user import RoomUser, load_wav_16k
from room_worker import LOCAL_FACE_ARGS, WorkerProcess, wait_until
from standins.deepgram import DeepgramStandin
from standins.elevenlabs import ElevenLabsStandin
from standins.openai_api import OpenAIStandin

pytestmark = [pytest.mark.room, pytest.mark.local_extra, pytest.mark.standin]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "interview" / "avatarkit.toml"
ANSWER = "I have five years of Python experience"
REPLY = "That is great. What project are you proudest of?"


def test_example_config_is_valid(clean_env: None) -> None:
    from avatarkit.composer import make_plan

    config = load_config(path=EXAMPLE, environ={})
    plan = make_plan(config, check_usable=False)
    opts = plan.brain_options
    assert [opts.provider(k)[0].name for k in ("stt", "llm", "tts")] == [
        "deepgram", "openai", "elevenlabs"]
    assert config.worker.agent_name == "interviewer" and config.agent.greeting


async def test_standin_interview_example_in_a_real_room(
        livekit_server: LiveKitServer, tmp_path: Path) -> None:
    config = load_config(path=EXAMPLE, environ=livekit_server.env())
    async with DeepgramStandin(api_key="dg-key", transcript=ANSWER, loud_only=True,
                               utterance_seconds=0.8) as dg, \
            OpenAIStandin(api_key="oa-key", reply=REPLY) as oai, \
            ElevenLabsStandin(api_key="el-key") as el:
        worker = WorkerProcess(livekit_server, [
            "--config", str(EXAMPLE), *LOCAL_FACE_ARGS,
            "--brain-opt", f"stt_options.base_url={dg.base_url}",
            "--brain-opt", f"llm_options.base_url={oai.base_url}",
            "--brain-opt", f"tts_options.base_url={el.base_url}"],
            tmp_path / "worker.log",
            env={"DEEPGRAM_API_KEY": "dg-key", "OPENAI_API_KEY": "oa-key",
                 "ELEVEN_API_KEY": "el-key", "AVATARKIT_CONTROL_PORT": str(free_tcp_port())})
        tokens = TokenServer(config.livekit, port=0, agent_name=config.worker.agent_name)
        await tokens.start()
        await worker.started()
        user: RoomUser | None = None
        try:
            async with aiohttp.ClientSession() as http, http.post(
                    f"{tokens.url}token", json={"room": "interview-1",
                                                "identity": "candidate"}) as resp:
                assert resp.status == 200
                grant = await resp.json()
            user = RoomUser(livekit_server, "interview-1", identity="candidate",
                            join_token=grant["token"])
            await user.join()
            await user.wait_for_media(120)
            # the greeting, spoken through ElevenLabs
            await wait_until(lambda: "Thanks for joining" in user.agent_text(), 60,
                             "the greeting's transcript")
            await asyncio.sleep(1.0)
            spoke_at = await user.say(load_wav_16k())
            await wait_until(lambda: "proudest" in user.agent_text(spoke_at), 60,
                             "the follow-up question")
            await asyncio.sleep(1.0)
            heard = user.loud_since(spoke_at, level=0.02)
        finally:
            if user is not None:
                await user.leave()
            await tokens.stop()
            code = await worker.stopped()
    assert code == 0 and "Traceback" not in worker.output(), worker.output()[-3000:]
    assert heard is not None, "no agent audio after the answer"

    listen = dg.paths("/v1/listen")[0]
    assert listen.headers["Authorization"] == "Token dg-key"
    assert listen.query["model"] == "nova-3" and listen.query["language"] == "en"
    assert ANSWER in user.user_text()

    chat = oai.paths("/v1/chat/completions")[-1].json
    assert chat["model"] == "gpt-4.1-mini" and chat["temperature"] == 0.6
    assert chat["messages"][0]["content"].startswith("You are Ava")
    assert {"role": "user", "content": ANSWER} in chat["messages"]

    ws = el.paths("/v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/multi-stream-input")[0]
    assert ws.headers["xi-api-key"] == "el-key"
    assert ws.query["model_id"] == "eleven_turbo_v2_5"
    spoken = " ".join(" ".join(c.spoken) for c in el.contexts.values())
    assert "Thanks for joining today" in spoken and "proudest" in spoken
