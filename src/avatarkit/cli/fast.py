"""The fast path of ``avatarkit plugins``: its plain forms answered without importing typer
or building the Typer app (typer, its bundled click and the pydantic adapter it builds per
parameter would cost more than the cached listing itself).

Only ``[--debug] plugins [--json] [--verbose|-v] [--available]`` (``--no-plugin`` taken off
already) takes it; anything else (``--help``, a typo, another command) goes to Typer, which
prints the same text for these forms (:func:`.plugins_text.plugins_text`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from .state import STATE

_FLAGS = {"--json": "as_json", "--verbose": "verbose", "-v": "verbose",
          "--available": "available"}


def fast_command(args: list[str]) -> Callable[[], int] | None:
    """The command for ``args`` when it can run without Typer (returning its exit code);
    ``None`` when Typer must parse them."""
    rest = list(args)
    while rest and rest[0] == "--debug":
        rest.pop(0)
    if not rest or rest[0] != "plugins" or not set(rest[1:]) <= _FLAGS.keys():
        return None
    flags = {name: False for name in _FLAGS.values()}
    flags.update({_FLAGS[arg]: True for arg in rest[1:]})

    def run() -> int:
        from .plugins_text import plugins_text

        STATE.blocked = list(STATE.early_blocked)
        text = plugins_text(**flags, blocked=STATE.blocked, environ=os.environ)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
        return 0

    return run
