"""Scale-out on LiveKit's dispatcher: two real ``avatarkit run`` workers on one real server.

The brain is ``realtime`` against a local stand-in of OpenAI's Realtime API and the face is
``none``: these tests are about dispatch and memory, so each session is cheap; the workers,
the server and its dispatcher are the real ones (automatic dispatch, ``start`` mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from livekit import api
from tests.browser.harness import LoopThread

from livekit_server import LiveKitServer
from room_user import RoomUser
from room_worker import WorkerProcess, rss_mb, tree_uss_mb, wait_until
from standins.openai_api import OpenAIStandin

pytestmark = pytest.mark.room
MAX_SESSIONS = 2
# What livekit-server logs when no registered worker is available for a room's job.
NO_WORKER = "failed to send job request"


@pytest.fixture(scope="module")
def realtime_standin() -> Iterator[OpenAIStandin]:
    """OpenAI's Realtime API on 127.0.0.1, on its own loop (shared by the module)."""
    loop = LoopThread()
    oai = OpenAIStandin(api_key="sk-rt")
    loop.run(oai.start())
    try:
        yield oai
    finally:
        loop.run(oai.close())
        loop.close()


@pytest.fixture(scope="module")
def workers(livekit_server: LiveKitServer, realtime_standin: OpenAIStandin,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[WorkerProcess]]:
    """Two workers, automatic dispatch, ``worker.max_sessions = 2`` each."""
    tmp = tmp_path_factory.mktemp("scale")
    args = ["--brain", "realtime", "--brain-opt", f"base_url={realtime_standin.base_url}",
            "--brain-opt", "api_key=sk-rt", "--face", "none"]
    started = [WorkerProcess(livekit_server, args, tmp / f"worker-{i}.log",
                             env={"AVATARKIT_MAX_SESSIONS": str(MAX_SESSIONS)})
               for i in range(2)]
    try:
        for worker in started:
            worker.start()
        yield started
    finally:
        codes = [worker.stop() for worker in started]
        for worker in started:
            assert "Traceback" not in worker.output(), worker.output()[-3000:]
        assert codes == [0, 0], [w.output()[-2000:] for w in started]


async def test_run_room_joins_one_room_without_dispatch(
        livekit_server: LiveKitServer, realtime_standin: OpenAIStandin, tmp_path: Path) -> None:
    """`avatarkit run --room NAME`: no registration, no dispatch; the agent is in that room."""
    worker = WorkerProcess(
        livekit_server, ["--room", "direct-room", "--brain", "realtime", "--brain-opt",
                         f"base_url={realtime_standin.base_url}", "--brain-opt", "api_key=sk-rt",
                         "--face", "none"], tmp_path / "worker.log").start(wait=False)
    user = RoomUser(livekit_server, "direct-room")
    try:
        await user.join()
        # (a dispatched job's agent is agent-AJ_...: the module's workers may add one)
        await wait_until(lambda: any(not a.identity.startswith("agent-AJ_")
                                     for a in user.agents()), 120, "the --room agent")
        await user.wait_for_media(60, video=False)  # an agent's audio track
    finally:
        await user.leave()
        code = worker.stop(signal.SIGINT)
    assert code == 0, worker.output()[-3000:]
    assert "Traceback" not in worker.output() and worker.worker_id is None


async def until_idle(workers: list[WorkerProcess], what: str) -> None:
    """Until no worker holds a session and LiveKit has been told (the worker sends its
    status every 2.5 s; a room created before that finds every worker still full)."""
    await wait_until(lambda: all(w.status()["active_jobs"] == 0
                                 and w.status()["worker_load"] < 0.5 for w in workers), 60, what,
                     interval=0.2)
    await asyncio.sleep(3.0)


async def test_four_rooms_spread_over_two_workers_and_max_sessions_holds(
        livekit_server: LiveKitServer, workers: list[WorkerProcess]) -> None:
    names = [f"scale-{i}" for i in range(4)]
    users = [RoomUser(livekit_server, name, identity=f"user-{i}")
             for i, name in enumerate(names)]
    extra = RoomUser(livekit_server, "scale-full", identity="user-full")
    try:
        await asyncio.gather(*(user.join() for user in users))  # four rooms at once
        await asyncio.gather(*(user.wait_for_agent(120) for user in users))
        taken = [worker.rooms() for worker in workers]
        assert sorted(r for rooms in taken for r in rooms) == names
        assert [len(rooms) for rooms in taken] == [MAX_SESSIONS, MAX_SESSIONS], taken
        # LiveKit's view of each worker: two jobs, and the load function says full.
        await wait_until(lambda: all(w.status()["worker_load"] == 1.0 for w in workers), 30,
                         "both workers to report full load", interval=0.2)
        assert [w.status()["active_jobs"] for w in workers] == [MAX_SESSIONS, MAX_SESSIONS]

        # A fifth room: every worker is at max_sessions, so the dispatcher finds none.
        log_from = len(livekit_server.log_path.read_bytes())
        await extra.join()
        await wait_until(lambda: NO_WORKER.encode() in livekit_server.log_path.read_bytes()[
            log_from:], 60, "the server to find no worker for the fifth room", interval=0.2)
        assert not extra.agents()
        assert all("scale-full" not in w.rooms() for w in workers)
    finally:
        await asyncio.gather(*(u.leave() for u in [*users, extra]), return_exceptions=True)
    # Sessions end with their user; the workers free their slots.
    await until_idle(workers, "the sessions to end")


async def test_worker_memory_is_flat_across_sequential_sessions(
        livekit_server: LiveKitServer, workers: list[WorkerProcess], tmp_path: Path) -> None:
    main_rss: list[float] = []
    tree_uss: list[float] = []
    lkapi = livekit_server.api()
    try:
        for i in range(5):
            user = RoomUser(livekit_server, f"memory-{i}", identity="user")
            await user.join()
            try:
                await user.wait_for_agent(120)
            finally:
                await user.leave()
            await until_idle(workers, f"session {i} to end")
            with contextlib.suppress(api.TwirpError):  # the server may have closed it
                await lkapi.room.delete_room(api.DeleteRoomRequest(room=f"memory-{i}"))
            main_rss.append(sum(rss_mb(w.pid) for w in workers))
            tree_uss.append(sum(tree_uss_mb(w.pid) for w in workers))
    finally:
        await lkapi.aclose()
    served = sum(1 for w in workers for r in w.rooms() if r.startswith("memory-"))
    assert served == 5
    print(f"worker RSS after each session (MB): main {[round(m, 1) for m in main_rss]}, "
          f"with job processes (USS) {[round(t, 1) for t in tree_uss]}")
    # Flat: job processes end with their session; the worker itself keeps nothing per session.
    assert main_rss[-1] - main_rss[1] < 25, main_rss
    assert tree_uss[-1] < tree_uss[1] * 1.15 + 50, tree_uss

