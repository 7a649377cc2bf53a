"""A session's link to its worker's control API (:mod:`avatarkit.web.sessions_api`).

Runs in the job process: once the session has its face, :func:`open_link` connects to the
worker's ``/_link`` WebSocket, registers the session (id, room, face, emotion, background)
and carries out the commands sent to it on that face; :meth:`SessionLink.aclose` (at the
session's end) unregisters it. A link that cannot connect is logged and the session goes
on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from ..errors import AvatarkitError, describe
from ..web.sessions_api import LINK_PATH, LinkAddress

log = logging.getLogger("avatarkit.worker")


def face_state(face: Any) -> dict[str, Any]:
    """What ``GET /avatars`` shows of a session's face."""
    caps = face.capabilities()
    state: dict[str, Any] = {"face": face.name, "emotion": None, "background": None,
                             "emotions": caps.get("emotions", []),
                             "supports_background": bool(caps.get("background"))}
    control_state = getattr(face, "control_state", None)
    if callable(control_state):
        current = control_state()
        state["emotion"] = current.get("emotion")
        state["background"] = current.get("background")
    return state


class SessionLink:
    """One registered session (see the module doc)."""

    def __init__(self, http: Any, ws: Any, face: Any) -> None:
        self._http, self._ws, self.face = http, ws, face
        self._task = asyncio.create_task(self._serve(), name="avatarkit-session-link")

    async def _serve(self) -> None:
        from aiohttp import WSMsgType

        async for msg in self._ws:
            if msg.type != WSMsgType.TEXT:
                continue
            command = msg.json()
            if command.get("type") == "command":
                await self._ws.send_json({"type": "reply", "id": command.get("id"),
                                          **await self._run(command)})

    async def _run(self, command: dict[str, Any]) -> dict[str, Any]:
        try:
            if command.get("op") == "emotion":
                await self.face.set_emotion(str(command["name"]),
                                            float(command.get("intensity", 1.0)))
            elif command.get("op") == "background":
                await self.face.set_background(str(command["background"]))
            elif command.get("op") != "state":
                return {"ok": False, "error": f"unknown command {command.get('op')!r}"}
        except AvatarkitError as exc:
            return {"ok": False, "error": exc.message, "hint": exc.hint}
        except Exception as exc:  # noqa: BLE001 - reported to the caller, the session goes on
            log.warning("control command %s failed", command.get("op"), exc_info=True)
            return {"ok": False, "error": describe(exc)}
        return {"ok": True, "state": face_state(self.face)}

    async def aclose(self) -> None:
        """Unregister the session (idempotent)."""
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        await self._ws.close()
        await self._http.close()


async def open_link(address: LinkAddress, *, session_id: str, room: str,
                    face: Any) -> SessionLink | None:
    """Register the session with the worker's control API; ``None`` if that fails."""
    import aiohttp

    http = aiohttp.ClientSession()
    try:
        ws = await http.ws_connect(address.url + LINK_PATH,
                                   headers={"Authorization": f"Bearer {address.secret}"})
        await ws.send_json({"type": "register", "session": {
            "session_id": session_id, "room": room, **face_state(face)}})
    except Exception as exc:  # noqa: BLE001 - the conversation matters more than the API
        await http.close()
        log.warning("session %s could not register with the control API (%s)", session_id,
                    describe(exc))
        return None
    return SessionLink(http, ws, face)
