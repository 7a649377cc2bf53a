"""`avatarkit run` as a user runs it: a real subprocess, the real offline stack, a LiveKit
server that cannot be reached, and a real ``livekit-server`` on loopback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from avatarkit.worker.server import INITIALIZE_TIMEOUT

SECRET_OPTION = "sk-option-secret-0123456789"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AVATARKIT_", "LIVEKIT_", "OPENAI_"))}
    env.update({"HF_HUB_OFFLINE": "1", "AVATARKIT_LOAD_PLUGINS": "", **extra})
    return env


def _local_stack_or_skip() -> None:
    from avatarkit.engines import assets
    from avatarkit.errors import UsageError

    try:
        assets.llama_server_binary()
        assets.smollm2_gguf_path()
        assets.whisper_model_path()
    except UsageError as exc:
        pytest.skip(f"the offline stack is not installed: {exc.message}")


class Output:
    """Lines of a process's merged stdout/stderr, with the time each arrived."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[tuple[float, str]] = []
        self._t0 = time.monotonic()
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self.lines.append((time.monotonic() - self._t0, line.rstrip("\n")))

    def wait_for(self, text: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, line in self.lines:
                if text in line:
                    return at
            time.sleep(0.1)
        return None

    @property
    def text(self) -> str:
        return "\n".join(line for _, line in self.lines)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _llama_pids(pid: int) -> set[int]:
    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)
                if "llama-server" in c.name()}
    except psutil.Error:
        return set()


def test_unreachable_livekit_is_one_plain_message_within_seconds(tmp_path: Path) -> None:
    _local_stack_or_skip()
    port = _closed_port()
    env = _env(LIVEKIT_URL=f"ws://127.0.0.1:{port}", LIVEKIT_API_KEY="key",
               LIVEKIT_API_SECRET="a-secret-of-thirty-two-characters")
    began = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "avatarkit", "run", "--brain", "local",
                             "--face", "local"], env=env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen_llama: set[int] = set()
    while proc.poll() is None and time.monotonic() - began < 60:
        seen_llama |= _llama_pids(proc.pid)
        time.sleep(0.05)
    out, err = proc.communicate(timeout=30)
    seconds = time.monotonic() - began
    print(f"unreachable LiveKit reported after {seconds:.1f} s")
    assert proc.returncode == 1, (out, err)
    assert seconds < 30
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[0] == (f"avatarkit: error: cannot reach LiveKit at ws://127.0.0.1:{port} "
                        "(LIVEKIT_URL): connection refused"), err
    assert lines[1].startswith("  hint: is the server running?") and len(lines) == 2, err
    assert "Traceback" not in err and not out
    assert not seen_llama, "a llama-server was started for a worker that cannot connect"


def test_sigint_before_registration_exits_1(tmp_path: Path) -> None:
    """A server that accepts the connection but never answers: Ctrl-C ends the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        env = _env(LIVEKIT_URL=f"ws://127.0.0.1:{port}", LIVEKIT_API_KEY="key",
                   LIVEKIT_API_SECRET="a-secret-of-thirty-two-characters",
                   OPENAI_API_KEY="sk-x")
        proc = subprocess.Popen([sys.executable, "-m", "avatarkit", "run", "--brain",
                                 "realtime", "--face", "none"], env=env, cwd=tmp_path,
                                text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the worker connection is attempted
            silent.settimeout(0.2)
            try:
                conn, _ = silent.accept()
                break
            except TimeoutError:
                continue
        else:
            proc.kill()
            pytest.fail("avatarkit run never connected")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        conn.close()
    assert proc.returncode == 1, err
    assert f"interrupted before the worker registered with ws://127.0.0.1:{port}" in err
    assert "Traceback" not in err


@pytest.fixture
def worker(livekit_server, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Output]]:
    _local_stack_or_skip()
    env = _env(**livekit_server.env(), OPENAI_API_KEY="sk-env-secret-0123456789")
    (tmp_path / "avatarkit.toml").write_text("[worker]\nport = 0\n")  # a free health port
    # --dev: job processes start on demand (no idle ones) and no CPU-load limit, so a job is
    # dispatched even on a busy machine; the job process prewarms under the init timeout
    proc = subprocess.Popen(
        [sys.executable, "-m", "avatarkit", "run", "--dev", "--brain", "local", "--face",
         "local", "--brain-opt", f"api_key={SECRET_OPTION}"],
        env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = Output(proc)
    try:
        yield proc, output
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


async def _dispatch(livekit_server, room: str, timeout: float) -> float:
    """Create ``room``; seconds until the worker's agent joined it."""
    from livekit import api

    lkapi = livekit_server.api()
    began = time.monotonic()
    try:
        await lkapi.room.create_room(api.CreateRoomRequest(name=room))
        while time.monotonic() - began < timeout:
            listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
            if listed.participants:
                return time.monotonic() - began
            await asyncio.sleep(0.2)
        raise AssertionError(f"no agent joined room {room} within {timeout:g} s")
    finally:
        await lkapi.aclose()


@pytest.mark.room
def test_worker_with_the_offline_stack_in_a_real_livekit_room(livekit_server, worker) -> None:
    proc, output = worker
    registered = output.wait_for("registered with", timeout=120)
    assert registered is not None, output.text
    print(f"worker registered {registered:.1f} s after start")
    llama = _llama_pids(proc.pid)
    assert len(llama) == 1, (llama, output.text)  # one llama-server for the whole worker

    # each job gets a fresh job process that prewarms (within LiveKit's init timeout) and
    # uses the worker's llama-server: a second process never starts one of its own
    for room in ("issue-7-a", "issue-7-b"):
        try:
            joined = asyncio.run(_dispatch(livekit_server, room, INITIALIZE_TIMEOUT + 30))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{output.text[-4000:]}") from None
        print(f"agent joined {room} {joined:.1f} s after the room was created")
    time.sleep(1.0)
    assert _llama_pids(proc.pid) == llama, output.text
    family = psutil.Process(proc.pid).children(recursive=True)
    assert len(family) >= 4, [p.cmdline() for p in family]  # llama, forkserver, 2 jobs
    for child in family:
        environ = _environ(child.pid)
        assert SECRET_OPTION.encode() not in environ, child.cmdline()
        if child.pid in llama:
            assert b"sk-env-secret" not in environ and b"LIVEKIT_API_SECRET" not in environ

    proc.send_signal(signal.SIGINT)
    assert proc.wait(120) == 0, output.text
    time.sleep(0.5)
    text = output.text
    assert "avatarkit run: stopped" in text and "Traceback" not in text
    assert "timed out" not in text and "initializ" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == len(set(lines)), text  # no line printed twice
    assert all(not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"
               for pid in llama)
