"""examples/own-agent through avatarkit's composer (``agent = "support_agent:Support"`` in
its avatarkit.toml): the user's instructions and function tool reach the LLM with the
face's emotion/background tools, the stand-in OpenAI model calls them, the tool really runs
and its result is in the spoken reply, and the local face shows the emotion.

The cloud is the OpenAI stand-in (``standins/openai_api.py``: STT, chat with function
calls, TTS); the brain, face, composer and file transport are the real ones.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from avatarkit.emotions import EMOTIONS
from standins.openai_api import OpenAIStandin

pytestmark = [pytest.mark.standin, pytest.mark.local_extra]
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own-agent"
SMALL_FACE = ("width=256", "height=256", "fps=15", "motion=0", "blink=false")


@pytest.fixture
def example_dir(clean_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(EXAMPLE)  # as a user runs it: `avatarkit run` next to the agent module
    monkeypatch.setenv("AVATARKIT_LOAD_PLUGINS", "")
    monkeypatch.setattr(sys, "path", list(sys.path))  # the loader adds the cwd; undo it
    return EXAMPLE


def offered(call: Any) -> dict[str, Any]:
    return {t["function"]["name"]: t["function"] for t in call.json.get("tools") or []}


async def run_example(oai: OpenAIStandin, tmp_path: Path, *extra_opts: str,
                      face_tools: bool | None = None) -> tuple[Any, Any]:
    from avatarkit.composer import Composer, make_plan
    from avatarkit.config import load_config
    from avatarkit.demo import bundled_question
    from avatarkit.transports.audio_files import load_speech
    from avatarkit.transports.file import FileTransport, Utterance

    urls = [f"{k}={oai.base_url}" for k in ("stt_base_url", "base_url", "tts_base_url")]
    config = load_config(path=EXAMPLE / "avatarkit.toml", environ={"OPENAI_API_KEY": "sk-t"},
                         brain_opts=[*urls, "openai_api_key=sk-t"],
                         face_opts=[*SMALL_FACE, *extra_opts], face_tools=face_tools)
    composer = Composer(make_plan(config, environ={}))
    faces: list[Any] = []
    transport = FileTransport([Utterance(load_speech(bundled_question()))],
                              tmp_path / "out.mp4")
    report = await composer.run(transport, on_started=lambda _s, face: faces.append(face))
    return report, faces[0]


async def test_standin_user_agent_tool_and_emotion_through_the_composer(
        example_dir: Path, tmp_path: Path) -> None:
    sys.path.insert(0, str(example_dir))
    from support_agent import ORDERS

    async with OpenAIStandin(
            api_key="sk-t", transcript="where is my order A42",
            tool_calls=[("set_emotion", {"emotion": "concerned", "intensity": 0.8}),
                        ("lookup_order", {"order_id": "A42"})],
            reply="Your order is {lookup_order}.") as oai:
        report, face = await run_example(oai, tmp_path)

    chats = oai.paths("/v1/chat/completions")
    assert len(chats) >= 2, "the model was not asked again with the tool results"
    first = chats[0].json
    assert "support agent for an online shop" in first["messages"][0]["content"]
    tools = offered(chats[0])
    assert set(tools) == {"lookup_order", "set_emotion", "set_background"}
    emotion_schema = tools["set_emotion"]["parameters"]["properties"]["emotion"]
    assert emotion_schema["enum"] == list(EMOTIONS)  # the face's own list
    backgrounds = tools["set_background"]["parameters"]["properties"]["background"]["enum"]
    assert backgrounds == list(face.backgrounds)
    # the user's tool really ran, and its result is what the avatar said
    assert oai.tool_outputs["lookup_order"] == ORDERS["A42"]
    assert oai.tool_outputs["set_emotion"] == "Your face now shows: concerned."
    answered = " ".join(t.answered or "" for t in report.turns)
    assert ORDERS["A42"] in answered, report.turns
    spoken = "".join(c.json["input"] for c in oai.paths("/v1/audio/speech"))
    assert ORDERS["A42"].replace(" ", "") in spoken.replace(" ", "")
    # the face took the emotion, and its renderer drew frames with it
    state = face.control_state()
    assert state["emotion"] == {"name": "concerned", "intensity": 0.8}
    assert report.face == "local"


async def test_standin_face_tools_off_leaves_the_users_tools_alone(
        example_dir: Path, tmp_path: Path) -> None:
    async with OpenAIStandin(api_key="sk-t", transcript="where is my order B7",
                             tool_calls=[("lookup_order", {"order_id": "B7"})],
                             reply="It is {lookup_order}.") as oai:
        report, face = await run_example(oai, tmp_path, face_tools=False)
    assert set(offered(oai.paths("/v1/chat/completions")[0])) == {"lookup_order"}
    assert "delayed at the warehouse" in " ".join(t.answered or "" for t in report.turns)
    assert face.control_state()["emotion"]["name"] == "neutral"
