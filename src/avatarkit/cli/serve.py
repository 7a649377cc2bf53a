"""``avatarkit serve``: a LiveKit token endpoint and a page that joins a room."""

from __future__ import annotations

from typing import Annotated

import typer

from .shared import ConfigArg, HostArg, PartFlags, check_port


def serve(
    host: HostArg = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", "-p", help="Port (0 picks a free one).")] = 8766,
    allow_origin: Annotated[list[str], typer.Option(
        "--allow-origin", metavar="ORIGIN",
        help="Also accept token requests from this origin (repeatable; '*' = any). "
        "The server's own pages are always allowed.")] = [],  # noqa: B006
    ttl: Annotated[int, typer.Option(
        "--ttl", help="Token lifetime in seconds (max 3600).")] = 600,
    config: ConfigArg = None,
) -> None:
    """Serve a LiveKit token endpoint (POST /token) and a page that joins a room.

    With worker.agent_name set (AVATARKIT_AGENT_NAME), tokens dispatch that agent."""
    from ..web.origins import normalize_origin
    from ..web.token_server import check_ttl, run_serve

    check_port(port)
    check_ttl(ttl)
    origins = [normalize_origin(o) for o in allow_origin]
    cfg = PartFlags(config=config).settings()
    run_serve(cfg.livekit, host=host, port=port, allow_origins=origins, ttl=ttl,
              echo=typer.echo, agent_name=cfg.worker.agent_name)
