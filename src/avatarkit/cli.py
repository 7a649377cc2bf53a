"""The ``avatarkit`` command line. Thin: parse, load config, call the library.

Heavy modules (livekit, numpy, av) are imported inside the commands that need them, so
``avatarkit --help`` and ``avatarkit plugins`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from .errors import AvatarkitError, UsageError

if TYPE_CHECKING:
    from .config import AvatarkitConfig
    from .registry import Registry

app = typer.Typer(
    name="avatarkit",
    help="Put a talking, lip-synced AI avatar into a LiveKit room: pick a Brain and a Face.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
config_app = typer.Typer(help="Inspect the merged configuration.", no_args_is_help=True)
app.add_typer(config_app, name="config")

_state: dict[str, Any] = {"debug": False, "blocked": []}

# Options shared by the commands that pick parts (Annotated aliases keep them identical).
BrainArg = Annotated[str | None, typer.Option(
    "--brain", "-b", help="Brain to run (see `avatarkit plugins`).")]
FaceArg = Annotated[str | None, typer.Option(
    "--face", "-f", help="Face to show (see `avatarkit plugins`).")]
BrainOptArg = Annotated[list[str], typer.Option(
    "--brain-opt", help="Brain option KEY=VALUE (repeatable).", metavar="KEY=VALUE")]
FaceOptArg = Annotated[list[str], typer.Option(
    "--face-opt", help="Face option KEY=VALUE, or FACE.KEY=VALUE for a fallback face "
    "(repeatable).", metavar="KEY=VALUE")]
FallbackArg = Annotated[list[str] | None, typer.Option(
    "--fallback", help="Faces to try if the face fails, in order (repeatable or a,b).")]
ConfigArg = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Path to avatarkit.toml (default: ./avatarkit.toml if present).")]


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and debug logs.")]
    = False,
    no_plugin: Annotated[list[str], typer.Option(
        "--no-plugin", help="Do not load this plugin distribution or entry point "
        "(repeatable).", metavar="NAME")] = [],  # noqa: B006 - typer default
) -> None:
    _state["debug"] = debug or _state["debug"]
    _state["blocked"] = list(no_plugin)


def _registry() -> Registry:
    from .registry import Registry

    return Registry.load(blocked=_state["blocked"])


def _config(
    config: Path | None, brain: str | None = None, face: str | None = None,
    brain_opt: list[str] | None = None, face_opt: list[str] | None = None,
    fallback: list[str] | None = None,
) -> AvatarkitConfig:
    from .config import load_config

    return load_config(path=config, brain=brain, face=face, fallback=fallback,
                       brain_opts=brain_opt or (), face_opts=face_opt or ())


# -- plugins ------------------------------------------------------------------------------
@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Include option schemas.")]
    = False,
) -> None:
    """List every brain and face: where it comes from, what it needs, whether it works."""
    from .listing import describe_parts, render_parts

    registry = _registry()
    rows = describe_parts(registry, os.environ, verbose=verbose)
    if as_json:
        problems = [p.__dict__ for p in registry.problems]
        typer.echo(json.dumps({"parts": rows, "problems": problems}, indent=2))
    else:
        typer.echo(render_parts(rows, verbose=verbose))


# -- config -------------------------------------------------------------------------------
@config_app.command("show")
def config_show(
    brain: BrainArg = None, face: FaceArg = None, brain_opt: BrainOptArg = [],  # noqa: B006
    face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
    config: ConfigArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of TOML.")] = False,
) -> None:
    """Print the merged configuration (flags > env > file > defaults), secrets masked."""
    from .listing import to_toml

    cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
    data = cfg.masked()
    typer.echo(json.dumps(data, indent=2) if as_json else to_toml(data))


# -- run ----------------------------------------------------------------------------------
@app.command()
def run(
    brain: BrainArg = None, face: FaceArg = None, brain_opt: BrainOptArg = [],  # noqa: B006
    face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
    config: ConfigArg = None,
    dev: Annotated[bool, typer.Option("--dev", help="LiveKit dev mode (reload, debug).")]
    = False,
    room: Annotated[str | None, typer.Option(
        "--room", help="Join this one room directly instead of waiting for dispatch.")] = None,
) -> None:
    """Run a LiveKit worker that puts the avatar into rooms (production by default)."""
    from .composer import make_plan
    from .worker import run_worker

    cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
    make_plan(cfg, _registry())  # every part valid and credentialed before any connection
    mode: Literal["start", "dev", "connect"] = "connect" if room else ("dev" if dev else "start")
    run_worker(cfg, mode=mode, room=room, log_level="debug" if _state["debug"] else None)


# -- doctor -------------------------------------------------------------------------------
@app.command()
def doctor(
    brain: BrainArg = None, face: FaceArg = None, brain_opt: BrainOptArg = [],  # noqa: B006
    face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
    config: ConfigArg = None,
) -> None:
    """Check packages, credentials and reachability for a brain and face chain."""
    from .doctor import doctor_for_config

    cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
    ok = doctor_for_config(cfg, _registry(), echo=typer.echo)
    raise typer.Exit(0 if ok else 1)


# -- token --------------------------------------------------------------------------------
@app.command()
def token(
    room: Annotated[str, typer.Option("--room", help="The one room the token may join.")],
    identity: Annotated[str, typer.Option("--identity", help="Participant identity.")],
    ttl: Annotated[int, typer.Option("--ttl", help="Lifetime in seconds.")] = 600,
    config: ConfigArg = None,
) -> None:
    """Print a LiveKit join token for one room with only the grants a participant needs."""
    from datetime import timedelta

    from .tokens import make_join_token

    cfg = _config(config)
    lk = cfg.livekit
    if lk.api_key is None or lk.api_secret is None:
        raise UsageError("`avatarkit token` needs LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
                         hint="export them (or set [livekit] in avatarkit.toml)")
    typer.echo(make_join_token(
        room=room, identity=identity, ttl=timedelta(seconds=ttl),
        api_key=lk.api_key.get_secret_value(), api_secret=lk.api_secret.get_secret_value()))


# -- demo ---------------------------------------------------------------------------------
@app.command()
def demo(
    brain: BrainArg = None, face: FaceArg = None, brain_opt: BrainOptArg = [],  # noqa: B006
    face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
    config: ConfigArg = None,
    input_: Annotated[list[Path], typer.Option(
        "--input", "-i", help="Spoken question(s) to play (repeatable; wav/mp3/...).")]
    = [],  # noqa: B006
    ask: Annotated[list[str], typer.Option(
        "--ask", help="Question text, spoken by the local TTS (repeatable).")] = [],  # noqa: B006
    output: Annotated[Path, typer.Option("--output", "-o", help="The mp4 to write.")]
    = Path("demo.mp4"),
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Also write the session report as JSON.")] = None,
    interrupt_after: Annotated[float | None, typer.Option(
        "--interrupt-after", help="Say the last question this many seconds into the reply "
        "to the one before (a barge-in).", min=0.0)] = None,
) -> None:
    """Talk to the avatar with no server and no account: questions in, an mp4 out."""
    from .demo import print_demo, run_demo

    cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
    result = run_demo(cfg, inputs=input_, asks=ask, output=output, registry=_registry(),
                      interrupt_after=interrupt_after)
    print_demo(result, echo=typer.echo)
    if report_json is not None:
        report_json.write_text(json.dumps(result.to_dict(), indent=2))


from .cli_web import register_web_commands  # noqa: E402 - after the shared option aliases

register_web_commands(app)


# -- entry point --------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> None:
    """Console-script entry: exit 2 for usage errors, 1 for runtime errors, no tracebacks
    unless ``--debug`` (or ``AVATARKIT_DEBUG=1``)."""
    import click
    from typer._click import exceptions as typer_click  # typer bundles its own click

    args = sys.argv[1:] if argv is None else argv
    _state["debug"] = "--debug" in args or os.environ.get("AVATARKIT_DEBUG", "") not in ("", "0")
    _setup_logging(_state["debug"])
    try:
        # Non-standalone click returns an `Exit`'s code instead of raising it.
        result = app(args=args, prog_name="avatarkit", standalone_mode=False)
    except (click.exceptions.Exit, typer.Exit) as exc:
        sys.exit(exc.exit_code)
    except (click.ClickException, typer_click.ClickException) as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, typer.Abort, KeyboardInterrupt):
        print("avatarkit: interrupted", file=sys.stderr)
        sys.exit(130)
    except AvatarkitError as exc:
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        print(f"avatarkit: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, no traceback
        if _state["debug"]:
            raise
        print(f"avatarkit: unexpected error: {type(exc).__name__}: {exc}\n"
              "  hint: rerun with --debug for the traceback, and report it", file=sys.stderr)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


def _setup_logging(debug: bool) -> None:
    import logging

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        for noisy in ("livekit", "livekit.agents", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        logging.getLogger("avatarkit").setLevel(logging.INFO)
