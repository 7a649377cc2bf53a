"""The ``avatarkit`` Typer app: the root options and every command, in help order.

Each command lives in a module of its own (``plugins.py``, ``run.py``...); the options
they share are in :mod:`.shared`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .config import config_app
from .demo import demo
from .doctor import doctor
from .playground import playground
from .plugin_new import plugin_app
from .plugins import plugins
from .run import run
from .serve import serve
from .shared import STATE
from .token import token

app = typer.Typer(
    name="avatarkit",
    help="Put a talking, lip-synced AI avatar into a LiveKit room: pick a Brain and a Face.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")]
    = False,
    no_plugin: Annotated[list[str], typer.Option(
        "--no-plugin", help="Do not load this plugin distribution or entry point "
        "(repeatable).", metavar="NAME")] = [],  # noqa: B006 - typer default
) -> None:
    STATE.debug = debug or STATE.debug
    # --no-plugin may also follow the subcommand: main() collects those (entry._take_no_plugin)
    STATE.blocked = [*STATE.early_blocked, *no_plugin]


for command in (plugins, run, doctor, token, demo, playground, serve):
    app.command()(command)
app.add_typer(config_app, name="config")
app.add_typer(plugin_app, name="plugin")
