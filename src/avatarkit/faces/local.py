"""The ``local`` face: the built-in talking-portrait renderer, self-hosted on the worker.

In a LiveKit room it is LiveKit's own pattern: agent audio goes to a ``QueueAudioOutput``
(ours, ``FaceAudioOutput``, can also pause; installed with ``replace_audio_tail``) read by an
``AvatarRunner`` that drives our ``PortraitVideoGenerator`` and publishes synchronised audio
+ video tracks from the agent's participant. Without a room (file / playground transports)
a :class:`~avatarkit.render.offroom_runner.SinkAvatarRunner` does the same into the
transport's ``MediaSink``. ``metrics`` holds the per-segment first-frame latency.

This module imports nothing heavy at top level (no livekit, numpy, PIL, av).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator

from ..emotions import EMOTIONS
from ..errors import FaceStartError
from ..face import Face
from ..hookspecs import hookimpl
from ..part import PartOptions
from ..transports.base import Transport

log = logging.getLogger("avatarkit.faces.local")

# Share of one core a session costs, measured on this project's 2-core machine:
# rendering 512x512 at 25 fps (benchmarks/render_fps.py: ~380 fps speaking -> 25/380) plus
# generator/runner overhead, and VP8-encoding the published track (LIVEKIT-NOTES: ~27%).
RENDER_CORE_SHARE = 0.08
ENCODE_CORE_SHARE = 0.27


def _load_cost() -> float:
    return round(min(1.0, (RENDER_CORE_SHARE + ENCODE_CORE_SHARE) / (os.cpu_count() or 1)), 3)


def _numbers(value: Any, count: int, what: str) -> Any:
    """Accept ``"1,2,3,4"`` / ``[1, 2, 3, 4]`` / nested pairs for coordinate options."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parts = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
        try:
            value = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{what} must be {count} numbers like "
                             f"{','.join(['10'] * count)}") from None
    if isinstance(value, (list, tuple)):
        flat: list[Any] = []
        for v in value:
            flat.extend(v if isinstance(v, (list, tuple)) else [v])
        if len(flat) != count:
            raise ValueError(f"{what} must be {count} numbers, got {len(flat)}")
        return flat
    return value


class LocalFace(Face):
    """A lip-synced portrait rendered on the worker (no cloud service, no GPU)."""

    name: ClassVar[str] = "local"
    summary: ClassVar[str] = (
        "Built-in talking portrait rendered on the worker (CPU): lip sync, blinks, "
        "emotions, backgrounds; any PNG/JPEG portrait."
    )
    env: ClassVar[tuple[str, ...]] = ()
    emotions: ClassVar[tuple[str, ...]] = EMOTIONS
    supports_background: ClassVar[bool] = True
    backgrounds: ClassVar[tuple[str, ...]] = ("original", "studio", "office", "sunset", "night")
    load_cost: ClassVar[float] = _load_cost()

    class Options(PartOptions):

        portrait: str | None = Field(
            default=None, description="PNG/JPEG portrait file; unset = the built-in portrait.")
        width: int = Field(default=512, ge=64, le=1920, description="Video width (even).")
        height: int = Field(default=512, ge=64, le=1920, description="Video height (even).")
        fps: int = Field(default=25, ge=5, le=60, description="Video frames per second.")
        sample_rate: int = Field(default=24000, ge=8000, le=48000,
                                 description="Audio rate the face plays agent audio at.")
        emotion: str = Field(default="neutral", description="One of: " + ", ".join(EMOTIONS))
        emotion_intensity: float = Field(default=1.0, ge=0.0, le=1.0)
        background: str | None = Field(
            default=None,
            description="studio|office|sunset|night, #RRGGBB, a colour name, an image file, "
            "or unset/original for the portrait's own backdrop.")
        face_box: tuple[float, float, float, float] | None = Field(
            default=None, description="LEFT,TOP,RIGHT,BOTTOM of the face (image pixels).")
        eyes: tuple[float, float, float, float] | None = Field(
            default=None, description="X1,Y1,X2,Y2 eye centres (image pixels).")
        mouth: tuple[float, float] | None = Field(
            default=None, description="X,Y of the mouth centre (image pixels).")
        blink: bool = Field(default=True, description="Blink every 3-6 s.")
        motion: float = Field(default=1.0, ge=0.0, le=3.0,
                              description="Idle head-motion amplitude (0 = still).")
        pausable: bool = Field(
            default=True,
            description="Let AgentSession pause the avatar on a possible interruption and "
            "resume it if it was a false one (resume_false_interruption).")
        control_port: int | None = Field(
            default=None, ge=0, le=65535,
            description="Serve the control API on 127.0.0.1:PORT (0 = any free port).")
        control_token: SecretStr | None = Field(
            default=None, description="Bearer token of the control API (else generated).")

        @field_validator("emotion")
        @classmethod
        def _emotion(cls, v: str) -> str:
            key = v.strip().lower()
            if key not in EMOTIONS:
                raise ValueError(f"unknown emotion; use one of {', '.join(EMOTIONS)}")
            return key

        @field_validator("width", "height")
        @classmethod
        def _even(cls, v: int) -> int:
            if v % 2:
                raise ValueError("must be even (video encoders need even sizes)")
            return v

        @field_validator("face_box", mode="before")
        @classmethod
        def _face_box(cls, v: Any) -> Any:
            return _numbers(v, 4, "face_box")

        @field_validator("eyes", mode="before")
        @classmethod
        def _eyes(cls, v: Any) -> Any:
            return _numbers(v, 4, "eyes")

        @field_validator("mouth", mode="before")
        @classmethod
        def _mouth(cls, v: Any) -> Any:
            return _numbers(v, 2, "mouth")

    options: Options

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        o = self.options
        self._emotion = (o.emotion, o.emotion_intensity)
        self._background = o.background or "original"
        self._renderer: Any = None
        self._generator: Any = None
        self._runner: Any = None
        self._runner_started = False
        self._runner_done: asyncio.Future[Any] | None = None
        self._queue: Any = None
        self.control: Any = None
        self.metrics: Any = None
        """``FaceMetrics`` of the running face (per-segment first-frame latency)."""
        self._closed = False
        self._close_lock = asyncio.Lock()

    @classmethod
    def required_modules(cls, options: Any) -> tuple[str, ...]:
        """Python modules this face needs (checked by ``avatarkit doctor``)."""
        return ("livekit.agents", "numpy", "PIL")

    @classmethod
    def check_usable(cls, options: Any, environ: Mapping[str, str] | None = None) -> None:
        """Fail early on a bad portrait or background (loads and checks the image, cached)."""
        super().check_usable(options, environ)
        from ..render.backgrounds import background_pixels, parse_background

        cls._load_portrait(options)
        background = parse_background(options.background)
        if background.kind == "image":  # an existing file that is not an image fails here
            background_pixels(background, options.width, options.height)

    @staticmethod
    def _load_portrait(o: Options) -> Any:
        from ..render.portrait import load_portrait

        eyes = None if o.eyes is None else ((o.eyes[0], o.eyes[1]), (o.eyes[2], o.eyes[3]))
        return load_portrait(o.portrait, o.width, o.height, face_box=o.face_box, eyes=eyes,
                             mouth=o.mouth)

    def _build_renderer(self) -> Any:
        import random

        from ..render.renderer import PortraitRenderer

        o = self.options
        renderer = PortraitRenderer(
            self._load_portrait(o), fps=float(o.fps), sample_rate=o.sample_rate,
            background=self._background, emotion=self._emotion[0],
            intensity=self._emotion[1], seed=random.randrange(2**31), blink=o.blink,
            motion=o.motion,
        )
        renderer.warm()
        return renderer

    async def start(self, session: Any, transport: Transport) -> None:
        """Attach to ``session``: render into the room, or into the transport's media sink."""
        if self._closed:
            raise FaceStartError("this local face was closed; create a new one")
        room = transport.room
        sink = None
        if room is None:
            sink = transport.media_sink()
            if sink is None:
                raise FaceStartError(
                    f"the local face needs a LiveKit room or a media sink; the "
                    f"{transport.name} transport has neither",
                    hint="use the LiveKit, playground or file transport, or --face none",
                )
        from livekit.agents.voice.avatar import AvatarOptions, AvatarRunner

        from ..render.generator import FaceAudioOutput, PortraitVideoGenerator
        from ..render.offroom_runner import SinkAvatarRunner

        o = self.options
        self._renderer = await asyncio.to_thread(self._build_renderer)
        self._generator = PortraitVideoGenerator(self._renderer)
        self.metrics = self._generator.metrics
        self._queue = FaceAudioOutput(self._generator, sample_rate=o.sample_rate,
                                      pausable=o.pausable)
        if room is not None:
            self._runner = AvatarRunner(
                room, audio_recv=self._queue, video_gen=self._generator,
                options=AvatarOptions(video_width=o.width, video_height=o.height,
                                      video_fps=float(o.fps), audio_sample_rate=o.sample_rate,
                                      audio_channels=1),
            )
        else:
            assert sink is not None
            self._runner = SinkAvatarRunner(audio_recv=self._queue, video_gen=self._generator,
                                            sink=sink)
        await self._runner.start()
        self._runner_started = True
        if room is not None:
            self._runner_done = asyncio.ensure_future(self._runner.wait_for_complete())
            self._runner_done.add_done_callback(
                lambda f: None if f.cancelled() else f.exception())  # retrieved: no warning
        if o.control_port is not None:
            from ..web.control_api import ControlServer

            token = o.control_token.get_secret_value() if o.control_token else None
            self.control = ControlServer(self, port=o.control_port, token=token)
            await self.control.start()
        session.output.replace_audio_tail(self._queue)

    def failure(self) -> BaseException | None:
        return self.error

    @property
    def error(self) -> BaseException | None:
        """Why rendering stopped, if it died (None while healthy)."""
        runner = self._runner
        if runner is None:
            return None
        err = getattr(runner, "error", None)
        if err is not None:
            return err
        done = self._runner_done  # AvatarRunner.wait_for_complete(): ends when a task fails
        if done is not None and done.done() and not done.cancelled():
            return done.exception()
        return None

    async def aclose(self) -> None:
        """Stop the control API, the runner and the generator (idempotent)."""
        async with self._close_lock:
            if self._closed:
                return
            self._closed = True
            if self.control is not None:
                await self.control.aclose()
            if self._runner is not None and self._runner_started:
                await self._runner.aclose()
            if self._runner_done is not None and not self._runner_done.done():
                self._runner_done.cancel()
            if self._generator is not None:
                await self._generator.aclose()

    # -- run-time control --------------------------------------------------------------

    async def set_emotion(self, name: str, intensity: float = 1.0) -> None:
        """Ease to ``name`` (one of ``EMOTIONS``) at ``intensity`` 0-1."""
        from ..render.animator import check_emotion

        self._emotion = check_emotion(name, intensity)
        if self._renderer is not None:
            self._renderer.set_emotion(*self._emotion)

    async def set_background(self, background: str) -> None:
        """Switch the backdrop (preset, colour, image path or ``original``)."""
        from ..render.backgrounds import parse_background

        spec = parse_background(background)
        if self._generator is not None:
            await self._generator.set_background(spec)
        self._background = background if spec.kind != "original" else "original"

    def control_state(self) -> dict[str, Any]:
        """What ``GET /state`` of the control API returns."""
        o = self.options
        return {
            "face": self.name,
            "running": self._runner_started and not self._closed,
            "emotion": {"name": self._emotion[0], "intensity": self._emotion[1]},
            "background": self._background,
            "video": {"width": o.width, "height": o.height, "fps": o.fps},
            "capabilities": {**self.capabilities(), "emotions": list(EMOTIONS),
                             "backgrounds": ["original", "studio", "office", "sunset", "night",
                                             "#RRGGBB", "<colour name>", "<image path>"]},
        }


@hookimpl
def register_faces(register: Any) -> None:
    register(LocalFace)
