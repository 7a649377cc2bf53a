"""CLI commands that serve browsers: ``avatarkit playground`` and ``avatarkit serve``.

Nothing heavy is imported here: aiohttp, aiortc, av and livekit load inside the commands.
(No ``from __future__ import annotations``: typer reads these annotations at run time and
the shared option aliases are imported inside :func:`register_web_commands`.)
"""

from typing import Annotated

import typer

from .errors import UsageError


def register_web_commands(app: typer.Typer) -> None:
    """Add the browser-facing commands to ``app`` (kept apart from the core CLI)."""
    from .cli import (
        BrainArg,
        BrainOptArg,
        ConfigArg,
        FaceArg,
        FaceOptArg,
        FallbackArg,
        _config,
        _registry,
    )

    host_arg = Annotated[str, typer.Option(
        "--host", help="Interface to listen on (the mic needs http://127.0.0.1 or https).")]

    @app.command()
    def playground(
        brain: BrainArg = None, face: FaceArg = None,
        brain_opt: BrainOptArg = [],  # noqa: B006 - typer default
        face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
        config: ConfigArg = None,
        host: host_arg = "127.0.0.1",
        port: Annotated[int, typer.Option(
            "--port", "-p", help="Port (0 picks a free one).")] = 8765,
        open_: Annotated[bool, typer.Option(
            "--open", help="Open the page in the default browser.")] = False,
        max_sessions: Annotated[int, typer.Option(
            "--max-sessions", help="Browsers served at once (1-64).")] = 4,
    ) -> None:
        """Talk to the avatar in a browser, peer-to-peer (WebRTC), no LiveKit server."""
        from .composer import make_plan

        _check_port(port)
        if not 1 <= max_sessions <= 64:
            raise UsageError(f"--max-sessions must be 1-64 (got {max_sessions})")
        cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
        plan = make_plan(cfg, _registry())  # every part valid before serving (exit 2 if not)
        _require_playground_deps()
        from .playground.server import run_playground

        run_playground(plan, host=host, port=port, open_browser=open_,
                       max_sessions=max_sessions, echo=typer.echo)

    @app.command()
    def serve(
        host: host_arg = "127.0.0.1",
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
        from .web.origins import normalize_origin
        from .web.token_server import check_ttl, run_serve

        _check_port(port)
        check_ttl(ttl)
        origins = [normalize_origin(o) for o in allow_origin]
        cfg = _config(config)
        run_serve(cfg.livekit, host=host, port=port, allow_origins=origins, ttl=ttl,
                  echo=typer.echo, agent_name=cfg.worker.agent_name)


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0-65535 (got {port})", hint="0 picks a free port")


def _require_playground_deps() -> None:
    from importlib.util import find_spec

    missing = [m for m in ("aiortc", "av", "numpy") if find_spec(m) is None]
    if missing:
        raise UsageError(f"the playground needs {', '.join(missing)}",
                         hint="pip install 'avatarkit[playground]'")
