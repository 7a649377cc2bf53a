"""The ``heygen`` face: HeyGen's realtime avatar (LiveAvatar) via ``livekit-plugins-liveavatar``.

The avatar joins the LiveKit room as its own participant (token minted from
``LIVEKIT_URL``/``LIVEKIT_API_KEY``/``LIVEKIT_API_SECRET``) and receives the agent's audio as
24 kHz PCM over LiveAvatar's WebSocket.

Paid sessions are always stopped. Upstream (livekit/agents #4193) only calls
``stop_streaming_session`` when the plugin's main task ends, so a failed or cancelled
``start`` (after the session was created) leaked a billed session. On close
(:class:`~avatarkit.faces.avatar_session.AvatarSessionFace` runs it on every exit path) the
face ends the main task (closes its message channel, cancels it after a timeout) and stops
the session itself whenever the plugin did not; the stop request is sent at most once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr

from ..errors import FaceStartError, describe
from ..hookspecs import hookimpl
from ..part import HttpUrl
from .avatar_session import CLOSE_TIMEOUT, LIVEKIT_ENV, AvatarSessionFace, AvatarSessionOptions

log = logging.getLogger("avatarkit.faces.heygen")

SANDBOX_CAP_S = 60.0  # LiveAvatar cuts sandbox sessions after a minute
NO_ROOM = "heygen needs a LiveKit room; use --face local for demo/playground"


class HeyGenFace(AvatarSessionFace):
    """HeyGen LiveAvatar: a cloud avatar that joins the room and lip-syncs the agent."""

    name: ClassVar[str] = "heygen"
    summary: ClassVar[str] = "HeyGen LiveAvatar cloud avatar (joins the LiveKit room)."
    env: ClassVar[tuple[str, ...]] = ("LIVEAVATAR_API_KEY", "LIVEAVATAR_AVATAR_ID", *LIVEKIT_ENV)
    provider: ClassVar[str] = "LiveAvatar"
    plugin_module: ClassVar[str] = "livekit.plugins.liveavatar"
    plugin_stops_session: ClassVar[bool] = True  # when its streaming task ends (made sure below)
    stop_call: ClassVar[str] = ("POST /v1/sessions/stop (the plugin's, made sure of by "
                                "avatarkit on every path, once)")
    load_cost: ClassVar[float] = 0.02

    class Options(AvatarSessionOptions):

        avatar_id: str | None = Field(default=None, description="Else LIVEAVATAR_AVATAR_ID.")
        video_quality: Literal["very_high", "high", "medium", "low"] | None = None
        sandbox: bool = Field(default=False, description="Free sandbox sessions (1 min limit).")
        api_url: HttpUrl | None = Field(
            default=None, description="LiveAvatar sessions API override.")
        api_key: SecretStr | None = Field(default=None, description="Else LIVEAVATAR_API_KEY.")

    options: Options

    @classmethod
    def required_env(cls, options: Any) -> tuple[str, ...]:
        needed = [] if options.api_key is not None else ["LIVEAVATAR_API_KEY"]
        if not options.avatar_id:
            needed.append("LIVEAVATAR_AVATAR_ID")
        return (*needed, *LIVEKIT_ENV)

    def session_cap(self) -> float | None:
        """Sandbox sessions are cut at one minute: rotate them (unless told otherwise)."""
        if self.options.sandbox and "max_session_s" not in self.options.model_fields_set:
            return SANDBOX_CAP_S if self.rotates else None
        return super().session_cap()

    def build_avatar(self, identity: str | None = None) -> Any:
        from livekit.plugins import liveavatar

        opts = self.options
        kwargs: dict[str, Any] = {"is_sandbox": opts.sandbox}
        if identity is not None:
            kwargs["avatar_participant_identity"] = identity
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
        self._guard_stop(avatar)
        avatar._api._session = self.http_session()
        return avatar

    async def start(self, session: Any, transport: Any) -> None:
        if transport.room is None:
            raise FaceStartError(NO_ROOM)
        await super().start(session, transport)

    def plugin_failure(self, avatar: Any) -> BaseException | None:
        """The LiveAvatar streaming task ended on its own (provider disconnect, error)."""
        main = getattr(avatar, "_main_atask", None)
        if main is None or not main.done():
            return None
        if main.cancelled():
            return RuntimeError("the LiveAvatar streaming task was cancelled")
        return main.exception() or RuntimeError("the LiveAvatar session ended")

    async def end_session(self, avatar: Any) -> None:
        """End the streaming task (which stops the session), else stop it ourselves.

        Upstream (livekit/agents #4193) only calls ``stop_streaming_session`` when the
        plugin's main task ends, so a failed or cancelled start (after the session was
        created) leaked a billed session; the stop request is sent at most once.
        """
        await self.step("end the streaming task", self._end_main_task(avatar))
        await self.step("stop the session", self._stop_if_needed(avatar))

    # -- internals ------------------------------------------------------------------------

    @staticmethod
    def _guard_stop(avatar: Any) -> None:
        """Make the plugin's ``stop_streaming_session`` idempotent and observable."""
        api = avatar._api
        original = api.stop_streaming_session
        lock = asyncio.Lock()
        avatar._avatarkit_stop_sent = False

        async def stop_once(session_id: str, session_token: str) -> dict[str, Any]:
            async with lock:
                if avatar._avatarkit_stop_sent:
                    return {"code": 100, "message": "already stopped by avatarkit"}
                data: dict[str, Any] = await original(session_id, session_token)
                avatar._avatarkit_stop_sent = True
                return data

        api.stop_streaming_session = stop_once

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
        if not (session_id and token) or avatar._avatarkit_stop_sent:
            return
        await avatar._api.stop_streaming_session(session_id, token)
        log.info("heygen: LiveAvatar session %s stopped", session_id)


@hookimpl
def register_faces(register: Any) -> None:
    register(HeyGenFace)
