"""The ``heygen`` face: HeyGen's realtime avatar (LiveAvatar) via ``livekit-plugins-liveavatar``.

The avatar joins the LiveKit room as its own participant (token minted from
``LIVEKIT_URL``/``LIVEKIT_API_KEY``/``LIVEKIT_API_SECRET``) and receives the agent's audio as
24 kHz PCM over LiveAvatar's WebSocket.

Paid sessions are always stopped. Upstream (livekit/agents #4193) only calls
``stop_streaming_session`` when the plugin's main task ends, so a failed or cancelled
``start`` (after the session was created) leaked a billed session. :meth:`HeyGenFace.aclose`
ends the main task (closes its message channel, cancels it after a timeout) and stops the
session itself whenever the plugin did not; the stop request is sent at most once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from ..errors import FaceStartError, describe
from ..face import Face
from ..hookspecs import hookimpl
from ..part import HttpUrl, PartOptions
from ..transports.base import Transport

log = logging.getLogger("avatarkit.faces.heygen")

LIVEKIT_ENV = ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
CLOSE_TIMEOUT = 5.0  # seconds for each cleanup step (main task end, stop request)
NO_ROOM = "heygen needs a LiveKit room; use --face local for demo/playground"


class HeyGenFace(Face):
    """HeyGen LiveAvatar: a cloud avatar that joins the room and lip-syncs the agent."""

    name: ClassVar[str] = "heygen"
    summary: ClassVar[str] = "HeyGen LiveAvatar cloud avatar (joins the LiveKit room)."
    env: ClassVar[tuple[str, ...]] = ("LIVEAVATAR_API_KEY", "LIVEAVATAR_AVATAR_ID", *LIVEKIT_ENV)
    load_cost: ClassVar[float] = 0.02

    class Options(PartOptions):

        avatar_id: str | None = Field(default=None, description="Else LIVEAVATAR_AVATAR_ID.")
        video_quality: Literal["very_high", "high", "medium", "low"] | None = None
        sandbox: bool = Field(default=False, description="Free sandbox sessions (1 min limit).")
        api_url: HttpUrl | None = Field(
            default=None, description="LiveAvatar sessions API override.")
        api_key: SecretStr | None = Field(default=None, description="Else LIVEAVATAR_API_KEY.")
        join_timeout: float = Field(
            default=30.0, gt=0, description="Seconds to wait for the avatar's video track."
        )

    options: Options

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules this face needs (checked by ``avatarkit doctor``)."""
        return ("livekit.agents", "livekit.plugins.liveavatar")

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        needed = [] if options.api_key is not None else ["LIVEAVATAR_API_KEY"]
        if not options.avatar_id:
            needed.append("LIVEAVATAR_AVATAR_ID")
        return (*needed, *LIVEKIT_ENV)

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.avatar: Any = None  # the plugin's AvatarSession, kept for aclose
        self._start_task: asyncio.Task[None] | None = None
        self._own_http: Any = None  # aiohttp session we opened when no job context had one
        self._stop_sent = False
        self._stop_lock = asyncio.Lock()
        self._close_task: asyncio.Task[None] | None = None

    def failure(self) -> BaseException | None:
        """The LiveAvatar streaming task ended on its own (provider disconnect, error)."""
        main = getattr(self.avatar, "_main_atask", None)
        if main is None or not main.done() or self._close_task is not None:
            return None
        if main.cancelled():
            return RuntimeError("the LiveAvatar streaming task was cancelled")
        return main.exception() or RuntimeError("the LiveAvatar session ended")

    async def start(self, session: Any, transport: Transport) -> None:
        room = transport.room
        if room is None:
            raise FaceStartError(NO_ROOM)
        if self.avatar is not None:
            raise FaceStartError("this heygen face was already started; create a new one")

        from livekit.plugins import liveavatar

        opts = self.options
        kwargs: dict[str, Any] = {"is_sandbox": opts.sandbox}
        if opts.avatar_id:
            kwargs["avatar_id"] = opts.avatar_id
        if opts.api_url:
            kwargs["api_url"] = opts.api_url.rstrip("/")
        if opts.api_key is not None:
            kwargs["api_key"] = opts.api_key.get_secret_value()
        if opts.video_quality:
            kwargs["video_quality"] = opts.video_quality
        try:
            avatar = liveavatar.AvatarSession(**kwargs)
        except Exception as exc:
            raise FaceStartError(f"heygen: {exc}") from exc
        self.avatar = avatar
        self._guard_stop(avatar)
        self._ensure_http_session(avatar)

        # The plugin's start creates the paid session; it runs in its own task so that a
        # cancellation (the composer's join timeout) cannot interrupt it between "created"
        # and "id recorded": aclose waits for it and then stops what it created.
        self._start_task = asyncio.ensure_future(avatar.start(session, room))
        try:
            await asyncio.shield(self._start_task)
            await avatar.wait_for_join(timeout=opts.join_timeout)
        except asyncio.TimeoutError as exc:
            raise FaceStartError(
                f"heygen avatar did not join the room within {opts.join_timeout:g} s"
            ) from exc
        except FaceStartError:
            raise
        except Exception as exc:
            raise FaceStartError(f"heygen could not start: {describe(exc)}") from exc

    async def aclose(self) -> None:
        """Stop the LiveAvatar session (once), end the plugin's tasks, remove the avatar."""
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close())
        try:
            await asyncio.shield(self._close_task)
        except asyncio.CancelledError:
            raise
        except Exception:  # pragma: no cover - _close logs everything itself
            log.warning("heygen: cleanup failed", exc_info=True)

    # -- internals ------------------------------------------------------------------------

    def _guard_stop(self, avatar: Any) -> None:
        """Make the plugin's ``stop_streaming_session`` idempotent and observable."""
        api = avatar._api
        original = api.stop_streaming_session

        async def stop_once(session_id: str, session_token: str) -> dict[str, Any]:
            async with self._stop_lock:
                if self._stop_sent:
                    return {"code": 100, "message": "already stopped by avatarkit"}
                data: dict[str, Any] = await original(session_id, session_token)
                self._stop_sent = True
                return data

        api.stop_streaming_session = stop_once

    def _ensure_http_session(self, avatar: Any) -> None:
        """Outside a LiveKit job there is no shared http session: give the plugin one."""
        from livekit.agents.utils import http_context

        try:
            http_context.http_session()
        except RuntimeError:
            import aiohttp

            self._own_http = aiohttp.ClientSession()
            avatar._api._session = self._own_http

    async def _close(self) -> None:
        avatar = self.avatar
        if avatar is not None:
            await self._step("wait for start", self._finish_start())
            await self._step("end the streaming task", self._end_main_task(avatar))
            await self._step("stop the session", self._stop_if_needed(avatar))
            await self._step("remove the avatar", avatar.aclose())
        if self._own_http is not None:
            await self._step("close http session", self._own_http.close())
            self._own_http = None

    async def _step(self, what: str, coro: Any) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("heygen: could not %s: %s", what, describe(exc), exc_info=True)

    async def _finish_start(self) -> None:
        task = self._start_task
        if task is None:
            return
        if not task.done():
            done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)
            if not done:
                task.cancel()
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # retrieved: start's caller already reported it

    async def _end_main_task(self, avatar: Any) -> None:
        main = avatar._main_atask
        if main is None:
            # start failed before the streaming task: release the plugin's audio queue
            buffer = getattr(avatar, "_audio_buffer", None)
            if buffer is not None:
                await buffer.aclose()
            return
        if not main.done():
            avatar._msg_ch.close()  # the send loop ends, the task stops the session
            done, _ = await asyncio.wait({main}, timeout=CLOSE_TIMEOUT)
            if not done:
                log.warning("heygen: streaming task did not end in %.0f s; cancelling",
                            CLOSE_TIMEOUT)
                main.cancel()
                await asyncio.wait({main}, timeout=CLOSE_TIMEOUT)
        if main.done() and not main.cancelled() and main.exception() is not None:
            log.info("heygen: streaming task ended with %s", describe(main.exception()))

    async def _stop_if_needed(self, avatar: Any) -> None:
        session_id, token = avatar._session_id, avatar._session_token
        if not (session_id and token) or self._stop_sent:
            return
        await asyncio.wait_for(
            avatar._api.stop_streaming_session(session_id, token), CLOSE_TIMEOUT
        )
        log.info("heygen: LiveAvatar session %s stopped", session_id)



@hookimpl
def register_faces(register: Any) -> None:
    register(HeyGenFace)
