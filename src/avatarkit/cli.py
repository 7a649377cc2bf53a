"""The ``avatarkit`` command line. Thin: parse, load config, call the library.

Heavy modules (livekit, numpy, av) are imported inside the commands that need them, so
``avatarkit --help`` and ``avatarkit plugins`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from .errors import AvatarkitError, UsageError, describe

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

_state: dict[str, Any] = {"debug": False, "blocked": [], "early_blocked": []}

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
    # --no-plugin may also follow the subcommand: main() collects those (see _take_no_plugin)
    _state["blocked"] = [*_state["early_blocked"], *no_plugin]


def _registry(quiet: bool = False) -> Registry:
    from .registry import Registry

    return Registry.load(blocked=_state["blocked"],
                         warn=(lambda _message: None) if quiet else None)


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

    registry = _registry(quiet=True)  # problems are part of the listing below
    rows = describe_parts(registry, os.environ, verbose=verbose)
    if as_json:
        problems = [{**p.__dict__, "message": p.text()} for p in registry.problems]
        duplicates = [{"kind": kind, "name": name, "distributions": dists}
                      for (kind, name), dists in sorted(registry.duplicates.items())]
        typer.echo(json.dumps({"parts": rows, "problems": problems,
                               "duplicates": duplicates}, indent=2))
    else:
        typer.echo(render_parts(rows, verbose=verbose))
        lines = registry.problem_lines()
        if lines:
            typer.echo(f"\nproblems ({len(lines)}):")
            typer.echo("\n".join(f"  {line}" for line in lines))


# -- config -------------------------------------------------------------------------------
@config_app.command("show")
def config_show(
    brain: BrainArg = None, face: FaceArg = None, brain_opt: BrainOptArg = [],  # noqa: B006
    face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
    config: ConfigArg = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of TOML.")] = False,
) -> None:
    """Print the merged configuration (flags > env > file > defaults), secrets masked."""
    from .composer import make_plan
    from .listing import secret_fields, to_toml

    cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
    registry = _registry()
    make_plan(cfg, registry, check_usable=False)  # names and options, as `run` checks them
    data = cfg.masked(secret_fields(registry))
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
    """Run a LiveKit worker that puts the avatar into rooms (production by default).

    Ctrl-C (or SIGTERM) stops it: exit 0 once it had registered with LiveKit, 1 if it never
    did (an unreachable server is reported within seconds, exit 1)."""
    from .composer import make_plan
    from .worker.run import run_worker

    if room is not None:
        from .tokens import check_room

        check_room(room, "--room")
    cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
    plan = make_plan(cfg, _registry())  # every part valid and credentialed before connecting
    mode: Literal["start", "dev", "connect"] = "connect" if room else ("dev" if dev else "start")
    run_worker(plan, mode=mode, room=room, echo=typer.echo)


# -- doctor -------------------------------------------------------------------------------
@app.command()
def doctor(
    brain: BrainArg = None, face: FaceArg = None, brain_opt: BrainOptArg = [],  # noqa: B006
    face_opt: FaceOptArg = [], fallback: FallbackArg = None,  # noqa: B006
    config: ConfigArg = None,
) -> None:
    """Check packages, credentials and reachability for a brain and face chain.

    Without LiveKit settings, a chain that needs no LiveKit room is ready for `demo` and
    `playground` (exit 0, with a warning that `run` needs LiveKit)."""
    from .doctor import doctor_for_config

    cfg = _config(config, brain, face, brain_opt, face_opt, fallback)
    ok = doctor_for_config(cfg, _registry(), echo=typer.echo, needs_livekit=None)
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

    from .tokens import check_identity, check_room, check_ttl, make_join_token

    check_room(room, "--room")
    check_identity(identity, "--identity")
    check_ttl(ttl, "--ttl")
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
    from .demo import check_asks, check_output, print_demo, run_demo

    # cheap checks first: nothing loads, and no turn runs, for an output that cannot be written
    check_output(output, "--output", suffixes=(".mp4", ".m4v", ".mov", ".mkv"))
    if report_json is not None:
        check_output(report_json, "--report-json")
    check_asks(ask)
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
    args = sys.argv[1:] if argv is None else argv
    args, _state["early_blocked"] = _take_no_plugin(args)
    _state["debug"] = "--debug" in args or os.environ.get("AVATARKIT_DEBUG", "") not in ("", "0")
    _setup_logging(_state["debug"])
    with _sigint_probe() as sigint_seen:
        _run_app(args, sigint_seen)


def _run_app(args: list[str], sigint_seen: Callable[[], bool]) -> None:
    import click
    from typer._click import exceptions as typer_click  # typer bundles its own click

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
        if _caused_by_interrupt(exc) or sigint_seen():  # Ctrl-C in a C extension's import
            print("avatarkit: interrupted", file=sys.stderr)
            sys.exit(130)
        if _state["debug"]:
            raise
        text = describe(exc)
        text = text if len(text) <= 300 else f"{text[:280]}... ({len(text)} characters)"
        print(f"avatarkit: unexpected error: {text}\n"
              "  hint: rerun with --debug for the traceback, and report it", file=sys.stderr)
        sys.exit(1)
    if result == 130:  # typer turns a KeyboardInterrupt into Exit(130): no command returns it
        print("avatarkit: interrupted", file=sys.stderr)
    sys.exit(result if isinstance(result, int) else 0)


@contextmanager
def _sigint_probe() -> Iterator[Callable[[], bool]]:
    """Yield ``seen()``: whether SIGINT arrived meanwhile, even when the KeyboardInterrupt it
    raised was turned into another error (a C extension interrupted while it initialises
    says ``ImportError: initialization failed``). Uses ``signal.set_wakeup_fd``, which
    leaves every handler (and asyncio's graceful Ctrl-C) as it is."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    try:
        previous = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except (ValueError, OSError):
        os.close(read_fd)
        os.close(write_fd)
        yield lambda: False
        return

    def seen() -> bool:
        try:
            return int(signal.SIGINT) in os.read(read_fd, 4096)
        except OSError:
            return False

    try:
        yield seen
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read_fd)
        os.close(write_fd)


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in ``exc``'s chain (a C extension interrupted while it
    initialises reports ``ImportError: initialization failed`` from it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _take_no_plugin(args: list[str]) -> tuple[list[str], list[str]]:
    """Split ``--no-plugin NAME`` / ``--no-plugin=NAME`` off ``args`` wherever they are
    (before or after the subcommand; not after ``--``): ``(other args, names)``."""
    rest: list[str] = []
    names: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg == "--no-plugin" and i + 1 < len(args):
            names.append(args[i + 1])
            i += 2
            continue
        if arg.startswith("--no-plugin="):
            names.append(arg.split("=", 1)[1])
        else:
            rest.append(arg)
        i += 1
    return rest, names


def _setup_logging(debug: bool) -> None:
    import logging

    # one handler for everything: LiveKit's job processes forward their records to it, and
    # with --debug the process id tells the worker's processes apart
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s [%(process)d] %(name)s: %(message)s" if debug
        else "%(levelname)s %(name)s: %(message)s",
    )
    if not debug:
        for noisy in ("livekit", "livekit.agents", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.ERROR)
        logging.getLogger("avatarkit").setLevel(logging.INFO)
