"""``avatarkit playground``: talk to the avatar in a browser, peer-to-peer (WebRTC)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from .shared import HostArg, PartFlags, check_port, load_registry, picks_parts


@picks_parts
def playground(
    parts: PartFlags,
    host: HostArg = "127.0.0.1",
    port: Annotated[int, typer.Option(
        "--port", "-p", help="Port (0 picks a free one).")] = 8765,
    open_: Annotated[bool, typer.Option(
        "--open", help="Open the page in the default browser.")] = False,
    max_sessions: Annotated[int, typer.Option(
        "--max-sessions", help="Browsers served at once (1-64).")] = 4,
) -> None:
    """Talk to the avatar in a browser, peer-to-peer (WebRTC), no LiveKit server."""
    from ..composer import make_plan

    check_port(port)
    if not 1 <= max_sessions <= 64:
        raise UsageError(f"--max-sessions must be 1-64 (got {max_sessions})")
    # every part valid before serving (exit 2 if not)
    plan = make_plan(parts.settings(), load_registry())
    _require_playground_deps()
    from ..playground.server import run_playground

    run_playground(plan, host=host, port=port, open_browser=open_,
                   max_sessions=max_sessions, echo=typer.echo)


def _require_playground_deps() -> None:
    from importlib.util import find_spec

    missing = [m for m in ("aiortc", "av", "numpy") if find_spec(m) is None]
    if missing:
        raise UsageError(f"the playground needs {', '.join(missing)}",
                         hint="pip install 'avatarkit[playground]'")
