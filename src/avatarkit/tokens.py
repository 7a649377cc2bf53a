"""LiveKit join tokens with the least privilege a participant needs.

A token made here lets one identity join one room and nothing else: no room creation,
administration, listing or recording. ``livekit.api`` is imported only when a token is made.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .errors import UsageError

DEFAULT_TTL = timedelta(minutes=10)
MAX_TTL = timedelta(hours=24)


def make_join_token(
    *,
    room: str,
    identity: str,
    api_key: str,
    api_secret: str,
    ttl: timedelta = DEFAULT_TTL,
    name: str | None = None,
    can_publish: bool = True,
    can_subscribe: bool = True,
    can_publish_data: bool = True,
    agent_name: str | None = None,
) -> str:
    """A signed JWT that lets ``identity`` join ``room`` (only that room) for ``ttl``.

    ``agent_name``: the room this participant creates dispatches that agent (a worker
    registered with ``worker.agent_name`` is only ever dispatched explicitly).

    Raises :class:`~avatarkit.errors.UsageError` for an empty room/identity/key/secret or a
    ``ttl`` that is not in (0, 24 h].
    """
    for label, value in (("room", room), ("identity", identity),
                         ("api_key", api_key), ("api_secret", api_secret)):
        if not value or not value.strip():
            raise UsageError(
                f"cannot make a join token: {label} is empty",
                hint="pass the room name, a participant identity and the LiveKit API key/secret "
                "(LIVEKIT_API_KEY / LIVEKIT_API_SECRET)",
            )
    if ttl <= timedelta(0) or ttl > MAX_TTL:
        raise UsageError(
            f"cannot make a join token: ttl must be more than 0 and at most 24 h (got {ttl})",
            hint="use a short ttl such as 10 minutes; the client reconnects with a fresh token",
        )

    from livekit import api

    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=can_publish,
        can_subscribe=can_subscribe,
        can_publish_data=can_publish_data,
    )
    token = (
        api.AccessToken(api_key=api_key, api_secret=api_secret)
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(grants)
    )
    if name:
        token = token.with_name(name)
    if agent_name:
        token = token.with_room_config(api.RoomConfiguration(
            agents=[api.RoomAgentDispatch(agent_name=agent_name)]))
    return str(token.to_jwt())


def decode_grants(token: str, api_secret: str) -> dict[str, Any]:
    """Verify ``token``'s signature with ``api_secret`` and return its claims.

    The result holds ``sub`` (identity), ``iss`` (API key), ``nbf``, ``exp``, ``name`` and
    ``video`` (the grants, camelCase as LiveKit puts them on the wire). Raises
    ``jwt.InvalidTokenError`` for a bad signature or an expired token.
    """
    import jwt

    claims: dict[str, Any] = jwt.decode(
        token, api_secret, algorithms=["HS256"], options={"require": ["exp", "sub", "iss"]},
        leeway=60,
    )
    return claims
