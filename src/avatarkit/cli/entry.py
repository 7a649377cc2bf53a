"""The console-script entry (``avatarkit = avatarkit.cli:main``): the arguments, logging,
and how every failure ends (exit 2 for usage errors, 1 for runtime errors, 130 for Ctrl-C;
one line and no traceback unless ``--debug``). The plain forms of ``avatarkit plugins`` run
without Typer (:mod:`.fast`); every other command goes through the Typer app."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from ..errors import AvatarkitError, describe
from .fast import fast_command
from .state import STATE


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: exit 2 for usage errors, 1 for runtime errors, no tracebacks
    unless ``--debug`` (or ``AVATARKIT_DEBUG=1``)."""
    args = sys.argv[1:] if argv is None else argv
    args, STATE.early_blocked = _take_no_plugin(args)
    STATE.debug = "--debug" in args or os.environ.get("AVATARKIT_DEBUG", "") not in ("", "0")
    _setup_logging(STATE.debug)
    with _sigint_probe() as sigint_seen:
        try:
            _run_app(args, sigint_seen)
        finally:
            _forget_caught_interrupts()


def _run_app(args: list[str], sigint_seen: Callable[[], bool]) -> None:
    fast = fast_command(args)
    try:
        result = fast() if fast is not None else _run_typer(args)
    except KeyboardInterrupt:
        _exit_interrupted()
    except AvatarkitError as exc:
        if STATE.debug:
            import traceback

            traceback.print_exc()
        print(f"avatarkit: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"  hint: {exc.hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - last resort: one line, no traceback
        if _caused_by_interrupt(exc) or sigint_seen():  # Ctrl-C in a C extension's import
            _exit_interrupted()
        if STATE.debug:
            raise
        text = describe(exc)
        text = text if len(text) <= 300 else f"{text[:280]}... ({len(text)} characters)"
        print(f"avatarkit: unexpected error: {text}\n"
              "  hint: rerun with --debug for the traceback, and report it", file=sys.stderr)
        sys.exit(1)
    if result == 130:  # typer turns a KeyboardInterrupt into Exit(130): no command returns it
        _exit_interrupted()
    sys.exit(result if isinstance(result, int) else 0)


def _exit_interrupted() -> NoReturn:
    print("avatarkit: interrupted", file=sys.stderr)
    sys.exit(130)


def _forget_caught_interrupts() -> None:
    """Let the process end with the status ``main`` chose, even after a caught Ctrl-C.

    CPython marks the process as killed by Ctrl-C whenever a KeyboardInterrupt leaves an
    ``exec``/``eval`` of a string (``run_eval_code_obj``, the flag bpo-1054041 added), even
    when a caller catches it (``dataclass`` and ``namedtuple`` build their methods so, as
    modules import). Under ``python -m avatarkit`` the interpreter then ends by SIGINT after
    our exit: status -2 instead of 130 (2 in 200 Ctrl-Cs while ``demo`` loaded its models).
    Every ``exec`` of a string starts by clearing that mark, so an empty one is run here."""
    exec("")


def _run_typer(args: list[str]) -> Any:
    """Run the Typer app on ``args``: its result, or ``SystemExit`` for click's own exits
    (usage errors exit 2 with click's message); Ctrl-C is a ``KeyboardInterrupt``."""
    # typer bundles its own click (nothing here uses the separate `click` package, whose
    # import would only slow every command down)
    import typer
    from typer._click import exceptions as typer_click

    from .app import app

    try:
        # Non-standalone click returns an `Exit`'s code instead of raising it.
        return app(args=args, prog_name="avatarkit", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer_click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except typer.Abort:
        raise KeyboardInterrupt from None


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
