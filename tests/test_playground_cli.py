"""`avatarkit playground` / `avatarkit serve` on the command line: bad input exits 2 before
serving, the CLI stays light, and Ctrl-C ends every session and leaves no processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args, expected", [
    (["playground", "--face", "nope"], "unknown face 'nope'"),
    (["playground", "--brain", "nope"], "unknown brain 'nope'"),
    (["playground", "--face", "none", "--brain-opt", "nonsense=1"], "nonsense"),
    (["playground", "--port", "70000"], "70000"),
    (["serve", "--ttl", "3601"], "ttl must be more than 0 and at most 3600 s"),
    (["serve", "--ttl", "0"], "ttl must be more than 0 and at most 3600 s"),
    (["serve", "--allow-origin", "ftp://example.com/x"], "not an origin"),
])
def test_bad_input_exits_2_before_serving(capsys: pytest.CaptureFixture[str],
                                         args: list[str], expected: str) -> None:
    result = run_cli(capsys, *args)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr + result.stdout
    assert not result.network, result.network


def test_help_lists_the_options_and_imports_nothing_heavy(
        capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "playground", "--help")
    for option in ("--brain", "--face", "--brain-opt", "--face-opt", "--fallback", "--config",
                   "--host", "--port", "--open"):
        assert option in result.stdout
    result = run_cli(capsys, "serve", "--help")
    for option in ("--host", "--port", "--allow-origin", "--ttl"):
        assert option in result.stdout
    code = ("import sys, avatarkit.cli; heavy = [m for m in ('aiortc', 'av', 'numpy', "
            "'aiohttp', 'livekit') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_ctrl_c_ends_every_session_and_leaves_no_processes(tmp_path: Path) -> None:
    """The real local brain (llama.cpp server is a child process), one connected peer;
    ``--open`` hands the URL to the user's browser ($BROWSER here)."""
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("aiortc")
    from tests.browser.peer import PeerClient

    opened = tmp_path / "opened.txt"
    fake_browser = tmp_path / "browser.sh"
    fake_browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    fake_browser.chmod(0o755)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1",
           "BROWSER": str(fake_browser)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "avatarkit", "playground", "--brain", "local", "--face", "none",
         "--port", "0", "--open"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=env, cwd=ROOT)
    lines: list[str] = []
    try:
        url = None
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"open (http://\S+)", line)
            url = match.group(1) if match else None
        assert url, "".join(lines)
        # the page is served at once; the models load after it ("getting ready")
        status = json.loads(urllib.request.urlopen(url + "healthz", timeout=60).read())
        assert "ready" in status and "loading" in status
        while "playground: ready" not in "".join(lines) and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert "playground: ready" in "".join(lines), "".join(lines)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the local brain should run llama.cpp's server as a child"

        async def session_then_sigint() -> dict[str, Any]:
            peer = PeerClient()
            try:
                assert (await peer.connect(url + "offer"))["status"] == 200
                await peer.wait_for("ready", timeout=60)
                proc.send_signal(signal.SIGINT)
                return await peer.wait_for("ended", timeout=30)
            finally:
                await peer.close()

        ended = asyncio.run(session_then_sigint())
        assert "shutting down" in ended["reason"]
        rest, _ = proc.communicate(timeout=60)
        lines.append(rest)
        output = "".join(lines)
        assert proc.returncode == 0, output
        assert "closing 1 session(s)" in output and "stopped" in output
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"orphans: {alive}"
        assert opened.read_text().strip() == url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
