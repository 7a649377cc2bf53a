"""The playground transport: one browser peer over WebRTC (aiortc), no media server.

The browser's mic becomes the session's audio input; a self-hosted face renders into
:meth:`PlaygroundTransport.media_sink` and an audio-only face plays into
:meth:`PlaygroundTransport.audio_output`; both go back to the browser as aiortc tracks in
sync. Session events (transcripts, agent state, per-turn latency) go to the page over an
``RTCDataChannel``, which also carries the page's emotion/background controls back.

The composer runs it like any other transport: ``await composer.run(transport,
on_started=transport.on_started)``. The conversation ends when the peer goes away (tab
closed, connection failed, data channel closed) or :meth:`close` is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ..emotions import FACE_TOOLS
from ..errors import AvatarkitError, describe
from ..report import TURN_STAGES, SessionReport, TurnCollector, TurnRecord
from ..transports.base import MediaSink, Transport
from .controls import apply_control, background_choices

if TYPE_CHECKING:
    from aiortc import RTCDataChannel
    from livekit.agents.voice import AgentSession, io

    from ..face import Face

log = logging.getLogger("avatarkit.playground")

VIDEO_CODECS = ("video/vp8", "video/h264", "video/rtx")  # aiortc cannot do VP9/AV1


class PlaygroundTransport(Transport):
    """One browser peer: an ``RTCPeerConnection`` with ``iceServers=[]``.

    Call :meth:`answer` with the browser's offer (sent after its ICE gathering completed;
    aiortc does not trickle) and return the answer to the browser, then run the composer.
    """

    name = "playground"

    def __init__(self, *, session_id: str | None = None, connect_timeout: float = 30.0,
                 playout_delay: float = 0.06, brain: str = "", face: str = "") -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection

        from ..transports.file import MediaClock
        from .mic import BrowserAudioInput
        from .peer_media import PeerMediaSink, PeerTurnTiming
        from .timeline import Playout

        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.brain = brain
        self.requested_face = face
        self.connect_timeout = connect_timeout
        self.created = time.monotonic()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.timings: list[PeerTurnTiming] = []
        self.page_timings: list[dict[str, Any]] = []
        self.vad_ends: list[float] = []  # time.monotonic() of each VAD end of speech
        self.turns: list[dict[str, Any]] = []
        self._timing_cls = PeerTurnTiming
        self.clock = MediaClock()
        self.sink = PeerMediaSink(Playout(delay=playout_delay), self.timings)
        self.input = BrowserAudioInput(on_speech_end=self._speech_ended, on_gone=self._mic_gone)
        self._output: Any = None  # PacedAudioOutput, for audio-only faces
        self.face: Face | None = None
        self.session: AgentSession | None = None
        self.agent_state = "initializing"
        self.video = False
        self.end_reason: str | None = None
        self._channel: RTCDataChannel | None = None
        self._outbox: list[str] = []
        self._connected = asyncio.Event()
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self.pc.on("connectionstatechange", self._on_connection_state)
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_datachannel)

    # -- negotiation -------------------------------------------------------------------
    async def answer(self, sdp: str, type_: str = "offer") -> dict[str, str]:
        """Apply the browser's offer; return the answer (``{"sdp", "type"}``) with every
        ICE candidate in it. Raises :class:`~avatarkit.errors.AvatarkitError` if the offer
        cannot be used."""
        from aiortc import RTCRtpSender, RTCSessionDescription

        from .aiortc_private import frugal_vp8, low_latency_mic

        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=type_))
        except Exception as exc:  # noqa: BLE001 - aiortc raises ValueError & co.
            raise AvatarkitError(f"unusable WebRTC offer: {exc}",
                                 hint="reload the page; use a current Chromium or Firefox") \
                from None
        kinds = {t.kind for t in self.pc.getTransceivers()}
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "audio" and not low_latency_mic(transceiver.receiver):
                log.debug("aiortc changed: the mic keeps aiortc's 80 ms jitter buffer")
        if "audio" not in kinds:
            raise AvatarkitError("the offer has no audio (microphone) track",
                                 hint="the page must add the mic track before createOffer")
        self.pc.addTrack(self.sink.audio)
        if "video" in kinds:
            self.pc.addTrack(self.sink.video)
            codecs = [c for c in RTCRtpSender.getCapabilities("video").codecs
                      if c.mimeType.lower() in VIDEO_CODECS]
            for transceiver in self.pc.getTransceivers():
                if transceiver.kind == "video":
                    transceiver.setCodecPreferences(codecs)
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)  # gathers every candidate (no trickle)
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "video" and not frugal_vp8(transceiver):
                log.debug("session %s: the video keeps aiortc's own encoder", self.session_id)
        local = self.pc.localDescription
        return {"sdp": local.sdp, "type": local.type}

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.debug("session %s: connection %s", self.session_id, state)
        if state == "connected":
            self._connected.set()
        elif state in ("failed", "closed"):
            self.close(f"connection {state}")

    def _mic_gone(self, seconds: float) -> None:
        self.close(f"no audio from the page for {seconds:g} s "
                   "(the tab was closed or the connection lost)")

    def _on_track(self, track: Any) -> None:
        if track.kind == "audio":
            self.input.start(track)

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if self._channel is not None:
            return
        self._channel = channel
        channel.on("message", self._on_message)
        channel.on("close", lambda: self.close("data channel closed"))
        if channel.readyState == "open":
            self._flush()
        else:
            channel.on("open", self._flush)

    # -- Transport ----------------------------------------------------------------------
    def audio_input(self) -> io.AudioInput:
        return self.input

    def audio_output(self) -> io.AudioOutput:
        from ..transports.file import PacedAudioOutput

        if self._output is None:
            self._output = PacedAudioOutput(self.sink, self.clock)
        return self._output

    def media_sink(self) -> MediaSink:
        return self.sink

    def attach(self, session: AgentSession) -> None:
        session.on("agent_state_changed", self._on_agent_state)
        session.on("user_state_changed", self._on_user_state)
        session.on("user_input_transcribed", lambda ev: self.send(
            {"type": "user_transcript", "text": ev.transcript, "final": ev.is_final}))
        session.on("conversation_item_added", self._on_item)
        session.on("function_tools_executed", self._on_tools)
        session.on("error", lambda ev: self.send(
            {"type": "warning", "message": describe(getattr(ev, "error", ev))}))
        session.on("close", lambda ev: self.close("session closed"))

    async def on_started(self, session: AgentSession, face: Face) -> None:
        """The composer's ``on_started``: the session runs and ``face`` is attached."""
        self.session = session
        self.face = face
        self.video = self._output is None  # an audio-only face took the audio output
        # the page shows each turn as it completes (the composer keeps its own report)
        TurnCollector(SessionReport(brain=self.brain), face,
                      on_turn=self._turn_finished).attach(session)
        self.send({
            "type": "ready", "session": self.session_id, "brain": self.brain,
            "face": face.name, "requested_face": self.requested_face or face.name,
            "video": self.video,
            "capabilities": {**face.capabilities(), "backgrounds": background_choices(face)},
            "shown": face.shown(),
            "stages": [[label, key] for label, key in TURN_STAGES],
        })

    async def wait_done(self, session: AgentSession) -> None:
        connected = asyncio.ensure_future(self._connected.wait())
        done = asyncio.ensure_future(self._done.wait())
        try:
            await asyncio.wait([connected, done], timeout=self.connect_timeout,
                               return_when=asyncio.FIRST_COMPLETED)
            if not self._connected.is_set():
                self.close(f"the browser did not connect within {self.connect_timeout:g} s")
            await done
        finally:
            connected.cancel()
            done.cancel()

    def close(self, reason: str = "closed") -> None:
        """End the conversation (idempotent); :meth:`aclose` then releases everything."""
        if not self._done.is_set():
            self.end_reason = reason
            log.info("session %s ending: %s", self.session_id, reason)
            self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    async def aclose(self) -> None:
        if self._closed:
            return
        failure = sys.exc_info()[1]  # set when the composer is unwinding from an error
        self._closed = True
        if isinstance(failure, Exception):
            self.close(f"error: {describe(failure)}")
            self.send({"type": "error", "message": describe(failure)})
        self.close("closed")
        self.send({"type": "ended", "reason": self.end_reason})
        await asyncio.sleep(0)  # let the goodbye go out
        await self.input.aclose()
        if self._output is not None:
            await self._output.aclose()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:  # wait without swallowing a cancellation of this close itself
            await asyncio.wait(list(self._tasks))
        for task in list(self._tasks):
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: failures were reported where they happened
        with contextlib.suppress(Exception):
            await self.pc.close()
        self.sink.audio.stop()
        self.sink.video.stop()

    # -- events to the page ---------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        """Send ``message`` (JSON) to the page; queued until the data channel opens."""
        text = json.dumps(message, default=str)
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            with contextlib.suppress(Exception):
                channel.send(text)
        elif not self._closed and len(self._outbox) < 500:
            self._outbox.append(text)

    def _flush(self) -> None:
        outbox, self._outbox = self._outbox, []
        for text in outbox:
            if self._channel is not None and self._channel.readyState == "open":
                self._channel.send(text)

    def _on_agent_state(self, ev: Any) -> None:
        self.agent_state = ev.new_state
        self.send({"type": "agent_state", "state": ev.new_state})

    def _on_user_state(self, ev: Any) -> None:
        if ev.new_state == "listening" and ev.old_state == "speaking":
            self.vad_ends.append(time.monotonic())  # the session's VAD: end of speech
        self.send({"type": "user_state", "state": ev.new_state})

    def _on_item(self, ev: Any) -> None:
        item = ev.item
        if getattr(item, "type", None) != "message":
            return
        self.send({"type": "message", "role": item.role,
                   "text": (item.text_content or "").strip(),
                   "interrupted": bool(getattr(item, "interrupted", False))})

    def _speech_ended(self, at: float) -> None:
        self.timings.append(self._timing_cls(speech_end=at))

    def _turn_finished(self, record: TurnRecord) -> None:
        measured = None
        for timing in reversed(self.timings):
            if timing.first_frame is not None:
                measured = timing.speech_end_to_first_frame
                break
        turn = {"index": len(self.turns) + 1, "heard": record.heard,
                "answered": record.answered, "interrupted": record.interrupted,
                "latencies": dict(record.latencies),
                "server_speech_end_to_first_frame": measured}
        self.turns.append(turn)
        self.send({"type": "turn", **turn})

    # -- controls from the page ------------------------------------------------------------
    def _on_message(self, message: Any) -> None:
        try:
            data = json.loads(message) if isinstance(message, str) else {}
        except ValueError:
            data = {}
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "bye":
            self.close("the page left")
        elif kind == "page_timing":
            self.page_timings.append({k: v for k, v in data.items() if k != "type"})
        elif kind in ("emotion", "background"):
            task = asyncio.create_task(self._control(data))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind is not None:
            self.send({"type": "control", "ok": False, "error": f"unknown message {kind!r}"})

    async def _control(self, data: dict[str, Any]) -> None:
        reply = await apply_control(self.face, data)
        self.send(reply)
        if reply.get("ok") and self.face is not None:
            self.send({"type": "face_state", "by": "page", **self.face.shown()})

    def _on_tools(self, ev: Any) -> None:
        """The agent changed the face with its tools: show the page what it shows now."""
        if self.face is not None and any(
                call.name in FACE_TOOLS for call in getattr(ev, "function_calls", [])):
            self.send({"type": "face_state", "by": "agent", **self.face.shown()})

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """A JSON-safe summary for ``GET /sessions`` (no transcripts)."""
        return {
            "session": self.session_id,
            "connection": self.pc.connectionState,
            "agent_state": self.agent_state,
            "face": self.face.name if self.face is not None else None,
            "age": round(time.monotonic() - self.created, 3),
            "input": self.input.stats(),
            "video_frames_sent": self.sink.video.frames_sent,
            # frames sent in each second from the first one (the last hour's): fps lows
            "video_sent_per_second": list(self.sink.video.sent_per_second.counts),
            # ... the face delivered in each second, and those skipped as late or unread
            "video_put_per_second": list(self.sink.video.put_per_second.counts),
            "video_frames_dropped": self.sink.video.frames_dropped,
            "playout_reanchors": self.sink.playout.reanchors,
            "video_size": self.sink.video.size,
            "audio_frames_sent": self.sink.audio.frames_sent,
            "agent_audio_seconds": round(self.sink.audio_seconds, 3),
            "turns": len(self.turns),
            "timings": [asdict(t) | {
                "speech_end_to_first_frame": t.speech_end_to_first_frame,
                "speech_end_to_first_audio": t.speech_end_to_first_audio,
            } for t in self.timings],
            "turn_latencies": [t["latencies"] for t in self.turns],  # no transcripts here
            "page_timings": self.page_timings,
            "vad_ends": self.vad_ends,
            "ended": self.end_reason,
        }
