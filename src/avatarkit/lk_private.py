"""The one place avatarkit uses a private livekit-agents API (1.8.9), and why.

``participant_audio_output``: when a cloud avatar dies mid-session the agent's voice must go
back to the room as the agent's own audio track. livekit-agents 1.8.9 has no public sink for
that: RoomIO builds ``_ParticipantAudioOutput`` only at ``session.start()``, and when a face's
sink was installed first it builds none. Upstream: livekit/agents #7276 (avatar failure
leaves the agent on a dead sink), PR #7282 (restore the previous route; adds
``_attach_audio_output``, not in 1.8.9), agents-js #2040 (the same in JS). Drop this module
when a public room audio sink exists.

``drain_server``: ``AgentServer.drain()`` in 1.8.9 can spin forever. Its wait loop awaits
``proc.join()`` of every process with a job; a process that has ended but is still listed
joins at once *without yielding*, and the pool only unlists it in a task that then never runs.
When a job ends during the drain and the drain wakes first, the worker's main process spins at
100% CPU, stops answering LiveKit ("worker process is not responding") and never exits (seen
in the room tests, py-spy: ``SupervisedProc.join`` <- ``AgentServer.drain.<locals>._drain``).
Upstream: livekit/agents PR #3709 (rewrites that loop; closed unmerged). Drop it when
``drain()``'s loop yields.

``forget_audio_output``: a failed third-party face may leave an object as
``session.output.audio`` that cannot be detached (the public setter calls its
``on_detached()``); the chain must still go on to the next face. 1.8.9 has no public way to
drop a sink without detaching it.

``stop_sink_start``: a cloud avatar's ``DataStreamAudioOutput`` starts a task that waits for
the avatar participant. When the avatar never joins (a face that timed out, a rotation that
failed), that task is still waiting after the face is closed, and at the end of the job the
room's disconnection fails it: livekit-agents logs "ERROR Error in _start_task" with a
traceback ("room disconnected while waiting for participant", added by livekit/agents PR
#4864), and asyncio prints "Task exception was never retrieved" at exit. The class has no
``aclose`` (its own TODO); drop this when it gets one.
"""

from __future__ import annotations

import asyncio
from typing import Any


def participant_audio_output(
    room: Any, *, sample_rate: int = 24000, num_channels: int = 1,
    track_name: str = "avatarkit_audio",
) -> tuple[Any, asyncio.Task[None]]:
    """An ``io.AudioOutput`` publishing the agent's audio as its own microphone track.

    Publishing runs in the returned task (it waits for a subscriber; frames captured before
    wait too), so the caller can install the sink at once. Close with ``aclose()``.
    """
    from livekit import rtc
    from livekit.agents.voice.room_io import _ParticipantAudioOutput

    output = _ParticipantAudioOutput(
        room, sample_rate=sample_rate, num_channels=num_channels,
        track_publish_options=rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
        track_name=track_name,
    )
    return output, asyncio.ensure_future(output.start())


def forget_audio_output(output: Any) -> None:
    """Drop ``output``'s (an ``AgentOutput``) audio sink without calling its ``on_detached``."""
    output._audio_sink = None


def stop_sink_start(sink: Any) -> None:
    """Cancel a ``DataStreamAudioOutput``'s wait for its avatar if it still runs; if it
    already failed (the room left first; LiveKit logged it), retrieve its exception, so
    that asyncio does not print "Task exception was never retrieved" at exit."""
    task = getattr(sink, "_start_atask", None)
    if not isinstance(task, asyncio.Task):
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


async def drain_server(server: Any) -> None:
    """What ``server.drain()`` does (tell LiveKit the worker takes no new jobs, then wait for
    the running ones, within the server's ``drain_timeout``), with a wait loop that yields.
    Raises ``asyncio.TimeoutError`` when jobs are still running at the timeout."""
    async with server._lock:
        if server._draining:
            return
        server._draining = True
        await server._update_worker_status()
    timeout = server._drain_timeout
    loop = asyncio.get_running_loop()
    deadline = None if not timeout else loop.time() + timeout
    await asyncio.gather(*server._job_lifecycle_tasks, return_exceptions=True)
    while server.active_jobs:  # an ended process is listed until the pool's task runs
        if deadline is not None and loop.time() > deadline:
            raise asyncio.TimeoutError
        await asyncio.sleep(0.1)
