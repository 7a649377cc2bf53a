"""Room-test helpers on the worker's side: a real ``avatarkit run`` worker as a subprocess,
registered with the test LiveKit server, the server's view of rooms (participants,
explicit dispatch), and :func:`wait_until`. The user's side is :mod:`room_user`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit_server import LiveKitServer

REGISTERED = re.compile(r"worker (AW_\w+) registered with.*?; health on port (\d+)")
# Room tests share two cores with everything else: count sessions, not CPU, in the load;
# built-in parts only (no third-party plugin installed on this machine).
QUIET_ENV = {"AVATARKIT_MEASURE_CPU": "0", "HF_HUB_OFFLINE": "1", "AVATARKIT_LOAD_PLUGINS": ""}
#: The agent name of the shared local worker: only rooms that dispatch it get it.
LOCAL_AGENT = "ava-room"
#: Small and still when idle (no blinks, no head motion): only speech moves the mouth, and
#: two cores keep up with rendering and encoding.
#: How long a signalled worker may take to exit. LiveKit closes each job process with its
#: own 10 s timeouts, one after another; a rare stop under load took over 60 s (CI).
STOP_TIMEOUT = 120.0
LOCAL_FACE_OPTS = ("width=256", "height=256", "fps=15", "motion=0", "blink=false")
#: The same as ``avatarkit run`` arguments.
LOCAL_FACE_ARGS = tuple(a for opt in LOCAL_FACE_OPTS for a in ("--face-opt", opt))


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

    def launch(self) -> WorkerProcess:
        """Start the worker (in its own process group) without waiting for it."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LIVEKIT_", "AVATARKIT_"))}
        env.update(QUIET_ENV)
        env.update(self.server.env())
        # Port 0: the worker binds a free port itself and names it when it registers. A port
        # picked here could be taken by any outgoing connection before the worker binds it.
        env["AVATARKIT_WORKER_PORT"] = "0"
        env.update(self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "avatarkit", "run", *self.args], env=env,
                cwd=self.cwd or self.log_path.parent, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def registered(self) -> bool:
        """Whether the worker has registered (its id is then :attr:`worker_id`); a
        ``RuntimeError`` with its output if it exited instead."""
        match = REGISTERED.search(self.output())
        if match:
            self.worker_id = match.group(1)
            self.health_port = int(match.group(2))
            return True
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"avatarkit run exited with {self.proc.returncode}:\n"
                               f"{self.output()[-4000:]}")
        return False

    def start(self, *, registered_within: float = 180.0, wait: bool = True) -> WorkerProcess:
        """Start the worker and (``wait``) block until it has registered with the server."""
        self.launch()
        if not wait:
            return self
        deadline = time.monotonic() + registered_within
        while time.monotonic() < deadline:
            if self.registered():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"avatarkit run did not register within {registered_within:g} s:"
                           f"\n{self.output()[-4000:]}")

    async def started(self, *, registered_within: float = 180.0) -> WorkerProcess:
        """:meth:`start` for async tests: the event loop (stand-ins...) keeps running."""
        self.launch()
        try:
            await wait_until(self.registered, registered_within, "the worker to register")
        except BaseException:
            await self.stopped()
            raise
        return self

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def status(self) -> dict[str, Any]:
        """LiveKit's own view of the worker (``GET /worker`` on its health port):
        ``active_jobs``, ``worker_load``, ``agent_name``..."""
        url = f"http://127.0.0.1:{self.health_port}/worker"
        with urllib.request.urlopen(url, timeout=5) as resp:
            status = {"active_jobs": 0, "worker_load": 0.0}  # protobuf JSON omits zeros
            status.update(json.loads(resp.read()))
            return status

    def rooms(self) -> list[str]:
        """Rooms the server assigned to this worker (from livekit-server's own log)."""
        rooms = []
        for line in self.server.log_path.read_text(errors="replace").splitlines():
            if "assigned job to worker" in line and f'"workerID": "{self.worker_id}"' in line:
                fields = json.loads(line[line.index("{"):])
                rooms.append(str(fields["room"]))
        return rooms

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int | None:
        """Signal the worker, wait for it; kill its whole process group if it hangs (what
        was still running is then written to its log)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._log_hang(timeout)
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode

    def _log_hang(self, timeout: float) -> None:
        """Append the worker's process tree (who was still running, in which state) to its
        log, so a stop that hung says where."""
        import psutil

        assert self.proc is not None
        lines = [f"[test harness] the worker did not exit within {timeout:g} s of the signal; "
                 "its process tree:"]
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.proc.pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    lines.append(f"  pid {proc.pid} {proc.status()} threads {proc.num_threads()}"
                                 f" {' '.join(proc.cmdline()[:4])[:160]}")
        lines += _stacks(self.proc.pid)
        with self.log_path.open("a") as log:
            log.write("\n".join(lines) + "\n")

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` to the worker (not its job processes)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def exited(self, timeout: float) -> int:
        """Wait (without blocking the event loop) for the worker to exit; its exit code."""
        assert self.proc is not None
        proc = self.proc
        await wait_until(lambda: proc.poll() is not None, timeout, "the worker to exit")
        return int(proc.returncode)

    async def stopped(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT
                      ) -> int | None:
        """:meth:`stop` for async tests: the event loop keeps serving the worker's requests
        (stand-ins in this process) while it shuts down."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                await self.exited(timeout)
            except TimeoutError:
                self._log_hang(timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        return self.proc.returncode


def _stacks(pid: int) -> list[str]:
    """The Python (and native) stacks of every thread of ``pid``, from py-spy (a test
    dependency), so a hang names the code it is stuck in; a note if py-spy cannot run."""
    spy = Path(sys.executable).parent / "py-spy"
    command = [str(spy) if spy.exists() else "py-spy", "dump", "--native", "--pid", str(pid)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"  (no stacks: {exc})"]
    return ["[test harness] its main process's stacks (py-spy dump --native):",
            *(f"  {line}" for line in (done.stdout + done.stderr).splitlines())]


async def wait_until(check: Callable[[], Any], timeout: float, what: str,
                     interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (returned); a ``TimeoutError``
    naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


async def participants(server: LiveKitServer, room: str) -> list[str]:
    """Identities in ``room`` according to the server's RoomService (none if it is gone)."""
    from livekit import api

    lkapi = server.api()
    try:
        listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room=room))
        return sorted(p.identity for p in listed.participants)
    except api.TwirpError as exc:
        if exc.code == "not_found":
            return []
        raise
    finally:
        await lkapi.aclose()


async def dispatch(server: LiveKitServer, room: str, agent_name: str) -> None:
    """Ask the server to send the worker registered as ``agent_name`` into ``room``."""
    from livekit import api

    lkapi = server.api()
    try:
        await lkapi.agent_dispatch.create_dispatch(
            api.CreateAgentDispatchRequest(agent_name=agent_name, room=room))
    finally:
        await lkapi.aclose()


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
