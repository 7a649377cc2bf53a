"""The per-session control API of a worker (``GET /avatars``, ``POST /avatars/{id}/...``).

The room test runs a real ``avatarkit run`` worker (realtime brain against the OpenAI
stand-in, the local face) hosting two sessions in two rooms of a real LiveKit server, and
changes one session's emotion and background through the API: the other session keeps its
own, and the background change shows in that room's video only. The other tests drive the
server in-process with a real session link (WebSocket) and a real local face.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from avatarkit.faces.local import LocalFace
from avatarkit.web.sessions_api import SessionsControlServer
from avatarkit.worker.session_link import open_link
from cli_runner import run_cli
from livekit_server import LiveKitServer, free_tcp_port
from room_user import RoomUser
from room_worker import LOCAL_FACE_ARGS, WorkerProcess, wait_until
from standins.openai_api import OpenAIStandin

TOKEN = "ctl-s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def call(method: str, url: str, *, headers: dict[str, str] | None = None,
               json: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, \
            http.request(method, url, headers=headers, json=json) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def api() -> AsyncIterator[SessionsControlServer]:
    server = SessionsControlServer(port=0, token=TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.aclose()


async def test_sessions_register_take_commands_and_unregister(
        api: SessionsControlServer) -> None:
    faces = [LocalFace({"motion": 0}), LocalFace({"motion": 0, "emotion": "sad"})]
    links = [await open_link(api.link, session_id=f"S{i}", room=f"room-{i}", face=face)
             for i, face in enumerate(faces)]
    assert all(links)
    await wait_until(lambda: len(api.sessions) == 2, 10, "two sessions to register")
    status, body = await call("GET", api.url + "/avatars", headers=AUTH)
    assert status == 200
    listed = {a["session_id"]: a for a in body["avatars"]}
    assert listed["S1"]["room"] == "room-1" and listed["S1"]["face"] == "local"
    assert listed["S1"]["emotion"] == {"name": "sad", "intensity": 1.0}
    assert "happy" in listed["S0"]["emotions"] and listed["S0"]["supports_background"]

    status, body = await call("POST", api.url + "/avatars/S0/emotion", headers=AUTH,
                              json={"name": "happy", "intensity": 0.6})
    assert status == 200 and body["emotion"] == {"name": "happy", "intensity": 0.6}
    assert faces[0].control_state()["emotion"] == {"name": "happy", "intensity": 0.6}
    assert faces[1].control_state()["emotion"] == {"name": "sad", "intensity": 1.0}
    status, body = await call("POST", api.url + "/avatars/S1/background", headers=AUTH,
                              json={"background": "sunset"})
    assert status == 200 and body["background"] == "sunset" == faces[1].control_state()[
        "background"]
    assert faces[0].control_state()["background"] == "original"

    # bad input: the single-face API's answers, and the face's own refusal
    status, body = await call("POST", api.url + "/avatars/S0/emotion", headers=AUTH,
                              json={"intensity": 0.5})
    assert status == 400 and "'name'" in body["error"]
    status, body = await call("POST", api.url + "/avatars/S0/emotion", headers=AUTH,
                              json={"name": "ecstatic"})
    assert status == 400 and "ecstatic" in body["error"]
    status, body = await call("POST", api.url + "/avatars/S0/background", headers=AUTH,
                              json={"background": "/etc/passwd"})
    assert status == 400 and "not a preset" in body["error"]

    for link in links:
        assert link is not None
        await link.aclose()
    await wait_until(lambda: not api.sessions, 10, "the sessions to unregister")
    status, body = await call("POST", api.url + "/avatars/S0/emotion", headers=AUTH,
                              json={"name": "happy"})
    assert status == 404 and "no session 'S0'" in body["error"]


async def test_token_is_required_everywhere(api: SessionsControlServer) -> None:
    for method, path, body in [("GET", "/avatars", None),
                               ("POST", "/avatars/x/emotion", {"name": "happy"}),
                               ("POST", "/avatars/x/background", {"background": "night"}),
                               ("GET", "/_link", None)]:
        for headers in (None, {"Authorization": "Bearer wrong"}):
            status, answer = await call(method, api.url + path, headers=headers, json=body)
            assert status == 401, (method, path)
            assert "bearer token" in answer["error"]
    # the public token does not open the sessions' link, nor the link secret the API
    status, _ = await call("GET", api.url + "/avatars",
                           headers={"Authorization": f"Bearer {api.link.secret}"})
    assert status == 401


def test_non_loopback_bind_without_token_is_refused(capsys, clean_env,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    for var, value in {"AVATARKIT_CONTROL_PORT": "0", "AVATARKIT_CONTROL_HOST": "0.0.0.0",
                       "LIVEKIT_URL": "ws://127.0.0.1:9", "LIVEKIT_API_KEY": "k",
                       "LIVEKIT_API_SECRET": "s"}.items():
        monkeypatch.setenv(var, value)
    result = run_cli(capsys, "run", "--brain", "realtime", "--brain-opt", "api_key=k",
                     "--face", "none")
    assert result.returncode == 2, result.stderr
    assert "control_host='0.0.0.0' is not loopback" in result.stderr
    assert result.stderr.count("error:") == 1 and result.network == []
    with pytest.raises(Exception, match="without a bearer token"):
        SessionsControlServer(host="0.0.0.0")
    SessionsControlServer(host="0.0.0.0", token="t")  # with a token it may


@pytest.mark.room
@pytest.mark.local_extra
async def test_two_sessions_in_real_rooms_one_changed_through_the_api(
        livekit_server: LiveKitServer, tmp_path: Path) -> None:
    port = free_tcp_port()
    async with OpenAIStandin(api_key="sk-rt") as oai:
        worker = WorkerProcess(
            livekit_server, ["--brain", "realtime", "--brain-opt", f"base_url={oai.base_url}",
                             "--brain-opt", "api_key=sk-rt", "--face", "local", *LOCAL_FACE_ARGS],
            tmp_path / "worker.log",
            env={"AVATARKIT_CONTROL_PORT": str(port), "AVATARKIT_CONTROL_TOKEN": TOKEN,
                 "AVATARKIT_AGENT_NAME": "ctl-agent"})
        await worker.started()
        users = [RoomUser(livekit_server, f"ctl-{x}", identity=f"user-{x}",
                          agent_name="ctl-agent") for x in "ab"]
        base = f"http://127.0.0.1:{port}"
        try:
            await asyncio.gather(*(u.join() for u in users))
            await asyncio.gather(*(u.wait_for_media(120) for u in users))

            async def two_sessions() -> list[dict[str, Any]] | None:
                status, body = await call("GET", base + "/avatars", headers=AUTH)
                return body["avatars"] if status == 200 and len(body["avatars"]) == 2 else None

            listed: list[dict[str, Any]] = []
            for _ in range(200):
                if found := await two_sessions():
                    listed = found
                    break
                await asyncio.sleep(0.1)
            by_room = {a["room"]: a for a in listed}
            assert set(by_room) == {"ctl-a", "ctl-b"}, listed
            assert all(a["emotion"]["name"] == "neutral" for a in listed)
            a_id = by_room["ctl-a"]["session_id"]
            assert a_id.startswith("AJ_") and a_id != by_room["ctl-b"]["session_id"]

            status, body = await call("POST", f"{base}/avatars/{a_id}/emotion", headers=AUTH,
                                      json={"name": "concerned", "intensity": 0.8})
            assert status == 200, body
            assert body["emotion"] == {"name": "concerned", "intensity": 0.8}
            _, after = await call("GET", base + "/avatars", headers=AUTH)
            emotions = {a["room"]: a["emotion"]["name"] for a in after["avatars"]}
            assert emotions == {"ctl-a": "concerned", "ctl-b": "neutral"}

            # a backdrop change shows in that room's video only
            before_b = users[1].corner.copy() if users[1].corner is not None else None
            status, body = await call("POST", f"{base}/avatars/{a_id}/background",
                                      headers=AUTH, json={"background": "#ff0000"})
            assert status == 200 and body["background"] == "#ff0000"
            await wait_until(lambda: users[0].corner is not None and users[0].corner[0] > 200
                             and users[0].corner[1] < 60, 20, "room a's backdrop to turn red")
            await asyncio.sleep(1.0)
            corner_b = users[1].corner
            assert corner_b is not None and before_b is not None
            assert abs(corner_b - before_b).max() < 20 and not corner_b[0] > 200 > 60 > \
                corner_b[1]

            status, _ = await call("GET", base + "/avatars")
            assert status == 401
            status, body = await call("POST", f"{base}/avatars/AJ_nope/emotion",
                                      headers=AUTH, json={"name": "happy"})
            assert status == 404 and "no session 'AJ_nope'" in body["error"]
        finally:
            await asyncio.gather(*(u.leave() for u in users), return_exceptions=True)
            code = await worker.stopped()
    assert code == 0, worker.output()[-3000:]
    assert "Traceback" not in worker.output(), worker.output()[-3000:]


async def test_the_listing_shows_changes_made_in_the_session_itself(
        api: SessionsControlServer) -> None:
    """An emotion changed from inside the session (an agent's tool, the face's own API)
    shows in ``GET /avatars``: each session is asked for its state."""
    face = LocalFace({"motion": 0})
    link = await open_link(api.link, session_id="S9", room="room-9", face=face)
    assert link is not None
    await wait_until(lambda: "S9" in api.sessions, 10, "the session to register")
    await face.set_emotion("surprised", 0.5)
    await face.set_background("night")
    status, body = await call("GET", api.url + "/avatars", headers=AUTH)
    assert status == 200
    [entry] = body["avatars"]
    assert entry["emotion"] == {"name": "surprised", "intensity": 0.5}
    assert entry["background"] == "night"
    await link.aclose()
