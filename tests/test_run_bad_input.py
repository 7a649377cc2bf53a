"""`avatarkit run` with LiveKit settings that cannot work, against a real livekit-server:
one clear line naming the setting, exit 1 (2 for a URL that is not a URL), no traceback
unless --debug. In-process (``avatarkit.cli.main``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from cli_runner import CliResult, run_cli
from livekit_server import LiveKitServer
from room_worker import QUIET_ENV

pytestmark = pytest.mark.room


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> Callable[..., CliResult]:
    """``run(server, *root_options, **settings)``: ``avatarkit run`` (in-process) for a
    realtime brain with no face, against ``server`` with these settings changed."""

    def run_against(server: LiveKitServer, *extra: str, **settings: str) -> CliResult:
        with monkeypatch.context() as m:
            for var in [v for v in os.environ if v.startswith(("LIVEKIT_", "AVATARKIT_"))]:
                m.delenv(var)
            for var, value in {**QUIET_ENV, **server.env(), "OPENAI_API_KEY": "sk-x",
                               **settings}.items():
                m.setenv(var, value)
            m.chdir(tmp_path)
            return run_cli(capsys, *extra, "run", "--brain", "realtime", "--face", "none")

    return run_against


def error_line(result: CliResult) -> str:
    """The one error line; nothing else on stderr but its hint."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("avatarkit: error: "), result.stderr
    assert all(line.startswith("  hint: ") for line in lines[1:]), result.stderr
    return lines[0]


def test_unknown_api_key_names_livekit_api_key(run: Callable[..., CliResult],
        livekit_server: LiveKitServer) -> None:
    result = run(livekit_server, LIVEKIT_API_KEY="not-a-key")
    assert result.returncode == 1
    line = error_line(result)
    assert "LIVEKIT_API_KEY" in line and "'not-a-key'" in line


def test_wrong_secret_names_livekit_api_secret(run: Callable[..., CliResult],
        livekit_server: LiveKitServer) -> None:
    wrong = "x" * 40
    result = run(livekit_server, LIVEKIT_API_SECRET=wrong)
    assert result.returncode == 1
    line = error_line(result)
    assert "LIVEKIT_API_SECRET" in line and "does not match" in line
    assert wrong not in result.stderr and livekit_server.api_secret not in result.stderr


def test_tls_url_for_a_plain_server_says_use_ws(run: Callable[..., CliResult],
        livekit_server: LiveKitServer) -> None:
    url = livekit_server.url.replace("ws://", "wss://")
    result = run(livekit_server, LIVEKIT_URL=url)
    assert result.returncode == 1
    assert "LIVEKIT_URL" in error_line(result)
    assert f"LIVEKIT_URL={livekit_server.url}" in result.stderr  # the hint gives the fix


def test_url_without_a_scheme_is_a_usage_error(run: Callable[..., CliResult],
        livekit_server: LiveKitServer) -> None:
    result = run(livekit_server,
                 LIVEKIT_URL=livekit_server.url.removeprefix("ws://"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "livekit.url" in result.stderr and "LIVEKIT_URL" in result.stderr
    assert "ws://" in result.stderr


def test_debug_shows_the_traceback(run: Callable[..., CliResult],
                                  livekit_server: LiveKitServer) -> None:
    result = run(livekit_server, "--debug", LIVEKIT_API_KEY="not-a-key")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "LIVEKIT_API_KEY" in result.stderr
