"""``avatarkit token``: a least-privilege LiveKit join token for one room."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from .shared import ConfigArg, PartFlags


def token(
    room: Annotated[str, typer.Option("--room", help="The one room the token may join.")],
    identity: Annotated[str, typer.Option("--identity", help="Participant identity.")],
    ttl: Annotated[int, typer.Option("--ttl", help="Lifetime in seconds.")] = 600,
    config: ConfigArg = None,
) -> None:
    """Print a LiveKit join token for one room with only the grants a participant needs."""
    from datetime import timedelta

    from ..tokens import check_identity, check_room, check_ttl, make_join_token

    check_room(room, "--room")
    check_identity(identity, "--identity")
    check_ttl(ttl, "--ttl")
    lk = PartFlags(config=config).settings().livekit
    if lk.api_key is None or lk.api_secret is None:
        raise UsageError("`avatarkit token` needs LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
                         hint="export them (or set [livekit] in avatarkit.toml)")
    typer.echo(make_join_token(
        room=room, identity=identity, ttl=timedelta(seconds=ttl),
        api_key=lk.api_key.get_secret_value(), api_secret=lk.api_secret.get_secret_value()))
