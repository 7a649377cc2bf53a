"""Behaviour, offline: a scripted brain speaks through a face over the file transport (the
face's frames move with the voice and stop when interrupted), and a brain answers a spoken
question over the file transport."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..transports.file import FileTransport, Utterance
from .contract import ContractError
from .scripted import ScriptedBrain


@dataclass
class BehaviourReport:
    """What the kit saw: media per kind, motion while speaking and after the interruption
    (largest grey-level change between consecutive frames, median over the window, 0-255),
    first-frame latency (transport start to first frame, seconds), run time."""

    face: str
    video_frames: int = 0
    audio_frames: int = 0
    motion_speaking: float | None = None
    motion_interrupted: float | None = None
    audio_after_interrupt: float = 0.0
    first_frame_latency: float | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


class _Recorder:
    """A media sink in front of the file transport's: notes each frame and when."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.video: list[tuple[float, Any]] = []  # (monotonic, small grey thumbnail)
        self.audio: list[float] = []
        self.broken = False

    async def push_video(self, frame: Any, timestamp: float) -> None:
        if self.broken:
            raise ConnectionResetError("avatarkit.testing: the video output broke on purpose")
        self.video.append((time.monotonic(), _thumbnail(frame)))
        await self.inner.push_video(frame, timestamp)

    async def push_audio(self, frame: Any, timestamp: float) -> None:
        self.audio.append(time.monotonic())
        await self.inner.push_audio(frame, timestamp)


def _thumbnail(frame: Any) -> Any:
    import numpy as np
    from livekit import rtc

    four = (rtc.VideoBufferType.RGBA, rtc.VideoBufferType.BGRA, rtc.VideoBufferType.ARGB,
            rtc.VideoBufferType.ABGR)
    if frame.type in four:
        img = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 4)
    elif frame.type == rtc.VideoBufferType.RGB24:
        img = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 3)
    else:
        rgba = frame.convert(rtc.VideoBufferType.RGBA)
        img = np.frombuffer(rgba.data, np.uint8).reshape(rgba.height, rgba.width, 4)
    step = max(1, min(frame.width, frame.height) // 64)
    return img[::step, ::step].astype(np.float32).mean(axis=2)


class KitTransport(FileTransport):
    """The file transport, scripted for the kit: wait for the agent to speak, let it speak
    ``speak_for`` seconds, interrupt it, watch ``after`` seconds more."""

    def __init__(self, output: Path, *, speak_for: float, after: float,
                 video: bool = True) -> None:
        super().__init__(utterances=[], output=output, video=video, tail=0.0,
                         reply_timeout=20.0)
        self.speak_for = speak_for
        self.after = after
        self.recorder_sink = _Recorder(super().media_sink())
        self.spoke_at: float | None = None
        self.interrupted_at: float | None = None
        self.face_started_at = time.monotonic()

    def media_sink(self) -> Any:
        return self.recorder_sink

    def audio_output(self) -> Any:
        output: Any = super().audio_output()
        output._sink = self.recorder_sink  # noqa: SLF001 - our own transport's output
        return output

    async def wait_done(self, session: Any) -> None:
        await self._wait_for("the agent to speak", "speaking", timeout=self.reply_timeout)
        self.spoke_at = time.monotonic()
        await asyncio.sleep(self.speak_for)
        session.interrupt(force=True)
        self.interrupted_at = time.monotonic()
        await asyncio.sleep(self.after)


def _plan(brain_cls: type[Any], brain_options: Any, faces: list[tuple[type[Any], Any]],
          tmp: Path, greeting: str | None, join_timeout: float) -> Any:
    from ..composer import FaceSpec, Plan
    from ..config import load_config
    from ..faces.none import NoneFace

    empty = tmp / "avatarkit.toml"
    empty.write_text("")
    config = load_config(path=empty, environ={}, overrides={
        "agent": {"greeting": greeting}, "face": {"join_timeout": join_timeout}})
    specs = [FaceSpec(cls, cls.parse_options(opts)) for cls, opts in faces]
    if not any(cls is NoneFace for cls, _ in faces):
        specs.append(FaceSpec(NoneFace, NoneFace.parse_options(None)))
    return Plan(config, brain_cls, brain_cls.parse_options(brain_options), tuple(specs))


def _motion(frames: list[tuple[float, Any]], start: float, end: float) -> float | None:
    import numpy as np

    picked = [img for t, img in frames if start <= t <= end]
    if len(picked) < 3:
        return None
    # the largest change between two frames (a mouth opening), median over the window: an
    # occasional blink does not count, a face that moves its lips in most frames does
    return float(np.median([np.abs(b - a).max() for a, b in zip(picked, picked[1:])]))


async def check_face_behaviour(
    face_cls: type[Any],
    options: Mapping[str, Any] | None = None,
    *,
    wav: str | Path | None = None,
    video: bool | None = None,
    speak_for: float = 1.5,
    after: float = 1.5,
    join_timeout: float = 20.0,
) -> BehaviourReport:
    """A scripted brain speaks ``wav`` (default: generated speech) through ``face_cls`` over
    the file transport; it is interrupted after ``speak_for`` seconds.

    A video face (``video``: default, whether it delivered frames) must start, deliver
    frames that move while it speaks, and move less than half as much once interrupted; an
    audio-only face must deliver the voice and stop it when interrupted.
    """
    from ..composer import Composer

    t0 = time.perf_counter()
    report = BehaviourReport(face=face_cls.name)
    with tempfile.TemporaryDirectory(prefix="avatarkit-kit-") as tmp:
        plan = _plan(ScriptedBrain, {"wav": str(wav) if wav else None}, [(face_cls, options)],
                     Path(tmp), "hello", join_timeout)
        transport = KitTransport(Path(tmp) / "kit.mp4", speak_for=speak_for, after=after)
        result = await Composer(plan).run(transport)
    report.seconds = time.perf_counter() - t0
    if result.face != face_cls.name:
        raise ContractError("behaviour: start", f"the face did not start: {result.summary()}",
                            "run the lifecycle checks; start() must attach or raise")
    rec = transport.recorder_sink
    report.video_frames, report.audio_frames = len(rec.video), len(rec.audio)
    spoke, cut = transport.spoke_at, transport.interrupted_at
    assert spoke is not None and cut is not None
    if not rec.audio:
        raise ContractError("behaviour: voice", "no agent audio reached the transport",
                            "route the agent's audio (session.output.replace_audio_tail)")
    report.audio_after_interrupt = max(0.0, max(rec.audio) - cut)
    if report.audio_after_interrupt > 0.5:
        raise ContractError("behaviour: interrupted", f"audio went on "
                            f"{report.audio_after_interrupt:.2f} s after the interruption",
                            "clear_buffer() must drop queued audio at once")
    if video is None:
        video = bool(rec.video)
    if not video:
        return report
    if not rec.video:
        raise ContractError("behaviour: video", "no video frame reached the media sink",
                            "render into transport.media_sink() when there is no room")
    report.first_frame_latency = rec.video[0][0] - transport.face_started_at
    report.motion_speaking = _motion(rec.video, spoke + 0.3, cut)
    report.motion_interrupted = _motion(rec.video, cut + 0.5, cut + after)
    if not report.motion_speaking or report.motion_speaking < 4:
        raise ContractError("behaviour: frames move with the voice", "the frames did not "
                            f"change while the agent spoke ({report.video_frames} frames)")
    still = report.motion_interrupted or 0.0
    if still > 0.5 * report.motion_speaking:
        raise ContractError("behaviour: frames stop when interrupted", f"motion after the "
                            f"interruption {still:.2f} vs {report.motion_speaking:.2f} while "
                            "speaking", "stop the lip sync when the audio is cleared")
    return report


async def check_brain_answers(
    brain_cls: type[Any],
    options: Mapping[str, Any] | None = None,
    *,
    question: Any = None,
    timeout: float = 30.0,
) -> Any:
    """The brain hears ``question`` (a wav path, or int16 samples at 16 kHz; default: the
    spoken question shipped with avatarkit, "What is the capital of France?") over the file
    transport and answers aloud (audio-only face). Returns the session report (its turns:
    what was heard and answered)."""
    from importlib import resources

    import numpy as np

    from ..composer import Composer
    from ..transports.audio_files import INPUT_RATE, load_speech

    if question is None:
        question = Path(str(resources.files("avatarkit") / "assets" / "question.wav"))
    samples = load_speech(question) if isinstance(question, (str, Path)) else question
    samples = np.concatenate([samples, np.zeros(INPUT_RATE, np.int16)])  # speech ends in silence
    with tempfile.TemporaryDirectory(prefix="avatarkit-kit-") as tmp:
        from ..faces.none import NoneFace

        plan = _plan(brain_cls, options, [(NoneFace, None)], Path(tmp), None, 5.0)
        transport = FileTransport(utterances=[Utterance(samples)], output=Path(tmp) / "a.mp4",
                                  video=False, reply_timeout=timeout, max_reply=timeout)
        report = await Composer(plan).run(transport)
    if not transport.timings or transport.timings[0].first_output is None:
        raise ContractError("behaviour: answers", "no spoken answer reached the transport",
                            "build() must return an LLM and a TTS (or a realtime model)")
    return report
