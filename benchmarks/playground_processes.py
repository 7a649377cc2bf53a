"""Each page's session in a playground process of its own (``playground_concurrency.py
--processes``): the design LiveKit's worker uses for rooms, one job process per session.

:class:`PlaygroundProcesses` starts one llama.cpp server and ``n`` ``avatarkit playground``
processes that share it (``--brain-opt base_url=...``), so the LLM is shared exactly as in
the one-process playground and only the rest (event loop, GIL, whisper, Piper, the VAD, the
renderer and encoders) is split. It answers what :class:`pagebench.Playground` answers
(``url_for``, ``wait_ready``, ``statuses``, ``wait_idle``, ``stop``), from each process's
``GET /healthz`` and ``GET /sessions``. Each process's output goes to a log in ``logs``,
named when it fails to get ready.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pagebench import BenchError, poll_until, wait_no_sessions

_URL = re.compile(r"open (http://\S+/)")


def merge_sessions(listings: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every session's status by id from several ``GET /sessions`` answers (an active
    session's entry is its status; an ended one's status is under ``"status"``)."""
    out: dict[str, dict[str, Any]] = {}
    for listing in listings:
        out.update({e["session"]: e["status"] for e in listing.get("ended", [])})
        out.update({a["session"]: a for a in listing.get("active", [])})
    return out


class PlaygroundProcesses:
    """``n`` playground processes and the llama.cpp server they share."""

    def __init__(self, n: int, logs: Path, brain: str = "local", face: str = "local",
                 face_opts: Sequence[str] = ()) -> None:
        from avatarkit.engines.llama_server import LlamaServer

        self.llama = LlamaServer()
        base_url = self.llama.start_sync()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [logs / f"playground-{k + 1}.log" for k in range(n)]
        self.urls: list[str] = []
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1"}
        try:
            for log in self.logs:
                cmd = [sys.executable, "-m", "avatarkit", "playground", "--port", "0",
                       "--brain", brain, "--face", face, "--brain-opt", f"base_url={base_url}",
                       "--max-sessions", "2",
                       *[a for o in face_opts for a in ("--face-opt", o)]]
                with log.open("wb") as out:
                    self.procs.append(subprocess.Popen(cmd, stdout=out,
                                                       stderr=subprocess.STDOUT, env=env))
        except BaseException:
            self.stop()  # the ones started, and llama.cpp
            raise

    def url_for(self, k: int) -> str:
        """Page ``k``'s playground: page k of a phase talks to process k."""
        return self.urls[k % len(self.urls)]

    def wait_ready(self, timeout: float = 600.0) -> float:
        """Seconds until every process serves and has loaded its models (checked in order,
        so :attr:`urls` lists them in order)."""
        return poll_until(
            lambda: all(self._ready(proc, log) for proc, log in zip(self.procs, self.logs)),
            timeout, lambda: f"the playground processes were not all ready after {timeout:g} s; "
            f"see {', '.join(map(str, self.logs))}")

    def _ready(self, proc: subprocess.Popen[bytes], log: Path) -> bool:
        """Whether ``proc`` serves and has loaded its models (its URL noted once seen);
        BenchError if it exited."""
        if proc.poll() is not None:
            raise BenchError(f"a playground process exited ({proc.returncode}); see {log}")
        found = _URL.search(log.read_text(errors="replace"))
        if found and found[1] not in self.urls:
            self.urls.append(found[1])
        return bool(found and _get(found[1] + "healthz", default={}).get("ready"))

    def statuses(self) -> dict[str, dict[str, Any]]:
        """Every session's ``status()`` by session id, over all processes."""
        return merge_sessions(_get(url + "sessions") for url in self.urls)

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no process runs a session."""
        wait_no_sessions(lambda: sum(_get(url + "healthz")["sessions"] for url in self.urls),
                         timeout)

    def stop(self) -> None:
        """Stop every playground (Ctrl-C's path: they close their sessions), then llama.cpp."""
        try:
            for proc in self.procs:
                proc.terminate()
            for proc in self.procs:
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            self.llama.stop_sync()


def _get(url: str, default: Any = None) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        if default is not None:
            return default
        raise
