"""Shared fixtures: throwaway plugin distributions installed on sys.path."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import local_extra
from cli_runner import PROVIDER_VARS, CliResult, run_cli
from livekit_server import LiveKitServer, start_livekit_server
from livekit_server import find_binary as find_livekit_server
from room_worker import LOCAL_AGENT, LOCAL_FACE_ARGS, WorkerProcess

SRC = Path(__file__).resolve().parents[1] / "src"

#: fails a test that leaves a LiveKit room or media stream open (see rtc_leaks.py)
pytest_plugins = ("rtc_leaks",)


def pytest_configure(config: pytest.Config) -> None:
    """A suite started in the background (``cmd &`` in a script) has SIGINT ignored, and an
    ignored signal stays ignored in every child: the Ctrl-C tests would then test nothing.
    A handler (unlike SIG_IGN) is reset to the default in children, so they get Ctrl-C."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``local_extra`` skip, saying what to install, when the extra is missing."""
    absent = local_extra.missing()
    if absent:
        skip = pytest.mark.skip(reason=local_extra.reason(absent))
        for item in items:
            if item.get_closest_marker("local_extra") is not None:
                item.add_marker(skip)


def write_dist(root: Path, dist: str, modules: dict[str, str],
               entry_points: dict[str, str], version: str = "1.0") -> Path:
    """Write a minimal installed distribution (module files + .dist-info) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, code in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(code))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    eps = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[avatarkit]\n{eps}\n")
    return root


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """``plugin_dir(dist, modules, entry_points)`` installs a distribution for this test,
    both in-process (sys.path) and for subprocesses (PYTHONPATH)."""
    root = tmp_path / "site"
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(root), str(SRC)]))

    def make(dist: str, modules: dict[str, str], entry_points: dict[str, str],
             version: str = "1.0") -> Path:
        path = write_dist(root, dist, modules, entry_points, version)
        for name in modules:
            sys.modules.pop(name, None)
        return path

    return make


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No provider or LiveKit credentials, no avatarkit settings, no avatarkit.toml."""
    for var in list(os.environ):
        if var.startswith(("AVATARKIT_", "LIVEKIT_", "OPENAI_", "DEEPGRAM_", "CARTESIA_",
                           "LIVEAVATAR_", "ELEVEN_")):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    """A real ``livekit-server --dev`` on 127.0.0.1 (free ports), shared by the session.

    Missing binary: a skip, or a failure when ``AVATARKIT_REQUIRE_LIVEKIT=1`` (the README's
    test command and CI set it: there the room path must really run).
    """
    binary = find_livekit_server()
    if binary is None:
        message = ("livekit-server is not installed: `bash scripts/setup.sh local,test` "
                   "builds the pinned release into .tools/bin")
        if os.environ.get("AVATARKIT_REQUIRE_LIVEKIT", "") not in ("", "0"):
            pytest.fail(message)
        pytest.skip(message)
    server = start_livekit_server(binary, tmp_path_factory.mktemp("livekit"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def local_worker(livekit_server: LiveKitServer,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    """One real ``avatarkit run --dev --brain local --face local`` worker for the session,
    registered as agent :data:`LOCAL_AGENT` (explicit dispatch only, so it never joins
    rooms of other tests). Stopped with SIGTERM: it must exit 0 with no traceback."""
    worker = WorkerProcess(
        livekit_server, ["--dev", "--brain", "local", "--face", "local", *LOCAL_FACE_ARGS],
        tmp_path_factory.mktemp("local-worker") / "worker.log",
        env={"AVATARKIT_AGENT_NAME": LOCAL_AGENT})
    worker.start()
    try:
        yield worker
    finally:
        code = worker.stop()
        out = worker.output()
        assert "Traceback" not in out, out[-4000:]
        assert code == 0, out[-3000:]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> Callable[..., CliResult]:
    """``cli(*args, env=..., cwd=...)``: ``avatarkit ARGS`` in-process with no provider or
    avatarkit settings but ``env``, in ``cwd``."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None
            ) -> CliResult:
        with monkeypatch.context() as m:
            for var in [v for v in os.environ if v.startswith(PROVIDER_VARS)]:
                m.delenv(var)
            for var, value in (env or {}).items():
                m.setenv(var, value)
            if cwd is not None:
                m.chdir(cwd)
            return run_cli(capsys, *args)

    return run
