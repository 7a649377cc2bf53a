"""The playground server and transport with aiortc peers standing in for browsers: one
session per peer through the real composer, events and controls over the data channel,
closing a peer ends its session and closes its face, shutdown closes everything, and bad
offers get clear JSON errors. (A null brain keeps these fast; tests/test_browser_*.py run
the real offline brain in Chromium.)"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("aiortc")

import aiohttp  # noqa: E402
from livekit import rtc  # noqa: E402
from tests.browser.faces import COLOURS, ColourFace, colour_plan  # noqa: E402
from tests.browser.peer import PeerClient  # noqa: E402

from avatarkit.playground.server import PlaygroundServer  # noqa: E402
from avatarkit.playground.transport import PlaygroundTransport  # noqa: E402


@pytest.fixture
async def server() -> Any:
    ColourFace.instances.clear()
    srv = PlaygroundServer(colour_plan(), port=0, max_sessions=3)
    await srv.start()
    yield srv
    await srv.stop()


async def _status(srv: PlaygroundServer) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(srv.url + "sessions") as resp:
        assert resp.status == 200
        return dict(await resp.json())


async def _until(cond: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _centre_rgb(frame: Any) -> np.ndarray:
    rgb = frame.to_ndarray(format="rgb24")
    h, w, _ = rgb.shape
    return rgb[h // 2 - 8:h // 2 + 8, w // 2 - 8:w // 2 + 8].reshape(-1, 3).mean(axis=0)


async def test_each_peer_gets_its_own_session_and_leaving_ends_it(server: Any) -> None:
    a, b = PeerClient(), PeerClient()
    try:
        ra = await a.connect(server.url + "offer")
        rb = await b.connect(server.url + "offer")
        assert ra["status"] == rb["status"] == 200 and ra["session"] != rb["session"]
        for peer in (a, b):
            ready = await peer.wait_for("ready")
            assert ready["face"] == "colour" and ready["video"] is True
            assert "happy" in ready["capabilities"]["emotions"]
        await _until(lambda: len(a.video_frames) > 3 and len(b.video_frames) > 3)
        assert (a.video_frames[-1].width, a.video_frames[-1].height) == (256, 256)
        status = await _status(server)
        assert {s["session"] for s in status["active"]} == {ra["session"], rb["session"]}
        assert all(s["input"]["frames"] > 0 for s in status["active"])  # mic audio arrives

        await a.close()  # the "tab" goes away
        await _until(lambda: ra["session"] not in server.peers)
        status = await _status(server)
        assert [s["session"] for s in status["active"]] == [rb["session"]]
        ended = next(e for e in status["ended"] if e["session"] == ra["session"])
        assert ended["error"] is None and ended["reason"]
        faces = {f.closed for f in ColourFace.instances}
        assert faces == {True, False}  # a's face closed, b's still running
    finally:
        await a.close()
        await b.close()


async def test_a_page_that_vanishes_without_a_word_ends_its_session(
        server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tab killed without its goodbye (and no DTLS/SCTP close either) stops sending audio:
    its session ends after ``mic.GONE_AFTER`` s of no audio, not at ICE's ~30 s; a page
    whose mic sends silence keeps its session."""
    from tests.browser.peer import ToneMic

    from avatarkit.playground import mic

    class VanishingMic(ToneMic):
        async def recv(self) -> Any:
            if self._n >= 25:  # 0.5 s of audio, then nothing (the track never ends)
                await asyncio.Future()
            return await super().recv()

    monkeypatch.setattr(mic, "GONE_AFTER", 1.0)
    gone, quiet = PeerClient(mic=VanishingMic()), PeerClient(mic=ToneMic(tone=0.0))
    try:
        rg = await gone.connect(server.url + "offer")
        rq = await quiet.connect(server.url + "offer")
        started = time.monotonic()
        await _until(lambda: rg["session"] not in server.peers, timeout=10)
        assert time.monotonic() - started < 5
        ended = next(e for e in server.ended if e["session"] == rg["session"])
        assert "no audio from the page for 1 s" in ended["reason"] and ended["error"] is None
        await asyncio.sleep(1.5)  # more than GONE_AFTER of silence: still there
        assert rq["session"] in server.peers
    finally:
        await gone.close()
        await quiet.close()


async def test_emotion_and_background_controls_change_the_video(server: Any) -> None:
    peer = PeerClient()
    try:
        await peer.connect(server.url + "offer")
        await peer.wait_for("ready")
        await _until(lambda: len(peer.video_frames) > 2)
        assert np.allclose(_centre_rgb(peer.video_frames[-1]), COLOURS["neutral"], atol=20)

        peer.send({"type": "emotion", "name": "happy", "intensity": 1.0})
        reply = await peer.wait_for("control", control="emotion")
        assert reply["ok"] is True
        assert (await peer.wait_for("face_state", by="page"))["emotion"] == "happy"
        await asyncio.sleep(0.5)
        assert np.allclose(_centre_rgb(peer.video_frames[-1]), COLOURS["happy"], atol=20)

        peer.send({"type": "background", "value": "#ff0000"})
        assert (await peer.wait_for("control", control="background"))["ok"] is True
        await asyncio.sleep(0.5)
        corner = peer.video_frames[-1].to_ndarray(format="rgb24")[4:12, 4:12].reshape(-1, 3)
        assert np.allclose(corner.mean(axis=0), (255, 0, 0), atol=30)

        peer.messages.clear()
        peer.send({"type": "background", "value": "/etc/passwd"})  # never a path from a page
        refused = await peer.wait_for("control", control="background")
        assert refused["ok"] is False and "colour" in refused["error"]
        peer.send({"type": "emotion", "name": "smug"})
        refused = await peer.wait_for("control", control="emotion")
        assert refused["ok"] is False and "smug" in refused["error"]
    finally:
        await peer.close()


async def test_shutdown_closes_every_peer_and_face(server: Any) -> None:
    peers = [PeerClient(), PeerClient()]
    try:
        for peer in peers:
            await peer.connect(server.url + "offer")
            await peer.wait_for("ready")
        await server.stop()
        assert server.peers == {}
        assert len(ColourFace.instances) == 2 and all(f.closed for f in ColourFace.instances)
        for peer in peers:
            ended = await peer.wait_for("ended", timeout=5)
            assert "shutting down" in ended["reason"]
    finally:
        for peer in peers:
            await peer.close()


async def test_offer_errors_are_clear_json(server: Any) -> None:
    url = server.url + "offer"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data="not json") as resp:
            assert resp.status == 400 and "JSON" in (await resp.json())["error"]
        async with http.post(url, json={"sdp": "v=0", "type": "answer"}) as resp:
            assert resp.status == 400
        async with http.post(url, json={"sdp": "garbage", "type": "offer"}) as resp:
            body = await resp.json()
            assert resp.status == 400 and "offer" in body["error"]
        async with http.post(url, json={"sdp": "v=0", "type": "offer"},
                             headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403 and "origin" in (await resp.json())["error"]
    assert server.peers == {}
    # no mic in the offer: refused with a message saying so
    peer = PeerClient()
    try:
        peer.pc.addTransceiver("video", direction="recvonly")
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        async with aiohttp.ClientSession() as http, http.post(url, json={
                "sdp": peer.pc.localDescription.sdp, "type": "offer"}) as resp:
            assert resp.status == 400 and "microphone" in (await resp.json())["error"]
    finally:
        await peer.close()


async def test_session_limit_gives_503() -> None:
    srv = PlaygroundServer(colour_plan(), port=0, max_sessions=1)
    await srv.start()
    a, b = PeerClient(), PeerClient()
    try:
        assert (await a.connect(srv.url + "offer"))["status"] == 200
        refused = await b.connect(srv.url + "offer")
        assert refused["status"] == 503 and "max-sessions" in refused["error"]
    finally:
        await a.close()
        await b.close()
        await srv.stop()


async def test_session_events_reach_the_page() -> None:
    """Transcripts, agent state, messages and per-turn latency go over the data channel."""
    from livekit.agents.llm import ChatMessage

    transport = PlaygroundTransport(connect_timeout=10, brain="test")
    peer = PeerClient()
    session = rtc.EventEmitter[str]()
    session.output = SimpleNamespace(audio=None)  # type: ignore[attr-defined]
    try:
        offer_peer = peer.pc
        offer_peer.addTrack(peer._mic)
        offer_peer.addTransceiver("video", direction="recvonly")
        await offer_peer.setLocalDescription(await offer_peer.createOffer())
        answer = await transport.answer(offer_peer.localDescription.sdp)
        from aiortc import RTCSessionDescription

        await offer_peer.setRemoteDescription(RTCSessionDescription(**answer))
        transport.attach(session)  # type: ignore[arg-type]
        face = ColourFace()
        await face.start(session, transport)
        await transport.on_started(session, face)  # type: ignore[arg-type]
        ready = await peer.wait_for("ready")
        assert [label for label, _ in ready["stages"]][0] == "speech end -> turn end"

        ev = SimpleNamespace
        session.emit("agent_state_changed", ev(new_state="listening"))
        session.emit("user_input_transcribed", ev(transcript="what is the", is_final=False))
        session.emit("user_input_transcribed", ev(transcript="What is the capital?",
                                                  is_final=True))
        session.emit("conversation_item_added", ev(item=ChatMessage(
            role="user", content=["What is the capital?"],
            metrics={"end_of_turn_delay": 0.5, "transcription_delay": 0.4})))
        session.emit("agent_state_changed", ev(new_state="thinking"))
        session.emit("conversation_item_added", ev(item=ChatMessage(
            role="assistant", content=["Paris."],
            metrics={"llm_node_ttft": 0.2, "tts_node_ttfb": 0.1, "e2e_latency": 1.1})))
        turn = await peer.wait_for("turn")
        assert turn["heard"] == "What is the capital?" and turn["answered"] == "Paris."
        assert turn["latencies"]["e2e_latency"] == pytest.approx(1.1)
        assert turn["latencies"]["end_of_turn_delay"] == pytest.approx(0.5)
        kinds = [m["type"] for m in peer.messages]
        assert kinds.count("agent_state") == 2 and kinds.count("user_transcript") == 2
        assert [m["text"] for m in peer.messages if m["type"] == "message"] == [
            "What is the capital?", "Paris."]

        peer.send({"type": "bye"})
        await asyncio.wait_for(transport.wait_done(session), 5)  # type: ignore[arg-type]
        assert transport.end_reason == "the page left"
        await face.aclose()
    finally:
        await transport.aclose()
        await peer.close()


async def test_a_peer_that_never_connects_ends_its_session() -> None:
    transport = PlaygroundTransport(connect_timeout=0.5)
    await asyncio.wait_for(transport.wait_done(None), 5)  # type: ignore[arg-type]
    assert "did not connect" in (transport.end_reason or "")
    await transport.aclose()


def test_loopback_only_machines_offer_loopback_candidates(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import ifaddr
    from aioice import ice

    from avatarkit.playground.server import use_loopback_if_alone

    original = ice.get_host_addresses
    monkeypatch.setattr(ice, "get_host_addresses", original)  # restored after the test
    if original(use_ipv4=True, use_ipv6=True):
        assert use_loopback_if_alone() is False  # a real interface: aioice left alone
        assert ice.get_host_addresses is original
    lo = ifaddr.Adapter("lo", "lo", [ifaddr.IP("127.0.0.1", 8, "lo"),
                                     ifaddr.IP(("::1", 0, 0), 128, "lo")])
    monkeypatch.setattr(ifaddr, "get_adapters", lambda: [lo])
    assert original(use_ipv4=True, use_ipv6=True) == []
    assert use_loopback_if_alone() is True
    assert ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]


async def test_a_face_that_fails_falls_back_and_the_page_is_told() -> None:
    from avatarkit.composer import FaceSpec, Plan
    from avatarkit.errors import FaceStartError
    from avatarkit.face import Face

    class FailingFace(Face):
        name = "failing"
        summary = "test face that cannot start"

        async def start(self, session: Any, transport: Any) -> None:
            raise FaceStartError("no GPU today")

        async def aclose(self) -> None:
            return None

    base = colour_plan()
    plan = Plan(base.config, base.brain_cls, base.brain_options,
                (FaceSpec(FailingFace, FailingFace.parse_options(None)), *base.faces))
    srv = PlaygroundServer(plan, port=0)
    await srv.start()
    peer = PeerClient()
    try:
        await peer.connect(srv.url + "offer")
        ready = await peer.wait_for("ready")
        assert ready["requested_face"] == "failing" and ready["face"] == "colour"
    finally:
        await peer.close()
        await srv.stop()


@pytest.mark.standin
async def test_standin_the_agents_emotion_tool_changes_the_video_and_the_page_is_told(
        ) -> None:
    """The model (OpenAI stand-in) calls ``set_emotion``: the face changes and the page gets
    a ``face_state`` saying the agent set it (playground.js shows it)."""
    from avatarkit.brain import Brain, BrainParts
    from standins.openai_api import OpenAIStandin

    oai = OpenAIStandin(api_key="sk-pg", reply="Oh no, I am sorry.",
                        tool_calls=[("set_emotion", {"emotion": "sad"})])

    class StandinBrain(Brain):
        name = "standin-llm"

        def build(self) -> BrainParts:
            from avatarkit.brains.openai_compat import openai_compatible_llm

            return BrainParts(llm=openai_compatible_llm(base_url=oai.base_url, model="x",
                                                        api_key="sk-pg"))

    ColourFace.instances.clear()
    srv = PlaygroundServer(colour_plan(StandinBrain), port=0)
    peer = PeerClient()
    async with oai:
        await srv.start()
        try:
            answer = await peer.connect(srv.url + "offer")
            ready = await peer.wait_for("ready")
            assert ready["shown"] == {"emotion": "neutral"}
            transport = srv.peers[answer["session"]].transport
            assert transport.session is not None
            transport.session.generate_reply(user_input="my cat is ill")
            state = await peer.wait_for("face_state", by="agent")
            assert state["emotion"] == "sad"
            await asyncio.sleep(0.5)
            assert np.allclose(_centre_rgb(peer.video_frames[-1]), COLOURS["sad"], atol=20)
            offered = oai.paths("/v1/chat/completions")[0].json["tools"]
            assert [t["function"]["name"] for t in offered] == ["set_emotion"]  # no list of
            # backgrounds on this face: no background tool
        finally:
            await peer.close()
            await srv.stop()


async def test_the_page_is_not_ready_before_the_models_are() -> None:
    """Serving starts at once; until every load of the prewarm ended, /healthz says
    "getting ready" (what is loading, what is done) and /offer refuses with 503; then the
    first peer's session starts."""
    import threading

    from tests.browser.faces import null_brain_class

    from avatarkit.progress import loading

    release = threading.Event()
    base = null_brain_class()

    class SlowBrain(base):  # type: ignore[misc, valid-type]
        def prewarm(self) -> None:
            with loading("test model one"):
                pass
            with loading("test model two"):
                assert release.wait(30)

    srv = PlaygroundServer(colour_plan(SlowBrain), port=0)
    await srv.start()
    task = srv.prewarm_in_background()
    peer = PeerClient()
    try:
        async with aiohttp.ClientSession() as http:
            async def health() -> dict[str, Any]:
                async with http.get(srv.url + "healthz") as resp:
                    return dict(await resp.json())

            await _until(lambda: srv.readiness.to_dict()["loading"] == ["test model two"])
            status = await health()
            assert status["ready"] is False and status["loading"] == ["test model two"]
            assert [d["what"] for d in status["done"]] == ["test model one"]
            refused = await peer.connect(srv.url + "offer")
            assert refused["status"] == 503 and "getting ready" in refused["error"]
            await peer.close()
            release.set()
            await asyncio.wait_for(task, 30)
            status = await health()
            assert status["ready"] is True and status["loading"] == []
            assert [d["what"] for d in status["done"]] == ["test model one", "test model two"]
        peer = PeerClient()
        answer = await peer.connect(srv.url + "offer")
        assert answer["status"] == 200
        await peer.wait_for("ready")
    finally:
        release.set()
        await peer.close()
        await srv.stop()


async def test_a_failed_prewarm_is_shown_and_never_ready() -> None:
    from tests.browser.faces import null_brain_class

    base = null_brain_class()

    class BrokenBrain(base):  # type: ignore[misc, valid-type]
        def prewarm(self) -> None:
            raise RuntimeError("model file is corrupt")

    srv = PlaygroundServer(colour_plan(BrokenBrain), port=0)
    await srv.start()
    try:
        with pytest.raises(RuntimeError):
            await srv.prewarm_in_background()
        status = srv.readiness.to_dict()
        assert status["ready"] is False and "corrupt" in status["error"]
    finally:
        await srv.stop()


async def test_the_mic_is_not_held_back_by_aiortcs_jitter_buffer() -> None:
    """aiortc holds 4 Opus packets (80 ms) of received audio before decoding the first; the
    playground's mic receiver releases each packet once the next one arrives."""
    from aiortc.rtp import RtpPacket

    transport = PlaygroundTransport(connect_timeout=10, brain="test")
    peer = PeerClient()
    try:
        peer.pc.addTrack(peer._mic)
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        await transport.answer(peer.pc.localDescription.sdp)
        (receiver,) = [t.receiver for t in transport.pc.getTransceivers() if t.kind == "audio"]
        buffer = receiver._RTCRtpReceiver__jitter_buffer
        packets = [RtpPacket(sequence_number=i, timestamp=960 * i) for i in range(3)]
        for i, packet in enumerate(packets):
            packet._data = bytes([i])  # what the receiver sets: the depacketized frame
        released = [buffer.add(packet)[1] for packet in packets]
        assert released[0] is None  # a frame is complete once the next one starts
        assert released[1] is not None and released[1].data == bytes([0])
        assert released[2] is not None and released[2].data == bytes([1])
    finally:
        await transport.aclose()
        await peer.close()
