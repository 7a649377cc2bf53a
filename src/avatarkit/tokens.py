"""LiveKit join tokens with the least privilege a participant needs.

A token made here lets one identity join one room and nothing else: no room creation,
administration, listing or recording. ``livekit.api`` is imported only when a token is made.

The room, identity and TTL rules here are the only ones: ``avatarkit token`` and
``avatarkit serve``'s ``POST /token`` both use them.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from .errors import UsageError, clip

DEFAULT_TTL = timedelta(minutes=10)
#: The one ceiling for every token avatarkit makes (CLI and web endpoint).
MAX_TTL = timedelta(hours=1)
MAX_TTL_SECONDS = int(MAX_TTL.total_seconds())
ROOM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
IDENTITY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
MAX_NAME = 64
ROOM_RULE = ("room must be 1-64 characters: letters, digits, '_', '-', '.', ':' "
             "(starting with a letter or digit)")
IDENTITY_RULE = ("identity must be 1-64 characters: letters, digits, '_', '-', '.', ':', '@' "
                 "(starting with a letter or digit)")
NAME_RULE = f"name must be printable text of 1-{MAX_NAME} characters"


def room_problem(room: object) -> str | None:
    """Why ``room`` is not a valid room name (no ``*``, spaces or control characters, at
    most 64 characters), or ``None``."""
    return None if isinstance(room, str) and ROOM_RE.fullmatch(room) else ROOM_RULE


def identity_problem(identity: object) -> str | None:
    """Why ``identity`` is not a valid participant identity, or ``None``."""
    ok = isinstance(identity, str) and IDENTITY_RE.fullmatch(identity)
    return None if ok else IDENTITY_RULE


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid display name, or ``None``."""
    ok = (isinstance(name, str) and name.strip() and len(name) <= MAX_NAME
          and name.isprintable())
    return None if ok else NAME_RULE


def ttl_problem(seconds: float) -> str | None:
    """Why a TTL of ``seconds`` is refused (not in 1 s .. :data:`MAX_TTL`), or ``None``."""
    if 0 < seconds <= MAX_TTL_SECONDS:
        return None
    return f"ttl must be more than 0 and at most {MAX_TTL_SECONDS} s (1 h)"


def _usage(problem: str | None, flag: str, value: object, hint: str) -> None:
    if problem is not None:
        raise UsageError(f"{flag} {clip(value)}: {problem}", hint=hint)


def check_room(room: str, flag: str = "room") -> str:
    """``room`` if valid, else a :class:`~avatarkit.errors.UsageError` naming ``flag``."""
    _usage(room_problem(room), flag, room, f"for example {flag} demo-1")
    return room


def check_identity(identity: str, flag: str = "identity") -> str:
    """``identity`` if valid, else a :class:`~avatarkit.errors.UsageError`."""
    _usage(identity_problem(identity), flag, identity, f"for example {flag} user-1")
    return identity


def check_ttl(seconds: int, flag: str = "ttl") -> int:
    """``seconds`` if within (0, :data:`MAX_TTL`], else a :class:`UsageError`."""
    _usage(ttl_problem(seconds), flag, seconds,
           "tokens are short-lived: the client asks for a new one each time it joins")
    return seconds


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

    Raises :class:`~avatarkit.errors.UsageError` for an empty room/identity/key/secret, a
    room, identity or name that breaks the rules above, or a ``ttl`` not in (0, 1 h].
    """
    for label, value in (("room", room), ("identity", identity),
                         ("api_key", api_key), ("api_secret", api_secret)):
        if not value or not value.strip():
            raise UsageError(
                f"cannot make a join token: {label} is empty",
                hint="pass the room name, a participant identity and the LiveKit API key/secret "
                "(LIVEKIT_API_KEY / LIVEKIT_API_SECRET)",
            )
    problem = (room_problem(room) or identity_problem(identity)
               or (name_problem(name) if name is not None else None)
               or ttl_problem(ttl.total_seconds()))
    if problem is not None:
        raise UsageError(f"cannot make a join token: {problem}",
                         hint="use a short ttl such as 10 minutes; the client reconnects with "
                         "a fresh token")

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
