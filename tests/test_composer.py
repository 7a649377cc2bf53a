"""Composer fallback and cleanup, driven with real Face plugins and a real AgentSession
(no LiveKit server: the session runs with no room, over a small test transport)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from avatarkit.composer import Composer, make_plan
from avatarkit.config import load_config
from avatarkit.errors import MissingCredentialsError, PartUnavailableError
from avatarkit.registry import Registry
from avatarkit.transports.base import Transport

FACES = """
import asyncio
from avatarkit import Face, BrainParts, Brain, hookimpl
from avatarkit.errors import FaceStartError

EVENTS = []

class _Recording(Face):
    async def aclose(self):
        EVENTS.append(("close", self.name))

class BrokenFace(_Recording):
    name = "broken"
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        session.output.audio = transport.audio_output()  # half-done: the composer undoes it
        raise FaceStartError("provider said no")

class HangingFace(_Recording):
    name = "hanging"
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        await asyncio.sleep(3600)

class GoodFace(_Recording):
    name = "good"
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        session.output.audio = transport.audio_output()

class ExplodingCloseFace(GoodFace):
    name = "explodingclose"
    async def aclose(self):
        EVENTS.append(("close", self.name))
        raise RuntimeError("close failed")

class DyingFace(_Recording):
    name = "dying"
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        session.output.audio = transport.audio_output()
        self.started_at = asyncio.get_running_loop().time()
    def failure(self):
        if asyncio.get_running_loop().time() - self.started_at > 0.3:
            return RuntimeError("renderer crashed")
        return None

class LitterFace(_Recording):
    name = "litter"
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        session.output.audio = object()  # not an audio output at all: this line raises

class BadDetachFace(_Recording):
    name = "baddetach"
    async def start(self, session, transport):
        EVENTS.append(("start", self.name))
        output = transport.audio_output()
        def on_detached():
            raise RuntimeError("cannot detach")
        output.on_detached = on_detached
        session.output.audio = output
        raise FaceStartError("half-way")

class OfflineBrain(Brain):
    name = "offline-test"
    def build(self):
        from avatarkit.brains.openai_compat import openai_compatible_llm
        return BrainParts(llm=openai_compatible_llm(base_url="http://127.0.0.1:9/v1", model="x"))
    async def aclose(self):
        EVENTS.append(("brain-close", self.name))

@hookimpl
def register_faces(register):
    for f in (BrokenFace, HangingFace, GoodFace, ExplodingCloseFace, DyingFace, LitterFace,
              BadDetachFace):
        register(f)

@hookimpl
def register_brains(register):
    register(OfflineBrain)
"""


class SilentTransport(Transport):
    """No room; an audio sink that discards; done when ``finish`` is set."""

    name = "test"

    def __init__(self, hold: float = 0.05) -> None:
        self.hold = hold
        self.closed = 0
        self.outputs: list[Any] = []

    def audio_output(self) -> Any:
        from livekit.agents.voice import io

        class Sink(io.AudioOutput):
            def __init__(self) -> None:
                super().__init__(label="sink", capabilities=io.AudioOutputCapabilities(pause=False))

            async def capture_frame(self, frame: Any) -> None:
                await super().capture_frame(frame)

            def flush(self) -> None:
                super().flush()

            def clear_buffer(self) -> None:
                pass

        self.outputs.append(Sink())
        return self.outputs[-1]

    async def wait_done(self, session: Any) -> None:
        await asyncio.sleep(self.hold)

    async def aclose(self) -> None:
        self.closed += 1


@pytest.fixture
def faces(plugin_dir, clean_env):
    plugin_dir("avatarkit-testfaces", {"ak_testfaces": FACES}, {"testfaces": "ak_testfaces"})
    import ak_testfaces

    ak_testfaces.EVENTS.clear()
    return ak_testfaces


def _composer(face: str, fallback: list[str], timeout: float = 0.5) -> Composer:
    cfg = load_config(brain="offline-test", face=face, fallback=fallback,
                      overrides={"face": {"join_timeout": timeout}}, environ={})
    return Composer(make_plan(cfg, Registry.load(environ={}), environ={}))


async def test_fallback_order_and_each_face_closed_once(faces) -> None:
    composer = _composer("broken", ["hanging", "good"])
    transport = SilentTransport()
    report = await composer.run(transport)
    assert faces.EVENTS == [
        ("start", "broken"), ("close", "broken"),
        ("start", "hanging"), ("close", "hanging"),
        ("start", "good"),
        ("close", "good"), ("brain-close", "offline-test"),
    ]
    assert report.face == "good"
    assert report.fallbacks_used == ["broken", "hanging"]
    assert "provider said no" in (report.attempts[0].error or "")
    assert "within 0.5 s" in (report.attempts[1].error or "")
    assert transport.closed == 1


async def test_a_face_that_leaves_any_object_as_audio_output_falls_through(faces) -> None:
    """A face whose start leaves a non-output (or an output that cannot be detached) and
    fails must not crash the session: the next face starts."""
    transport = SilentTransport()
    report = await _composer("litter", ["baddetach", "good"]).run(transport)
    assert report.face == "good"
    assert report.fallbacks_used == ["litter", "baddetach"]
    assert faces.EVENTS.count(("close", "litter")) == 1
    assert faces.EVENTS.count(("close", "baddetach")) == 1
    report = await _composer("litter", []).run(SilentTransport())
    assert report.face == "none"


async def test_audio_only_is_reached_when_every_face_fails(faces) -> None:
    report = await _composer("broken", ["hanging"]).run(SilentTransport())
    assert report.face == "none"
    assert [a.name for a in report.attempts] == ["broken", "hanging", "none"]
    assert faces.EVENTS.count(("close", "broken")) == 1
    assert faces.EVENTS.count(("close", "hanging")) == 1


async def test_cancellation_closes_the_started_face_once(faces) -> None:
    composer = _composer("good", [])
    task = asyncio.create_task(composer.run(SilentTransport(hold=3600)))
    while ("start", "good") not in faces.EVENTS:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert faces.EVENTS.count(("close", "good")) == 1
    assert ("brain-close", "offline-test") in faces.EVENTS


async def test_cancellation_during_a_hanging_start_closes_it(faces) -> None:
    composer = _composer("hanging", [], timeout=60)
    task = asyncio.create_task(composer.run(SilentTransport()))
    while ("start", "hanging") not in faces.EVENTS:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert faces.EVENTS.count(("close", "hanging")) == 1


async def test_a_failing_close_does_not_stop_the_other_cleanups(faces) -> None:
    transport = SilentTransport()
    report = await _composer("explodingclose", []).run(transport)
    assert report.face == "explodingclose"
    assert ("close", "explodingclose") in faces.EVENTS
    assert ("brain-close", "offline-test") in faces.EVENTS
    assert transport.closed == 1


async def test_a_face_that_dies_mid_session_is_closed_and_audio_goes_on(faces) -> None:
    transport = SilentTransport(hold=1.0)
    outputs_at_end: list[Any] = []

    async def keep_session(session: Any, face: Any) -> None:
        async def later() -> None:
            await asyncio.sleep(0.9)
            outputs_at_end.append(session.output.audio)
        asyncio.get_running_loop().create_task(later())

    report = await _composer("dying", []).run(transport, on_started=keep_session)
    assert faces.EVENTS.count(("close", "dying")) == 1
    assert report.face == "none"
    error = report.attempts[-1].error or ""
    assert "died mid-session" in error and "renderer crashed" in error
    # The face's output was replaced by a fresh audio-only output of the transport.
    assert len(transport.outputs) == 2 and outputs_at_end[0] is transport.outputs[1]


async def test_audio_sinks_are_swapped_below_the_wrappers() -> None:
    """In a room RoomIO wraps the face's sink (transcript sync): a swap keeps the wrapper."""
    from livekit.agents import AgentSession
    from livekit.agents.voice.transcription import TranscriptSynchronizer

    from avatarkit.composer import audio_tail, set_audio_tail

    transport = SilentTransport()
    face_sink, fallback = transport.audio_output(), transport.audio_output()
    session: Any = AgentSession()
    set_audio_tail(session, face_sink)  # a face, before the session starts: just the sink
    assert session.output.audio is face_sink and audio_tail(session) is face_sink
    set_audio_tail(session, None)  # the chain fallback undoes it: no sink, RoomIO's turn
    assert session.output.audio is None

    set_audio_tail(session, face_sink)
    sync = TranscriptSynchronizer(next_in_chain_audio=face_sink, next_in_chain_text=None)
    session.output.audio = sync.audio_output  # what RoomIO does at session.start()
    set_audio_tail(session, fallback)  # the face died: audio only
    assert session.output.audio is sync.audio_output  # the synchroniser stays
    assert audio_tail(session) is fallback
    set_audio_tail(session, None)  # nothing to fall back to: keep the chain, not drop it
    assert session.output.audio is sync.audio_output and audio_tail(session) is fallback
    await sync.aclose()


def test_prewarm_keeps_what_it_loaded_out_of_full_collections(faces) -> None:
    import gc

    from tests.test_gc_pauses import tracked

    composer = _composer("good", [])
    gc.unfreeze()
    try:
        assert tracked([composer.brain, composer.plan]) == 2
        composer.prewarm()
        assert tracked([composer.brain, composer.plan]) == 0
    finally:
        gc.unfreeze()


def test_missing_credentials_anywhere_in_the_chain_fail_before_connecting(faces) -> None:
    cfg = load_config(brain="offline-test", face="good", fallback=["heygen"], environ={})
    with pytest.raises(MissingCredentialsError, match="LIVEAVATAR_API_KEY"):
        make_plan(cfg, Registry.load(environ={}), environ={})


def test_hedra_is_refused_at_validation(faces) -> None:
    cfg = load_config(brain="offline-test", face="hedra", environ={})
    with pytest.raises(PartUnavailableError, match="--face local"):
        make_plan(cfg, Registry.load(environ={}), environ={})
