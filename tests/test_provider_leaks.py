"""Leak accounting: many short sessions across the provider stand-ins, with faults, through
real ``avatarkit run`` workers in a real LiveKit room; then SIGTERM.

Seeded (``AVATARKIT_LEAK_SEED``, default below): the providers' order and each session's
fault are drawn from it, and printed, so a failure replays. Faults: ``refuse`` (a 4xx: the
chain falls through to audio only), ``late`` (the renderer joins only after the face's join
timeout: the face gives up, the session is ended and the late avatar removed), ``die`` (the
renderer is killed mid-reply: the conversation goes on audio only), and on every worker a
SIGTERM while its last session runs. Cheap on purpose: the ``pipeline`` brain against the
OpenAI, Deepgram and Cartesia stand-ins (a greeting, no models), 128x128 renderers.

At the end, per provider: every session the stand-in created was ended exactly once, its way
(its end call, Runway's END_CALL, or for providers with neither its avatar's removal; a
renderer that was killed has nothing left to end), and no avatar participant is left in any
room. trugen and avatario are left out: their plugins hard-code the provider's URL, so a
worker process cannot be pointed at a stand-in (their contract tests patch it in-process).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from room_user import RoomUser
from room_worker import WorkerProcess, dispatch, participants, wait_until
from standins.cartesia import CartesiaStandin
from standins.deepgram import DeepgramStandin
from standins.openai_api import OpenAIStandin
from standins.providers import SPECS, ProviderSession, ProviderStandin
from test_provider_room import provider_worker, worker_toml

pytestmark = [pytest.mark.room, pytest.mark.standin]

SEED = int(os.environ.get("AVATARKIT_LEAK_SEED", "20261129"))
FAULTS = ("ok", "refuse", "late", "die")
WORKER_PROVIDERS = sorted(name for name, spec in SPECS.items() if spec.hardcoded_url is None)
#: How many providers get a worker (each: SESSIONS_PER_WORKER sessions with faults, then one
#: cut by SIGTERM), drawn by the seed; AVATARKIT_LEAK_PROVIDERS=all (or a,b) chooses.
PROVIDERS_PER_RUN = 5
SESSIONS_PER_WORKER = 2
JOIN_TIMEOUT = 12.0  # the avatar process starts in ~2 s alone, >5 s on a busy 2-core host
GREETING = ("Hello there, and welcome. This greeting runs long enough to be cut in the "
            "middle by whatever happens next.")


def config(name: str, face: str, options: dict[str, Any], brain: dict[str, str]) -> str:
    """The pipeline brain against the stand-ins, ``face`` then audio only."""
    return worker_toml(name, {
        "agent": {"greeting": GREETING}, "brain": {"name": "pipeline"},
        "brain.options.pipeline": brain,
        "face": {"name": face, "fallback": ["none"], "join_timeout": JOIN_TIMEOUT},
        f"face.options.{face}": options})


def released(sess: ProviderSession) -> bool:
    """Ended once, or (a killed renderer, a provider with no end call) nothing left."""
    if sess.ended == 1:
        return True
    killed = sess.avatar is not None and sess.avatar.process.returncode == -signal.SIGKILL
    return sess.ended == 0 and killed and not sess.spec.ends_itself


class Seen:
    """How many of each outcome the worker's log showed so far."""

    def __init__(self, worker: WorkerProcess) -> None:
        self.worker = worker
        self.counts: dict[str, int] = {}

    async def next(self, text: str, what: str) -> None:
        done = self.counts.get(text, 0)
        await wait_until(lambda: self.worker.output().count(text) > done, 60, what)
        self.counts[text] = done + 1


async def run_session(livekit_server: Any, seen: Seen, standin: ProviderStandin, room: str,
                      agent: str, fault: str, *, leave: bool = True) -> RoomUser:
    """One conversation with ``fault``; returns its user (still in the room if not leave)."""
    face = standin.spec.face
    standin.faults[room] = fault
    user = await RoomUser(livekit_server, room).join()
    await dispatch(livekit_server, room, agent)
    if fault in ("ok", "die"):
        sess = await wait_until(lambda: next((s for s in standin.sessions.values()
                                              if s.room == room and s.avatar), None),
                                90, f"a {face} session in {room}")
        await sess.avatar.wait_event("segment_audio", timeout=60)  # the greeting plays
        if fault == "die":
            sess.avatar.process.send_signal(signal.SIGKILL)
            await seen.next("died mid-session", f"{face}: the composer to go on audio only")
    else:  # refuse, late: the chain falls through to audio only
        await seen.next("trying the next face", f"{face} to fall through ({fault})")
    if fault == "late":  # the renderer joins while the conversation goes on: removed
        sess = next(s for s in standin.sessions.values() if s.room == room)
        await wait_until(lambda: sess.avatar and sess.avatar.process.returncode is not None,
                         60, f"the late {face} avatar to be removed")
    if leave:
        await user.leave()
        await seen.next("session ended", f"the session in {room} to end")
    return user


async def test_standin_leak_accounting_with_faults_and_sigterm(livekit_server,
                                                               tmp_path: Path) -> None:
    rng = random.Random(SEED)
    chosen = os.environ.get("AVATARKIT_LEAK_PROVIDERS", "")
    providers = (WORKER_PROVIDERS if chosen == "all" else chosen.split(",") if chosen
                 else rng.sample(WORKER_PROVIDERS, PROVIDERS_PER_RUN))
    providers = rng.sample(providers, len(providers))
    plan = {p: [FAULTS[(i + k) % len(FAULTS)] for k in range(SESSIONS_PER_WORKER)]
            for i, p in enumerate(providers)}
    for faults in plan.values():
        rng.shuffle(faults)
    print(f"\nleak accounting, seed {SEED}: {plan}")
    totals = {"sessions": 0, "faults": 0, "start requests": 0, "sessions created": 0,
              "sessions ended": 0, "sigterm": 0}
    rooms: list[str] = []
    t0 = time.monotonic()
    async with OpenAIStandin(api_key="oa") as oa, DeepgramStandin(api_key="dg") as dg, \
            CartesiaStandin(api_key="ca", seconds_per_piece=0.6) as ca:
        brain = {"deepgram_api_key": "dg", "stt_base_url": dg.base_url, "openai_api_key": "oa",
                 "base_url": oa.base_url, "cartesia_api_key": "ca", "tts_base_url": ca.url}
        for face in providers:
            workdir = tmp_path / face
            workdir.mkdir()
            async with ProviderStandin(SPECS[face], workdir=workdir) as standin:
                standin.late_delay = JOIN_TIMEOUT + 2
                agent = f"leak-{face}"
                worker = provider_worker(livekit_server, workdir, config(agent, face, {
                    **standin.options(), "video_stall_timeout": 2}, brain), face)
                seen, users = Seen(worker), []
                try:
                    await worker.started()
                    for k, fault in enumerate(plan[face]):
                        room = f"leak-{face}-{k}"
                        rooms.append(room)
                        users.append(await run_session(livekit_server, seen, standin, room,
                                                       agent, fault))
                    # the last conversation is cut by SIGTERM (a deploy, a scale-down)
                    room = f"leak-{face}-term"
                    rooms.append(room)
                    users.append(await run_session(livekit_server, seen, standin, room,
                                                   agent, "ok", leave=False))
                    worker.send_signal(signal.SIGTERM)
                    assert await worker.exited(60) == 0, worker.output()[-3000:]
                    await wait_until(lambda: all(released(s) for s in standin.sessions.values()),
                                     30, f"every {face} session to be ended")
                finally:
                    for user in users:
                        await user.leave()
                    await worker.stopped()
                # a face that gave up leaves no sink waiting for its avatar (that wait
                # failed with an ERROR and a traceback when the room closed)
                assert "Error in _start_task" not in worker.output(), worker.output()[-3000:]
                for sess in standin.sessions.values():
                    assert released(sess), (face, sess.id, sess.stops, sess.ended)
                    assert sess.ended <= 1, (face, sess.id, sess.ended)
                if standin.spec.stop is not None and face != "runway":
                    assert len(standin.stop_calls()) == len(standin.sessions), face
                totals["sessions"] += SESSIONS_PER_WORKER + 1
                totals["faults"] += sum(f != "ok" for f in plan[face])
                totals["sigterm"] += 1
                totals["start requests"] += len(standin.start_calls())
                totals["sessions created"] += len(standin.sessions)
                totals["sessions ended"] += sum(released(s) for s in standin.sessions.values())
    identities = {spec.identity for spec in SPECS.values()} | {"listener"}
    for room in rooms:
        left = identities & set(await participants(livekit_server, room))
        assert not left, (room, left)
    print(f"leak accounting: {totals} in {time.monotonic() - t0:.0f} s")
    assert totals["sessions created"] == totals["sessions ended"]
