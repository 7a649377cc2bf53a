"""The LiveKit worker: load function, session cap, public LiveKit API only, and `avatarkit run`
registering with a real livekit-server."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from avatarkit.worker.load import UNLAUNCHED_GRACE, CpuLoad, SessionGate, session_load
from livekit_server import LiveKitServer
from room_worker import WorkerProcess

SRC = Path(__file__).resolve().parents[1] / "src" / "avatarkit"


def test_load_reflects_declared_session_cost_and_cap() -> None:
    assert session_load(active_sessions=0, per_session_cost=0.3, cpu_load=0.1) == 0.1
    assert session_load(active_sessions=2, per_session_cost=0.3, cpu_load=0.1) == pytest.approx(
        0.6)
    assert session_load(active_sessions=5, per_session_cost=0.3, cpu_load=0.1) == 1.0
    assert session_load(active_sessions=1, per_session_cost=0.01, cpu_load=0.9) == 0.9
    assert session_load(active_sessions=2, per_session_cost=0.01, cpu_load=0.0,
                        max_sessions=2) == 1.0


def test_a_two_core_worker_is_full_at_its_third_local_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Declared costs (benchmarks/room_load.py): two local brain + face sessions fit on two
    cores under the default threshold, a third does not (answers stopped keeping up)."""
    from avatarkit.brains import local as local_brain
    from avatarkit.config import WorkerSettings
    from avatarkit.faces import local as local_face

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    per_session = local_brain._load_cost() + local_face._load_cost()
    threshold = WorkerSettings().load_threshold
    loads = [session_load(active_sessions=n, per_session_cost=per_session, cpu_load=0.0)
             for n in (1, 2, 3)]
    assert loads[1] < threshold <= loads[2], loads


def test_session_gate_counts_a_session_from_acceptance_to_its_end() -> None:
    running: set[str] = set()
    now = [0.0]
    gate = SessionGate(2, lambda: running, clock=lambda: now[0])
    assert gate.try_claim("a") and gate.try_claim("b")
    assert not gate.try_claim("c")  # accepted, not running yet: they still count
    running |= {"a", "b"}
    assert gate.count() == 2
    running.discard("a")  # a's session ended
    assert gate.count() == 1
    assert gate.try_claim("c")
    now[0] += UNLAUNCHED_GRACE + 1  # c was accepted but never ran (assignment lost)
    assert gate.count() == 1  # b only
    assert SessionGate(None, lambda: ()).try_claim("x")  # no cap


async def test_session_gate_hands_a_job_it_cannot_take_back_to_the_dispatcher() -> None:
    answers: list[Any] = []

    class Request(SimpleNamespace):
        async def accept(self) -> None:
            answers.append(("accept", self.id))

        async def reject(self, *, terminate: bool = True) -> None:
            answers.append(("reject", self.id, terminate))

    gate = SessionGate(1, lambda: ())
    for job in ("j1", "j2"):
        await gate.on_request(Request(id=job, room=SimpleNamespace(name="r")))
    # terminate=False: the server offers the job to another worker instead of dropping it
    assert answers == [("accept", "j1"), ("reject", "j2", False)]


def test_cpu_load_comes_from_livekits_public_cpu_monitor() -> None:
    load = CpuLoad(interval=0.05, samples=3)
    assert load.value() == 0.0  # starts the sampler
    deadline = time.monotonic() + 30
    while load.value() == 0.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert 0.0 < load.value() <= 1.0


def test_worker_modules_use_only_public_livekit_api() -> None:
    """No private livekit-agents names (``_DefaultLoadCalc``...) and no deprecated CLI."""
    private = re.compile(r"from livekit[\w.]* import _|livekit[\w.]*\._\w|_DefaultLoadCalc")
    for name in ("server.py", "load.py", "run.py", "livekit_check.py"):
        text = (SRC / "worker" / name).read_text()
        assert not private.search(text), name
        assert "cli.run_app(" not in text and "catch_warnings" not in text, name


@pytest.mark.local_extra
def test_job_setup_and_entrypoint_pickle_for_job_processes(clean_env) -> None:
    """Job processes unpickle these: the entrypoint by reference, the setup with its plan."""
    import pickle

    from avatarkit.composer import make_plan
    from avatarkit.config import load_config
    from avatarkit.worker import server as worker

    assert pickle.loads(pickle.dumps(worker.entrypoint)) is worker.entrypoint
    plan = make_plan(load_config(environ={}, brain="local", face="none",
                                 brain_opts=["base_url=http://127.0.0.1:9/v1"]), environ={})
    setup = pickle.loads(pickle.dumps(worker.JobSetup(plan)))
    assert setup.plan == plan


@pytest.mark.parametrize(("dev", "measure_cpu", "expected"), [
    (True, None, 0.0),   # --dev on a busy host: livekit-server still dispatches to it
    (False, None, 1.0),  # production: the host's CPU counts
    (True, "1", 1.0),    # asked for explicitly
])
def test_dev_mode_leaves_the_busy_hosts_cpu_out_of_the_load(
        clean_env, monkeypatch: pytest.MonkeyPatch, dev: bool, measure_cpu: str | None,
        expected: float) -> None:
    """livekit-server skips a worker reporting more than its ``agents.target_load`` (0.7),
    whatever the worker's own threshold: under ``run --dev`` (threshold inf) the host's CPU
    is left out unless ``measure_cpu`` is set."""
    from avatarkit.composer import make_plan
    from avatarkit.config import load_config
    from avatarkit.worker import server as worker

    class BusyHost:
        def value(self) -> float:
            return 1.0

    class NoSessions(SessionGate):
        def count(self) -> int:  # the server is not running: no job process to ask
            return 0

    monkeypatch.setattr(worker, "CpuLoad", BusyHost)
    monkeypatch.setattr(worker, "SessionGate", NoSessions)
    environ = {"LIVEKIT_URL": "ws://127.0.0.1:9", "LIVEKIT_API_KEY": "k",
               "LIVEKIT_API_SECRET": "s"}
    if measure_cpu is not None:
        environ["AVATARKIT_MEASURE_CPU"] = measure_cpu
    plan = make_plan(load_config(environ=environ, brain="realtime", face="none",
                                 brain_opts=["api_key=rt"]), environ=environ)
    server = worker.build_server(plan, dev=dev)
    assert server._load_fnc() == pytest.approx(expected)  # what LiveKit reports


@pytest.mark.room
def test_run_registers_with_a_real_server_and_stops_cleanly(
        livekit_server: LiveKitServer, tmp_path: Path) -> None:
    """`avatarkit run` registers its agent name with livekit-server, reports a load, shows
    no deprecation warning (every warning on), and exits 0 on SIGINT with no traceback."""
    worker = WorkerProcess(
        livekit_server, ["--brain", "realtime", "--face", "none"], tmp_path / "worker.log",
        env={"OPENAI_API_KEY": "sk-x", "AVATARKIT_AGENT_NAME": "ava-test",
             "AVATARKIT_MAX_SESSIONS": "3", "PYTHONWARNINGS": "default"})
    try:
        worker.start()
        status = worker.status()
        assert status["agent_name"] == "ava-test"
        assert 0.0 <= status["worker_load"] < 1.0 and status["active_jobs"] == 0
        registered = [line for line in livekit_server.log_tail(400).splitlines()
                      if "worker registered" in line and worker.worker_id in line]
        assert registered and '"agentName": "ava-test"' in registered[0]
    finally:
        code = worker.stop(signal.SIGINT)
    out = worker.output()
    assert code == 0, out[-3000:]
    assert "Traceback" not in out and "Warning" not in out and "deprecat" not in out.lower(), \
        out[-3000:]
