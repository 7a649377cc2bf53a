"""Each session's conversation stays cached in a llama.cpp slot of its own.

Measured before (docs/performance.md): sessions of one agent all landed in one slot of the
server and evicted each other's conversation, so a turn re-evaluated 25-84 tokens instead
of its ~18 new ones. The integration test runs three interleaved conversations through the
local brain's real LLM against the real packaged server and reads, from the server's own
``/slots``, how many prompt tokens each turn evaluated.
"""

from __future__ import annotations

import pickle
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from avatarkit.brains.local import LocalBrain, shutdown
from avatarkit.engines import llama_server, llama_slots
from avatarkit.engines.llama_slots import SLOTS, SharedSlots, SlotPool

SYSTEM = "You are a friendly avatar. Answer in one short sentence, in English."
CONVERSATIONS = [  # a different one per session, as users have
    ["What is the capital of France?", "How many people live there?"],
    ["What is the tallest mountain on Earth?", "How high is it?"],
    ["Who wrote Romeo and Juliet?", "When was it written?"],
]


def _join_warmers() -> None:
    """Wait for the slot warm-ups that :meth:`SlotPool.acquire` started on threads."""
    for thread in threading.enumerate():
        if thread.name.startswith("llama-warm-slot-"):
            thread.join(30)


def test_sessions_take_the_least_used_slot_and_give_it_back() -> None:
    pool = SlotPool(slots=3)
    assert [pool.acquire() for _ in range(3)] == [0, 1, 2]
    pool.release(1)
    assert pool.acquire() == 1  # the free one
    assert pool.acquire() == 0  # all in use: shared, lowest first
    assert pool.users() == [2, 1, 1]
    for slot in (0, 0, 1, 2):
        pool.release(slot)
    pool.release(2)  # a double release never goes below zero
    assert pool.users() == [0, 0, 0]


def test_each_slot_is_warmed_once_before_a_session_needs_it() -> None:
    pool = SlotPool(slots=2)
    warmed: list[int] = []
    pool.set_warmer(warmed.append)
    pool.warm_now(0)
    assert warmed == [0]
    assert pool.acquire() == 0 and warmed == [0]  # already warm
    assert pool.acquire() == 1
    _join_warmers()
    assert warmed == [0, 1]
    pool.release(1)
    assert pool.acquire() == 1 and warmed == [0, 1]  # once per slot
    pool.set_warmer(warmed.append)  # a new system prompt: slots are cold again
    pool.release(0)
    pool.acquire()
    _join_warmers()
    assert warmed == [0, 1, 0]


def test_worker_slots_are_held_across_processes_and_freed_when_one_dies(
        tmp_path: Path) -> None:
    """Job processes of one worker: a slot is one process's at a time (an exclusive lock on
    a file); all taken -> not pinned; a killed process's slot is free again."""
    one, two = SharedSlots(tmp_path), SharedSlots(tmp_path)  # locks as two processes hold them
    assert [one.acquire(), two.acquire(), one.acquire(), two.acquire()] == [0, 1, 2, 3]
    assert one.acquire() is None and two.acquire() is None  # beyond SLOTS: not pinned
    one.release(0)
    assert two.acquire() == 0
    for slot in (1, 3, 0):
        two.release(slot)
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from avatarkit.engines.llama_slots import "
         f"SharedSlots; print(SharedSlots({str(tmp_path)!r}).acquire(), flush=True); "
         "time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "0"
        assert two.acquire() == 1  # the job process's slot is not handed out
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert two.acquire() == 0  # its lock died with it
    for path in tmp_path.iterdir():
        path.unlink()
    tmp_path.rmdir()  # the worker is gone, and its directory with it
    assert SharedSlots(tmp_path).acquire() is None


@pytest.fixture
def fresh_pool(monkeypatch: pytest.MonkeyPatch) -> SlotPool:
    pool = SlotPool()
    monkeypatch.setattr(llama_slots, "_pool", pool)
    return pool


@pytest.fixture(scope="module")
def prewarmed() -> Iterator[LocalBrain]:
    brain = LocalBrain({})
    brain.prewarm()
    yield brain
    shutdown()


def _next_free(directory: Path) -> int | None:
    """The slot another job process of that worker would get now."""
    probe = SharedSlots(directory)
    slot = probe.acquire()
    if slot is not None:
        probe.release(slot)
    return slot


def _last_request() -> tuple[int, int, int]:
    """(slot, prompt tokens, prompt tokens evaluated) of the server's last finished request,
    from its log (the rest of the prompt was in the slot's cache)."""
    log = llama_server.shared_server().log_tail(60)
    prompt = re.findall(r"id +(\d+) \| task (\d+) \| prompt eval time = .* / +(\d+) tokens", log)
    made = re.findall(r"task (\d+) \| +eval time = .* / +(\d+) tokens", log)
    total = re.findall(r"task (\d+) \| stop processing: n_tokens = (\d+)", log)
    assert prompt and made and total, log
    slot, task, evaluated = prompt[-1]
    assert made[-1][0] == task == total[-1][0], log
    return int(slot), int(total[-1][1]) - int(made[-1][1]), int(evaluated)


async def _ask(llm: Any, history: list[tuple[str, str]], question: str) -> str:
    from livekit.agents import llm as lk_llm

    ctx = lk_llm.ChatContext.empty()
    ctx.add_message(role="system", content=SYSTEM)
    for role, text in history:
        ctx.add_message(role=role, content=text)  # type: ignore[arg-type]
    ctx.add_message(role="user", content=question)
    reply = ""
    async with llm.chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            if chunk.delta is not None and chunk.delta.content:
                reply += chunk.delta.content
    return reply


def test_job_processes_get_the_worker_s_slot_directory(prewarmed: LocalBrain) -> None:
    options = prewarmed.prepare_worker()
    assert options is not None and options.base_url is not None
    directory = options._worker_slots
    assert directory is not None and Path(directory).is_dir()
    job = LocalBrain(pickle.loads(pickle.dumps(options)))  # as LiveKit hands the plan over
    assert job.options._worker_slots == directory


@pytest.mark.parametrize("where", ["process", "worker"])
async def test_interleaved_sessions_each_keep_their_conversation_cached(
        prewarmed: LocalBrain, fresh_pool: SlotPool, tmp_path: Path, where: str) -> None:
    """``process``: the sessions of one process (the playground, ``demo``); ``worker``:
    sessions in an ``avatarkit run`` worker's job processes, sharing its server."""
    if where == "process":
        options: Any = {}
        prewarmed.warm_prompt(SYSTEM)  # what the composer's prewarm does: slot 0, then lazily
    else:
        options = prewarmed.prepare_worker()
        options._worker_slots = str(tmp_path)  # a worker of this test's own
        LocalBrain(options).warm_prompt(SYSTEM)  # a job process's prewarm: slots lazily
    brains = [LocalBrain(options) for _ in range(3)]
    llms = [brain.build().llm for brain in brains]
    # worker: each session asks what another one asked in the ``process`` case, whose slots
    # still hold those conversations: unpinned, llama.cpp would send it to that other slot
    conversations = CONVERSATIONS if where == "process" else CONVERSATIONS[1:] + CONVERSATIONS[:1]
    if where == "process":
        assert fresh_pool.users() == [1, 1, 1] + [0] * (SLOTS - 3)
    else:
        assert _next_free(tmp_path) == 3  # 0-2 are the sessions'
    _join_warmers()
    histories: list[list[tuple[str, str]]] = [[], [], []]
    first_prompt = [0, 0, 0]
    for turn in range(2):
        for k, llm in enumerate(llms):  # one session's turn after the other's, interleaved
            question = conversations[k][turn]
            reply = await _ask(llm, histories[k], question)
            histories[k] += [("user", question), ("assistant", reply)]
            slot, prompt, evaluated = _last_request()
            assert slot == k, (turn, k, slot)
            cached = prompt - evaluated
            if turn == 0:  # the warmed system prompt was there (uncached: 38 tokens evaluated)
                assert evaluated <= prompt - 20, (k, prompt, evaluated)
                first_prompt[k] = prompt
            else:  # the session's whole first prompt is still cached, not just the system's
                assert cached >= first_prompt[k], (k, first_prompt[k], prompt, evaluated)
    for brain in brains:
        await brain.aclose()
    assert fresh_pool.users() == [0] * SLOTS
    if where == "worker":
        assert _next_free(tmp_path) == 0  # given back
