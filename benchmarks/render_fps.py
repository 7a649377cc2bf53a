"""Frames per second of the built-in renderer on ONE core (512x512 unless told otherwise).

    python benchmarks/render_fps.py [--size 512] [--frames 400] [--repeats 5]

Scenarios: speaking (espeak-ng speech, neutral), speaking with an emotion (every feature
region active), silent (idle motion + blinks), and speaking over a background image; plus
the full generator step (renderer + rtc.VideoFrame/AudioFrame wrapping). Prints the median
over repeats and the ratio to real time at 25 fps. Pins itself to CPU 0 and one BLAS thread.
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import wave  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from avatarkit.render.renderer import PortraitRenderer  # noqa: E402

FPS = 25
TEXT = ("Hello! I am the built-in avatar. I can talk, blink and smile while you listen. "
        "The quick brown fox jumps over the lazy dog.")


def speech(rate: int) -> np.ndarray:
    if shutil.which("espeak-ng"):
        wav = subprocess.run(["espeak-ng", "--stdout", TEXT], check=True,
                             capture_output=True).stdout
        with wave.open(io.BytesIO(wav)) as w:
            data = np.frombuffer(w.readframes(w.getnframes()), np.int16)
            src = w.getframerate()
        t = np.arange(int(len(data) * rate / src)) * (src / rate)
        return np.interp(t, np.arange(len(data)), data).astype(np.int16)
    t = np.arange(rate * 6) / rate  # fallback: a syllable-modulated buzz
    return (np.sin(2 * np.pi * 160 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * 9000
            ).astype(np.int16)


def measure(step: Callable[[int], object], frames: int, repeats: int) -> float:
    for i in range(20):  # warm caches
        step(i)
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for i in range(frames):
            step(i)
        rates.append(frames / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rate = 24000
    n = rate // FPS
    audio = speech(rate)
    chunks = [audio[i:i + n] for i in range(0, len(audio) - n + 1, n)]

    def renderer(**kw: object) -> PortraitRenderer:
        r = PortraitRenderer(width=args.size, height=args.size, fps=FPS, sample_rate=rate,
                             seed=1, **kw)  # type: ignore[arg-type]
        r.warm()
        return r

    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        bg_path = os.path.join(tmp, "bg.jpg")
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)).save(bg_path)
        scenarios: list[tuple[str, PortraitRenderer, bool]] = [
            ("speaking", renderer(), True),
            ("speaking, emotion happy", renderer(emotion="happy"), True),
            ("silent (idle motion, blinks)", renderer(), False),
            ("speaking, background image", renderer(background=bg_path), True),
        ]
        print(f"renderer {args.size}x{args.size}, one core, median of {args.repeats} x "
              f"{args.frames} frames")
        for name, r, talking in scenarios:
            def step(i: int, r: PortraitRenderer = r, talking: bool = talking) -> object:
                return r.render(chunks[i % len(chunks)] if talking else None)

            fps = measure(step, args.frames, args.repeats)
            print(f"  {name:32s} {fps:7.0f} fps  = {fps / FPS:5.1f}x real time at {FPS} fps"
                  f"  ({1000 / fps:.2f} ms/frame, {FPS / fps * 100:.1f}% of a core)")

        from livekit import rtc

        from avatarkit.render.generator import PortraitVideoGenerator

        gen = PortraitVideoGenerator(renderer())
        frame_audio = [rtc.AudioFrame(c.tobytes(), rate, 1, len(c)) for c in chunks]

        def gen_step(i: int) -> object:
            gen.push_audio_nowait(frame_audio[i % len(frame_audio)])
            return gen.step()

        fps = measure(gen_step, args.frames, args.repeats)
        print(f"  {'generator step (speaking)':32s} {fps:7.0f} fps  = {fps / FPS:5.1f}x real "
              f"time at {FPS} fps  ({1000 / fps:.2f} ms/frame, {FPS / fps * 100:.1f}% of a core)")


if __name__ == "__main__":
    main()
