"""Every provider face against its provider's wire protocol, in a real LiveKit room.

One module, parametrized over the providers of ``standins.providers.SPECS``: the official
``livekit-plugins-<provider>`` runs unmodified inside a (fake) LiveKit job whose room is a
real connection to livekit-server; only the provider's HTTP API is a stand-in. The test
plays the provider's renderer: it joins the room with the token the plugin sent.

For each provider: the request the face sends (auth, body, the minted token), and that the
paid session ends exactly once on a normal end, when the avatar never joins in time (and
joins later), when the start is cancelled mid-create, on a job's shutdown (what a worker's
SIGTERM runs: the face closed, the room gone, then the job's shutdown callbacks, among them
the plugin's own close), and that a 4xx refusal falls through to the next face. SIGTERM of
real workers, with faults, is in ``test_provider_leaks.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from livekit import api, rtc

from avatarkit.composer import Composer, make_plan
from avatarkit.config import load_config
from avatarkit.errors import ConfigError, FaceStartError
from avatarkit.registry import Registry
from avatarkit.tokens import decode_grants
from room_worker import participants, wait_until
from standins.providers import SPECS, ProviderSession, ProviderStandin, Spec
from standins.room import RoomTransport
from test_boson_face import Avatar

pytestmark = [pytest.mark.room, pytest.mark.standin]

AGENT = "agent-1"
REMOVED = rtc.DisconnectReason.PARTICIPANT_REMOVED
PROVIDERS = sorted(SPECS)


@dataclasses.dataclass
class AgentRoom:
    room: rtc.Room
    token: str
    name: str


@pytest.fixture
async def agent(livekit_server, monkeypatch, request) -> AsyncIterator[AgentRoom]:
    """The agent's connection to a fresh room (LIVEKIT_* point at the real server)."""
    for var, value in livekit_server.env().items():
        monkeypatch.setenv(var, value)
    name = "pc-" + request.node.name[-44:].replace("_", "-").replace("[", "-").strip("]")
    token = (api.AccessToken(livekit_server.api_key, livekit_server.api_secret)
             .with_identity(AGENT).with_kind("agent")
             .with_grants(api.VideoGrants(room_join=True, room=name)).to_jwt())
    room = rtc.Room()
    await room.connect(livekit_server.url, token)
    try:
        yield AgentRoom(room, token, name)
    finally:
        await room.disconnect()


@contextlib.contextmanager
def in_job(agent: AgentRoom) -> Iterator[Any]:
    """A LiveKit job context around the agent's room, as a worker's job has (most plugins
    need one: ``get_job_context().local_participant_identity``)."""
    from livekit.agents.testing import fake_job_context

    with fake_job_context(room=agent.room, agent_identity=AGENT) as ctx:
        # the job's token is what names the agent (fake_job_context leaves it empty)
        ctx._info = dataclasses.replace(ctx._info, token=agent.token)
        yield ctx


@contextlib.asynccontextmanager
async def provider(face: str, monkeypatch: pytest.MonkeyPatch, **kwargs: Any
                   ) -> AsyncIterator[ProviderStandin]:
    from livekit.agents.utils import http_context

    spec = SPECS[face]
    async with ProviderStandin(spec, **kwargs) as standin, http_context.open():
        if spec.hardcoded_url is not None:  # the plugin has no URL option: point it here
            module, attribute, suffix = spec.hardcoded_url
            monkeypatch.setattr(module + "." + attribute, standin.url + suffix)
        yield standin


class Renderer:
    """The provider's renderer, played by the test: joins with the tokens the plugin sent,
    publishes video as the avatar, and reports how its session ended."""

    def __init__(self, url: str, delay: float = 0.0) -> None:
        self.url, self.delay = url, delay
        self.avatars: list[Avatar] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.late_join_errors: list[BaseException] = []

    def attach(self, standin: ProviderStandin) -> Renderer:
        async def created(sess: ProviderSession) -> None:
            if self.delay:  # a renderer that joins late (after the face gave up)
                self.tasks.append(asyncio.ensure_future(self._join_later(sess)))
            else:
                await self.join(sess)

        standin.on_created = created
        return self

    async def _join_later(self, sess: ProviderSession) -> None:
        await asyncio.sleep(self.delay)
        try:
            await self.join(sess)
        except Exception as exc:  # noqa: BLE001 - removed while it still published its tracks
            self.late_join_errors.append(exc)  # (the face removes a late avatar at once)

    async def join(self, sess: ProviderSession) -> None:
        avatar = Avatar()
        self._report(avatar.room, sess)
        try:
            await avatar.join(self.url, sess.token)
        finally:  # joined once connected, even if it was removed before it had published
            with contextlib.suppress(Exception):  # no local participant: it never connected
                if avatar.room.local_participant.identity:
                    self.avatars.append(avatar)
        for token in sess.join.extra.values():  # avatartalk's listener: no video
            listener = rtc.Room()
            self._report(listener, sess)
            await listener.connect(self.url, token, rtc.RoomOptions(auto_subscribe=False))
            extra = Avatar()
            extra.room = listener
            self.avatars.append(extra)

    @staticmethod
    def _report(room: rtc.Room, sess: ProviderSession) -> None:
        def on_disconnected(reason: Any) -> None:
            if reason == REMOVED:
                sess.removed += 1

        def on_data(packet: rtc.DataPacket) -> None:
            if b"END_CALL" in packet.data:  # Runway's end of session: its avatar leaves
                sess.ended_by_data += 1
                asyncio.ensure_future(room.disconnect())

        room.on("disconnected", on_disconnected)
        room.on("data_received", on_data)

    async def leave(self) -> None:
        for task in self.tasks:
            task.cancel()
        for avatar in self.avatars:
            await avatar.leave()


def make_face(spec: Spec, standin: ProviderStandin, **options: Any) -> Any:
    cls = Registry.load(environ={}).face(spec.face)
    return cls({**standin.options(), "join_timeout": 20, "video_stall_timeout": None,
                **options})


def ended_once(spec: Spec, sess: ProviderSession) -> None:
    """The session was ended exactly once, the provider's way (its end call, Runway's
    END_CALL, or for a provider with neither, its avatar's removal)."""
    assert sess.ended == 1, (spec.face, sess.stops, sess.ended_by_data, sess.removed)


async def gone(livekit_server: Any, room: str, spec: Spec) -> None:
    identities = {spec.identity, "listener"}
    for _ in range(100):
        if not identities & set(await participants(livekit_server, room)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"avatar still in {room}: {await participants(livekit_server, room)}")


@dataclasses.dataclass
class Scenario:
    spec: Spec
    standin: ProviderStandin
    face: Any
    job: Any
    renderer: Renderer

    async def start(self, room: rtc.Room) -> Any:
        from livekit.agents import AgentSession

        session: AgentSession[Any] = AgentSession()
        await self.face.start(session, RoomTransport(room))
        return session


@contextlib.asynccontextmanager
async def scenario(face: str, livekit_server: Any, agent: AgentRoom,
                   monkeypatch: pytest.MonkeyPatch, *, join_delay: float = 0.0,
                   create_delay: float = 0.0, **options: Any) -> AsyncIterator[Scenario]:
    """A provider session in the agent's room, inside a job; afterwards: the avatar is gone
    and the session was ended exactly once, the provider's way."""
    spec = SPECS[face]
    async with provider(face, monkeypatch, create_delay=create_delay) as standin:
        renderer = Renderer(livekit_server.url, join_delay).attach(standin)
        with in_job(agent) as job:
            yield Scenario(spec, standin, make_face(spec, standin, **options), job, renderer)
            await wait_until(lambda: standin.sessions, 10, "a session")
            if join_delay:  # the renderer joins after the face gave up: removed then
                sess = standin.only_session()
                await wait_until(lambda: renderer.avatars and (sess.removed or sess.ended), 30,
                                 "the late avatar to be removed")
                await asyncio.wait(renderer.tasks, timeout=10)  # one per session: not empty
                # a late join may fail only because the face removed that avatar meanwhile
                assert not renderer.late_join_errors or sess.removed, renderer.late_join_errors
            await gone(livekit_server, agent.name, spec)
            await asyncio.sleep(0.3)  # a second end would have arrived by now
            ended_once(spec, standin.only_session())
        await renderer.leave()


@pytest.mark.parametrize("face", PROVIDERS)
async def test_standin_contract_request_and_end_once(livekit_server, agent, monkeypatch,
                                                     face) -> None:
    async with scenario(face, livekit_server, agent, monkeypatch) as sc:
        session = await sc.start(agent.room)
        assert sc.face.failure() is None and sc.face.avatar_identity == sc.spec.identity
        assert type(session.output.audio).__name__.endswith("AudioOutput")
        sess = sc.standin.only_session()
        # the token the plugin minted: this room only, as the avatar, for the agent
        claims = decode_grants(sess.token, livekit_server.api_secret)
        assert claims["sub"] == sc.spec.identity and claims["video"]["room"] == agent.name
        assert claims["attributes"]["lk.publish_on_behalf"] == AGENT
        assert sess.join.url == livekit_server.url
        assert len(sc.standin.start_calls()) == 1
        await asyncio.gather(sc.face.aclose(), sc.face.aclose())
        await sc.face.aclose()


@pytest.mark.parametrize("face", PROVIDERS)
async def test_standin_contract_never_joins_in_time_ended_once(livekit_server, agent,
                                                                monkeypatch, face) -> None:
    """The renderer only joins after the face gave up: the session still ends, once, and
    the late avatar is removed. The audio sink the plugin installed no longer waits for its
    avatar (when the room closed, that wait failed with an ERROR and a traceback)."""
    async with scenario(face, livekit_server, agent, monkeypatch, join_delay=4.0,
                        join_timeout=1) as sc:
        with pytest.raises(FaceStartError, match="did not join"):
            await sc.start(agent.room)
        sink = sc.face._live.sink
        assert sink is not None, "the face did not see the sink its plugin installed"
        # a DataStreamAudioOutput's start; if livekit-agents renames it,
        # lk_private.stop_sink_start silently stops nothing: this says so
        waiting = getattr(sink, "_start_atask", None)
        assert isinstance(waiting, asyncio.Task), f"{type(sink).__name__} has no _start_atask"
        await sc.face.aclose()
        await asyncio.wait({waiting}, timeout=1.0)  # a cancelled task ends on its next step
        assert waiting.done(), "the sink still waits for the avatar"


@pytest.mark.parametrize("face", PROVIDERS)
async def test_standin_contract_cancelled_mid_create_ended_once(livekit_server, agent,
                                                                monkeypatch, face) -> None:
    """The composer's timeout cancels the start while the provider is creating the session
    (its renderer is already joining): what was created is still ended, once. The plugin's
    start goes on and (most plugins) installs its audio sink after the cut: the face finds it
    and stops its wait for the avatar (a wait left running failed when the room closed, and
    asyncio printed "Task exception was never retrieved" at exit)."""
    async with scenario(face, livekit_server, agent, monkeypatch, create_delay=1.0) as sc:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(sc.start(agent.room), 0.3)
        await sc.face.aclose()
        sink = sc.face._live.sink
        assert sink is not None, "the face did not see the sink its plugin installed late"
        waiting = getattr(sink, "_start_atask", None)
        assert isinstance(waiting, asyncio.Task), f"{type(sink).__name__} has no _start_atask"
        await asyncio.wait({waiting}, timeout=1.0)
        assert waiting.done(), "the sink still waits for the avatar"


@pytest.mark.parametrize("face", PROVIDERS)
async def test_standin_contract_job_shutdown_ends_once(livekit_server, agent, monkeypatch,
                                                       face) -> None:
    """What a worker's SIGTERM does to a job (livekit-agents' ``_shutdown_job``): the
    entrypoint ends (the composer closes the face), the room disconnects, then the job's
    shutdown callbacks run, among them the plugin's own ``aclose`` (and AvatarTalk's
    delete-session): the session is still ended exactly once."""
    async with scenario(face, livekit_server, agent, monkeypatch) as sc:
        await sc.start(agent.room)
        assert sc.job._shutdown_callbacks, "the plugin registered its close with the job"
        await sc.face.aclose()  # the entrypoint's cleanup
        await agent.room.disconnect()
        await asyncio.gather(*(callback("sigterm") for callback in sc.job._shutdown_callbacks))


@pytest.mark.parametrize("face", PROVIDERS)
async def test_standin_contract_refusal_falls_through_to_the_next_face(agent, monkeypatch,
                                                                       face) -> None:
    async with provider(face, monkeypatch, refuse_status=403) as standin:
        config = load_config(
            brain="pipeline", face=face, fallback=["none"], environ={},
            overrides={"face": {"join_timeout": 15, "options": {face: standin.options()}},
                       "agent": {"greeting": ""},
                       "brain": {"options": {"pipeline": {
                           key: "unused" for key in ("openai_api_key", "deepgram_api_key",
                                                     "cartesia_api_key")}}}})
        composer = Composer(make_plan(config, Registry.load(environ={})))
        with in_job(agent):
            report = await composer.run(RoomTransport(agent.room))
        assert [a.name for a in report.attempts] == [face, "none"], report.attempts
        assert not report.attempts[0].ok and report.face == "none"
        assert standin.sessions == {} and standin.stop_calls() == []
        assert standin.start_calls(), "the refusal came from the stand-in"


@pytest.mark.parametrize("face", PROVIDERS)
def test_options_validated_before_anything_connects(face) -> None:
    cls = Registry.load(environ={}).face(face)
    assert cls.Options.model_config.get("extra") == "forbid"
    with pytest.raises(ConfigError, match="unknown option"):
        cls.parse_options({"not_an_option": 1})
    with pytest.raises(ConfigError):
        cls.parse_options({"join_timeout": -1})
    assert cls.env[-3:] == ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
    assert cls.stop_call and cls.summary


def test_session_cap_is_the_providers_unless_set() -> None:
    faces = Registry.load(environ={}).faces
    runway, simli, tavus = (faces[n].cls for n in ("runway", "simli", "tavus"))
    assert runway({"avatar_id": "a"}).session_cap() == 300
    assert runway({"avatar_id": "a", "max_duration": 120}).session_cap() == 120
    assert runway({"avatar_id": "a", "max_session_s": 0}).session_cap() is None  # off
    assert runway({"avatar_id": "a", "max_session_s": 900}).session_cap() == 900
    assert simli({"max_session_length": 200}).session_cap() == 200
    assert tavus({}).session_cap() is None  # no known cap: no rotation
    assert faces["avatartalk"].cls({"max_session_s": 60}).session_cap() is None  # fixed ids
    assert faces["heygen"].cls({"sandbox": True}).session_cap() == 60
    with pytest.raises(ConfigError, match="exactly one of avatar_id, preset_id"):
        runway.parse_options({"avatar_id": "a", "preset_id": "p"})


async def test_bithuman_local_mode_never_removes_the_agent(livekit_server, agent, tmp_path,
                                                           monkeypatch) -> None:
    """bitHuman's local mode renders in this process and publishes as the agent: its
    plugin's close would remove "the avatar", i.e. the agent itself. The model here cannot
    load (no bitHuman cloud to authenticate against): the face fails, and the agent stays."""
    from livekit.agents import AgentSession

    cls = Registry.load(environ={}).face("bithuman")
    model = tmp_path / "model.imx"
    model.write_bytes(b"not a model")
    options = cls.parse_options({"model_path": str(model), "api_secret": "s"})
    assert cls.local(options) and cls.required_env(options) == ()
    monkeypatch.delenv("BITHUMAN_API_SECRET", raising=False)
    assert cls.required_env(cls.parse_options({})) == ("BITHUMAN_MODEL_PATH",
                                                      "BITHUMAN_API_SECRET")
    face = cls(options)
    assert face.session_cap() is None  # one process, no provider cap: no rotation
    with in_job(agent):
        with pytest.raises(FaceStartError):
            await face.start(AgentSession(), RoomTransport(agent.room))
        await face.aclose()
        await asyncio.sleep(0.5)
        assert AGENT in await participants(livekit_server, agent.name)
        assert agent.room.isconnected()
