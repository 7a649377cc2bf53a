"""A real ``avatarkit run`` worker as a subprocess, registered with the test LiveKit server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit_server import LiveKitServer

REGISTERED = re.compile(r"worker (\S+) registered with LiveKit.*health on port (\d+)")
# Room tests share two cores with everything else: count sessions, not CPU, in the load.
QUIET_ENV = {"AVATARKIT_MEASURE_CPU": "0", "AVATARKIT_WORKER_PORT": "0", "HF_HUB_OFFLINE": "1",
             "AVATARKIT_LOAD_PLUGINS": ""}  # built-in parts only: no third-party plugins


@dataclass
class WorkerProcess:
    """``avatarkit run ARGS`` with the server's credentials; output in ``log_path``."""

    server: LiveKitServer
    args: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    worker_id: str | None = None
    health_port: int | None = None

    def start(self, *, registered_within: float = 180.0) -> WorkerProcess:
        """Start the worker and wait until it has registered with the server."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LIVEKIT_", "AVATARKIT_"))}
        env.update(QUIET_ENV)
        env.update(self.server.env())
        env.update(self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "avatarkit", "run", *self.args], env=env,
                cwd=self.cwd or self.log_path.parent, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + registered_within
        while time.monotonic() < deadline:
            match = REGISTERED.search(self.output())
            if match:
                self.worker_id, self.health_port = match.group(1), int(match.group(2))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"avatarkit run exited with {self.proc.returncode}:\n"
                                   f"{self.output()[-4000:]}")
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"avatarkit run did not register within {registered_within:g} s:"
                           f"\n{self.output()[-4000:]}")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def status(self) -> dict[str, Any]:
        """LiveKit's own view of the worker (``GET /worker`` on its health port):
        ``active_jobs``, ``worker_load``, ``agent_name``..."""
        # Port 0 on all interfaces binds '::' and '0.0.0.0' to two different ports; LiveKit
        # reports the first, the IPv6 one where the host has IPv6.
        error: OSError | None = None
        for host in ("[::1]", "127.0.0.1"):
            try:
                url = f"http://{host}:{self.health_port}/worker"
                with urllib.request.urlopen(url, timeout=5) as resp:
                    status = {"active_jobs": 0, "worker_load": 0.0}  # protobuf JSON omits 0
                    status.update(json.loads(resp.read()))
                    return status
            except OSError as exc:
                error = exc
        raise AssertionError(f"the worker's health port does not answer: {error}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int | None:
        """Signal the worker, wait for it; kill its whole process group if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode


def tree_uss_mb(pid: int) -> float:
    """Memory of ``pid`` and all its descendants that is theirs alone (USS, so the pages
    job processes share with LiveKit's forkserver are not counted once per process), MB."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for proc in procs:
        try:
            total += proc.memory_full_info().uss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` alone, in MB."""
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / 1e6
