"""Stand-ins for the avatar providers' session APIs, as their livekit-plugins 1.8.9 call them
(``livekit/plugins/<provider>/{avatar,api}.py``; ``../shared/PROVIDERS.md`` §2).

One server class, one small :class:`Spec` per provider: the start route(s) with the auth
header the plugin sends, what the request body must hold (a malformed request gets a 400
like the real API would, so a face that sends the wrong thing fails its test), the answer
the plugin reads, and the provider's end route where it has one. A created session records
the LiveKit URL and the token(s) the plugin minted, so a test (or an avatar worker) can join
the room as the provider's renderer does.

Providers with no end call end a session by losing their avatar participant: the test's
avatar (or worker) reports being removed, and :attr:`ProviderSession.ended` counts that.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from ._avatar import AvatarProcess, launch_avatar, token_claims
from ._server import Call, StandinServer

API_KEY = "provider-test-key"


@dataclass
class Join:
    """What a provider's renderer gets to join the room: URL, token, more tokens."""

    url: str
    token: str
    extra: dict[str, str] = field(default_factory=dict)  # identity -> token (avatartalk)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # aiohttp pattern, e.g. /v2/conversations/{id}/end
    auth: tuple[str, str] | None = None  # (header, value with {key})


def _need(body: Any, *paths: str) -> str | None:
    """The first dotted path missing (or empty) in ``body``."""
    for path in paths:
        value = body
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value in (None, "", [], {}):
            return f"{path} is required"
    return None


@dataclass(frozen=True)
class Spec:
    """One provider's session API."""

    face: str
    identity: str  # the avatar participant's default identity
    start: Route
    join: Callable[[dict[str, Any]], Join]  # where the renderer joins, from the start body
    required: tuple[str, ...]  # dotted paths the start body must hold
    reply: Callable[[str], dict[str, Any]]  # session id -> the start answer
    options: Callable[[str], dict[str, Any]]  # stand-in URL -> face options
    stop: Route | None = None
    steps: tuple[tuple[Route, Callable[[], dict[str, Any]]], ...] = ()  # before the start
    hardcoded_url: tuple[str, str, str] | None = None  # (module, attribute, path suffix)
    sample_rate: int = 24000  # of the agent's audio the plugin sends the avatar
    stopped: Callable[[str], dict[str, Any]] = lambda sid: {"id": sid, "status": "ended"}

    @property
    def ends_itself(self) -> bool:
        """Whether the provider has an end call (else only losing its avatar ends it)."""
        return self.stop is not None


def _bearer(key: str = "Authorization") -> tuple[str, str]:
    return (key, "Bearer {key}")


BOSON_SESSION = "avatar.livekit.session"

SPECS: dict[str, Spec] = {s.face: s for s in (
    Spec("boson", "boson-avatar-agent", Route("POST", "/sessions", _bearer()),
         lambda b: Join(b["transport"]["url"], b["transport"]["participant_token"]),
         ("avatar_id", "transport.url", "transport.room_name", "transport.participant_token",
          "transport.participant_identity", "transport.publisher_identity"),
         lambda sid: {"id": sid, "object": BOSON_SESSION, "status": "active",
                      "avatar_identity": "boson-avatar-agent"},
         lambda url: {"api_url": url, "avatar_id": "av-test"},
         stop=Route("DELETE", "/sessions/{id}", _bearer()),
         stopped=lambda sid: {"id": sid, "object": BOSON_SESSION, "status": "terminated"}),
    Spec("tavus", "tavus-avatar-agent", Route("POST", "/v2/conversations", ("x-api-key", "{key}")),
         lambda b: Join(b["properties"]["livekit_ws_url"], b["properties"]["livekit_room_token"]),
         ("pal_id", "conversation_name", "properties.livekit_ws_url",
          "properties.livekit_room_token"),
         lambda sid: {"conversation_id": sid, "status": "active"},
         lambda url: {"api_url": url + "/v2", "face_id": "r-face", "pal_id": "p-pal"},
         stop=Route("POST", "/v2/conversations/{id}/end", ("x-api-key", "{key}"))),
    Spec("anam", "anam-avatar-agent", Route("POST", "/v1/engine/session", _bearer()),
         lambda b: Join(b["environment"]["livekitUrl"], b["environment"]["livekitToken"]),
         ("personaConfig.avatarId", "personaConfig.name", "environment.livekitUrl",
          "environment.livekitToken"),
         lambda sid: {"sessionId": sid, "engineHost": "standin", "engineProtocol": "https"},
         lambda url: {"api_url": url, "avatar_id": "anam-avatar"}),
    Spec("bey", "bey-avatar-agent", Route("POST", "/v1/sessions", ("x-api-key", "{key}")),
         lambda b: Join(b["url"], b["token"]), ("transport", "avatar_id", "url", "token"),
         lambda sid: {"id": sid}, lambda url: {"api_url": url, "avatar_id": "bey-avatar"},
         sample_rate=16000),
    Spec("simli", "simli-avatar-agent", Route("POST", "/integrations/livekit/agents"),
         lambda b: Join(b["livekit_url"], b["livekit_token"]),
         ("session_token", "livekit_url", "livekit_token"), lambda sid: {"session_id": sid},
         lambda url: {"api_url": url, "face_id": "simli-face", "max_session_length": 600},
         sample_rate=16000,
         steps=((Route("POST", "/compose/token", ("x-simli-api-key", "{key}")),
                 lambda: {"session_token": "st-" + uuid.uuid4().hex}),)),
    Spec("lemonslice", "lemonslice-avatar-agent",
         Route("POST", "/api/liveai/sessions", ("X-API-Key", "{key}")),
         lambda b: Join(b["properties"]["livekit_url"], b["properties"]["livekit_token"]),
         ("transport_type", "agent_id", "properties.livekit_url", "properties.livekit_token",
          "properties.livekit_session_id"),
         lambda sid: {"session_id": sid},
         lambda url: {"api_url": url + "/api/liveai/sessions", "agent_id": "ls-agent"}),
    Spec("bithuman", "bithuman-avatar-agent",
         Route("POST", "/v1/runtime-tokens/request", ("api-secret", "{key}")),
         lambda b: Join(b["livekit_url"], b["livekit_token"]),
         ("livekit_url", "livekit_token", "room_name", "agent_id"),
         lambda sid: {"status": "success", "data": {"session_id": sid}},
         lambda url: {"api_url": url + "/v1/runtime-tokens/request", "avatar_id": "A12"}),
    Spec("did", "d-id-avatar-agent",
         Route("POST", "/v2/agents/{agent}/sessions/join", ("Authorization", "Basic {key}")),
         lambda b: Join(b["transport"]["server_url"], b["transport"]["token"]),
         ("transport.server_url", "transport.token", "transport.room_name",
          "audio_config.sample_rate"),
         lambda sid: {"id": sid}, lambda url: {"api_url": url, "agent_id": "did-agent"}),
    Spec("keyframe", "keyframe-avatar-agent",
         Route("POST", "/v1/sessions/plugins/livekit", _bearer()),
         lambda b: Join(b["livekit_url"], b["livekit_token"]),
         ("room_name", "livekit_url", "livekit_token", "source_participant_identity",
          "persona_id"),
         lambda sid: {"reservation_id": sid, "model_id": "persona-1.5-live"},
         lambda url: {"api_url": url, "persona_id": "kf-persona"}),
    Spec("runway", "runway-avatar-agent", Route("POST", "/v1/realtime_sessions", _bearer()),
         lambda b: Join(b["livekit"]["url"], b["livekit"]["token"]),
         ("model", "avatar.avatarId", "livekit.url", "livekit.token", "livekit.roomName",
          "livekit.agentIdentity"),
         lambda sid: {"id": sid}, lambda url: {"api_url": url, "avatar_id": "rw-avatar"},
         stop=Route("DELETE", "/v1/realtime_sessions/{id}", _bearer()), sample_rate=16000),
    Spec("protoface", "protoface-avatar-agent", Route("POST", "/v1/sessions", _bearer()),
         lambda b: Join(b["transport"]["url"], b["transport"]["worker_token"]),
         ("avatar_id", "transport.url", "transport.room_name", "transport.worker_token",
          "transport.worker_identity"),
         lambda sid: {"id": sid, "status": "active"},
         lambda url: {"api_url": url, "avatar_id": "av_test"},
         stop=Route("POST", "/v1/sessions/{id}/end", _bearer()), sample_rate=16000),
    Spec("trugen", "trugen-avatar", Route("POST", "/v1/sessions", ("x-api-key", "{key}")),
         lambda b: Join(b["livekit_url"], b["livekit_token"]),
         ("avatar_id", "livekit_url", "livekit_token"), lambda sid: {"session_id": sid},
         lambda url: {"avatar_id": "tg-avatar"},
         hardcoded_url=("livekit.plugins.trugen.avatar", "_BASE_API_URL", "")),
    Spec("avatario", "avatario-avatar-agent",
         Route("POST", "/api/sdk/start-session", ("x-api-key", "{key}")),
         lambda b: Join(b["livekit"]["url"], b["livekit"]["token"]),
         ("avatario_face_id", "agent_id", "livekit.url", "livekit.token", "video_width"),
         lambda sid: {"session_id": sid}, lambda url: {"avatar_id": "avatario-face"},
         hardcoded_url=("livekit.plugins.avatario.api", "DEFAULT_API_URL", "/api/sdk")),
    Spec("avatartalk", "avatartalk-agent", Route("POST", "/livekit/create-session", _bearer()),
         lambda b: Join(b["livekit_url"], b["room_token"], {"listener": b["listener_token"]}),
         ("livekit_url", "avatar", "emotion", "room_name", "room_token", "listener_token",
          "agent_identity"),
         lambda sid: {"task_id": sid}, lambda url: {"api_url": url, "avatar": "japanese_man"},
         stop=Route("DELETE", "/livekit/delete-session/{id}", _bearer()), sample_rate=16000),
    Spec("synthesia", "synthesia-avatar-agent",
         Route("POST", "/api/interactive-avatars/sessions", ("Authorization", "{key}")),
         lambda b: Join(b["livekitUrl"], b["livekitToken"]),
         ("avatarIds", "livekitUrl", "livekitToken"), lambda sid: {"id": sid},
         lambda url: {"api_url": url, "avatar_ids": ["syn-1", "syn-2"]}),
)}


@dataclass
class ProviderSession:
    """One session the stand-in created (and would bill)."""

    id: str
    spec: Spec
    call: Call
    join: Join
    stops: int = 0  # calls of the provider's end route
    removed: int = 0  # times the test's avatar was removed from the room
    ended_by_data: int = 0  # Runway's END_CALL data message, seen by the test's avatar
    avatar: AvatarProcess | None = None  # the avatar worker, when the stand-in launched one
    created_at: float = field(default_factory=time.monotonic)

    @property
    def token(self) -> str:
        return self.join.token

    @property
    def room(self) -> str:
        return str(token_claims(self.token)["video"]["room"])

    def reported(self, event: str, **match: Any) -> int:
        """How often the avatar worker reported ``event`` (with these fields)."""
        events = [] if self.avatar is None else self.avatar.events()
        return sum(1 for e in events if e["event"] == event
                   and all(e.get(k) == v for k, v in match.items()))

    @property
    def ended(self) -> int:
        """How many times the session was ended, the provider's way: its end call (or
        Runway's END_CALL message); for a provider with none, its avatar's removal."""
        if self.spec.ends_itself:
            return self.stops + self.ended_by_data + self.reported("end_call")
        return self.removed + self.reported("disconnected", reason="PARTICIPANT_REMOVED")


class ProviderStandin(StandinServer):
    """Serves one provider's :class:`Spec`; records every call and session.

    ``refuse_status`` answers every start with that error (nothing created);
    ``create_delay`` answers a start that late (the session exists, billed, already);
    ``on_created(session)`` runs once a session exists (tests join an avatar with it);
    ``workdir`` set means each session launches an avatar worker into the room instead
    (stopped when the session's end call comes, as the provider's renderer would be).
    """

    def __init__(self, spec: Spec, *, api_key: str = API_KEY, refuse_status: int | None = None,
                 create_delay: float = 0.0, workdir: Path | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.workdir = workdir
        self.api_key = api_key
        self.refuse_status = refuse_status
        self.create_delay = create_delay
        self.on_created: Callable[[ProviderSession], Awaitable[None]] | None = None
        self.sessions: dict[str, ProviderSession] = {}
        self.faults: dict[str, str] = {}  # room -> "refuse" (every start there gets a 403)
        # or "late" (its renderer joins after late_delay s)
        self.late_delay = 8.0
        self._late: list[asyncio.Task[None]] = []
        for route, answer in spec.steps:
            self._route(route, self._step(route, answer))
        self._route(spec.start, self._create)
        if spec.stop is not None:
            self._route(spec.stop, self._stop)

    def options(self) -> dict[str, Any]:
        """Face options pointing the official plugin at this stand-in."""
        key = "api_secret" if self.spec.face == "bithuman" else "api_key"
        return {**self.spec.options(self.url), key: self.api_key}

    def start_calls(self) -> list[Call]:
        return self.paths_like(self.spec.start)

    def stop_calls(self) -> list[Call]:
        return [] if self.spec.stop is None else self.paths_like(self.spec.stop)

    def paths_like(self, route: Route) -> list[Call]:
        pattern = re.sub(r"\{\w+\}", "[^/]+", route.path) + "$"
        return [c for c in self.calls if c.method == route.method and re.match(pattern, c.path)]

    async def _launch(self, sess: ProviderSession, delay: float = 0.0) -> None:
        await asyncio.sleep(delay)
        assert self.workdir is not None
        sess.avatar = await launch_avatar(self.workdir, sess.id, sess.join.url, sess.token,
                                          sample_rate=self.spec.sample_rate)

    async def close(self) -> None:
        for task in self._late:
            task.cancel()
        await asyncio.gather(*self._late, return_exceptions=True)
        for sess in self.sessions.values():
            if sess.avatar is not None:
                await sess.avatar.stop()
        await super().close()

    def only_session(self) -> ProviderSession:
        assert len(self.sessions) == 1, f"expected one session, got {list(self.sessions)}"
        return next(iter(self.sessions.values()))

    # -- HTTP -----------------------------------------------------------------------------

    def _route(self, route: Route, handler: Callable[[web.Request], Awaitable[Any]]) -> None:
        self.app.router.add_route(route.method, route.path, handler)

    def _refused(self, route: Route, request: web.Request) -> web.Response | None:
        if route.auth is not None:
            header, value = route.auth
            if request.headers.get(header) != value.format(key=self.api_key):
                return web.json_response({"error": "invalid api key"}, status=401)
        return None

    def _step(self, route: Route, answer: Callable[[], dict[str, Any]]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            await self.record(request)
            return self._refused(route, request) or web.json_response(answer())

        return handle

    async def _create(self, request: web.Request) -> web.Response:
        call = await self.record(request)
        refused = self._refused(self.spec.start, request)
        if refused is not None:
            return refused
        problem = _need(call.json, *self.spec.required) if isinstance(call.json, dict) \
            else "body must be a JSON object"
        if problem:
            return web.json_response({"error": problem}, status=400)
        join = self.spec.join(call.json)
        fault = self.faults.get(token_claims(join.token)["video"]["room"], "")
        if self.refuse_status is not None or fault == "refuse":
            return web.json_response({"error": "avatar sessions are not available"},
                                     status=self.refuse_status or 403)
        sess = ProviderSession("sess_" + uuid.uuid4().hex[:12], self.spec, call, join)
        self.sessions[sess.id] = sess
        if self.workdir is not None and fault == "late":
            self._late.append(asyncio.ensure_future(self._launch(sess, self.late_delay)))
        elif self.workdir is not None:
            await self._launch(sess)
        if self.on_created is not None:
            await self.on_created(sess)
        if self.create_delay:
            await asyncio.sleep(self.create_delay)
        return web.json_response(self.spec.reply(sess.id), status=201)

    async def _stop(self, request: web.Request) -> web.Response:
        await self.record(request)
        assert self.spec.stop is not None
        refused = self._refused(self.spec.stop, request)
        if refused is not None:
            return refused
        sess = self.sessions.get(request.match_info["id"])
        if sess is None:
            return web.json_response({"error": "no such session"}, status=404)
        sess.stops += 1
        if sess.avatar is not None:
            await sess.avatar.stop()
        return web.json_response(self.spec.stopped(sess.id))
