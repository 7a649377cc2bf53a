"""The LiveKit worker: load function, and `avatarkit run` against a stand-in server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import jwt
import pytest

from avatarkit.worker import session_load
from standins.livekit_worker import WorkerEndpoint


def test_load_reflects_declared_session_cost_and_cap() -> None:
    assert session_load(active_sessions=0, per_session_cost=0.3, cpu_load=0.1) == 0.1
    assert session_load(active_sessions=2, per_session_cost=0.3, cpu_load=0.1) == pytest.approx(
        0.6)
    assert session_load(active_sessions=5, per_session_cost=0.3, cpu_load=0.1) == 1.0
    assert session_load(active_sessions=1, per_session_cost=0.01, cpu_load=0.9) == 0.9
    assert session_load(active_sessions=2, per_session_cost=0.01, cpu_load=0.0,
                        max_sessions=2) == 1.0


async def test_standin_livekit_run_registers_a_worker_and_reports_load(tmp_path) -> None:
    """`avatarkit run` starts a real LiveKit worker; a local stand-in of LiveKit's
    /agent WebSocket endpoint (protobuf worker protocol) checks what it registers."""
    endpoint = WorkerEndpoint()
    url = await endpoint.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "AVATARKIT_"))}
    env.update({"LIVEKIT_URL": url, "LIVEKIT_API_KEY": "devkey",
                "LIVEKIT_API_SECRET": "devsecret-devsecret-devsecret-32", "OPENAI_API_KEY": "sk-x",
                "AVATARKIT_AGENT_NAME": "ava-test", "AVATARKIT_MAX_SESSIONS": "3"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "avatarkit", "run", "--brain", "realtime", "--face", "none"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        await asyncio.wait_for(endpoint.updated.wait(), timeout=60)
        reg = endpoint.registrations[0]
        assert reg.agent_name == "ava-test"
        token = endpoint.auth_headers[0].removeprefix("Bearer ")
        claims = jwt.decode(token, "devsecret-devsecret-devsecret-32", algorithms=["HS256"])
        assert claims["video"]["agent"] is True
        update = endpoint.updates[-1]
        assert 0.0 <= update.load <= 1.0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
        await endpoint.stop()
    assert "Traceback" not in out, out[-3000:]
    assert proc.returncode in (0, 130, -signal.SIGINT), (proc.returncode, out[-2000:])


def test_job_setup_and_entrypoint_pickle_for_job_processes(clean_env) -> None:
    """Job processes unpickle these: the entrypoint by reference, the setup with its plan."""
    import pickle

    from avatarkit import worker
    from avatarkit.composer import make_plan
    from avatarkit.config import load_config

    assert pickle.loads(pickle.dumps(worker.entrypoint)) is worker.entrypoint
    plan = make_plan(load_config(environ={}, brain="local", face="none",
                                 brain_opts=["base_url=http://127.0.0.1:9/v1"]), environ={})
    setup = pickle.loads(pickle.dumps(worker.JobSetup(plan)))
    assert setup.plan == plan
