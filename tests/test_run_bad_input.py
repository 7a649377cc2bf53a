"""`avatarkit run` with LiveKit settings that cannot work, against a real livekit-server:
one clear line naming the setting, exit 1 (2 for a URL that is not a URL), no traceback
unless --debug."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from livekit_server import LiveKitServer
from room_worker import QUIET_ENV

pytestmark = pytest.mark.room


def run(server: LiveKitServer, tmp_path: Path, *extra: str, **settings: str
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "AVATARKIT_"))}
    env.update(QUIET_ENV)
    env.update(server.env())
    env.update({"OPENAI_API_KEY": "sk-x", **settings})
    return subprocess.run(
        [sys.executable, "-m", "avatarkit", *extra, "run", "--brain", "realtime", "--face",
         "none"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line; nothing else on stderr but its hint."""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith("avatarkit: error: "), result.stderr
    assert all(line.startswith("  hint: ") for line in lines[1:]), result.stderr
    return lines[0]


def test_unknown_api_key_names_livekit_api_key(livekit_server: LiveKitServer,
                                                tmp_path: Path) -> None:
    result = run(livekit_server, tmp_path, LIVEKIT_API_KEY="not-a-key")
    assert result.returncode == 1
    line = error_line(result)
    assert "LIVEKIT_API_KEY" in line and "'not-a-key'" in line


def test_wrong_secret_names_livekit_api_secret(livekit_server: LiveKitServer,
                                               tmp_path: Path) -> None:
    wrong = "x" * 40
    result = run(livekit_server, tmp_path, LIVEKIT_API_SECRET=wrong)
    assert result.returncode == 1
    line = error_line(result)
    assert "LIVEKIT_API_SECRET" in line and "does not match" in line
    assert wrong not in result.stderr and livekit_server.api_secret not in result.stderr


def test_tls_url_for_a_plain_server_says_use_ws(livekit_server: LiveKitServer,
                                                tmp_path: Path) -> None:
    url = livekit_server.url.replace("ws://", "wss://")
    result = run(livekit_server, tmp_path, LIVEKIT_URL=url)
    assert result.returncode == 1
    assert "LIVEKIT_URL" in error_line(result)
    assert f"LIVEKIT_URL={livekit_server.url}" in result.stderr  # the hint gives the fix


def test_url_without_a_scheme_is_a_usage_error(livekit_server: LiveKitServer,
                                               tmp_path: Path) -> None:
    result = run(livekit_server, tmp_path,
                 LIVEKIT_URL=livekit_server.url.removeprefix("ws://"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "livekit.url" in result.stderr and "LIVEKIT_URL" in result.stderr
    assert "ws://" in result.stderr


def test_debug_shows_the_traceback(livekit_server: LiveKitServer, tmp_path: Path) -> None:
    result = run(livekit_server, tmp_path, "--debug", LIVEKIT_API_KEY="not-a-key")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "LIVEKIT_API_KEY" in result.stderr
