"""The ``avatarkit`` command line run in-process, as the console script runs it
(``avatarkit.cli.main``): its exit code, its output, and every network connection or name
lookup it attempted (an audit hook, recording only while a command runs).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import pytest

from avatarkit.cli import main

_NOISY = ("", "livekit", "livekit.agents", "asyncio", "avatarkit")
_recording: list[str] | None = None


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording is None:
        return
    if event == "socket.connect":
        _recording.append(f"connect {args[1]}")
    elif event == "socket.getaddrinfo":
        _recording.append(f"lookup {args[0]}")


sys.addaudithook(_audit)  # hooks cannot be removed: this one only records while armed


PROVIDER_VARS = ("AVATARKIT_", "LIVEKIT_", "OPENAI_", "DEEPGRAM_", "CARTESIA_", "LIVEAVATAR_")
"""Environment prefixes the ``cli`` fixture clears (providers' keys, avatarkit settings)."""


@dataclass
class CliResult:
    """What one command did: ``returncode``, ``stdout``, ``stderr``, and the network
    connections (``connect ADDRESS``) and name lookups (``lookup HOST``) it attempted."""

    returncode: int
    stdout: str
    stderr: str
    network: list[str] = field(default_factory=list)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """``avatarkit ARGS`` in this process (environment and working directory as they are)."""
    global _recording
    levels = {name: logging.getLogger(name).level for name in _NOISY}  # main() sets them
    capsys.readouterr()  # only this command's output
    _recording = []
    try:
        with pytest.raises(SystemExit) as exit_info:
            main(list(args))
    finally:
        network, _recording = _recording, None
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
    out, err = capsys.readouterr()
    code = exit_info.value.code
    code = 0 if code is None else code if isinstance(code, int) else 1
    return CliResult(code, out, err, network)


def assert_usage_error(result: CliResult, *needles: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert not result.network, result.network  # refused before any connection
    for needle in needles:
        assert needle in result.stderr, result.stderr
