"""The playground's VP8 encoder against aiortc's own, on the built-in face's frames.

Renders ``--frames`` frames of the built-in face (512x512 unless told: the first half idle,
the second half speaking a Piper sentence), then encodes them with aiortc 1.16's
``Vp8Encoder`` and with the playground's (``avatarkit.playground.aiortc_private``:
libvpx's denoiser off, ``cpu-used=-16``), each through aiortc's real path: encode,
packetize, depacketize, decode. Prints, per encoder and bitrate, the encoder's CPU time a
frame (median of ``--repeats``, the two encoders alternating), the share of a core that is
at 25 fps, the bitrate libvpx produced, and the picture quality (PSNR of the decoded frames
against the rendered ones); then the playground's encoder as a ratio of aiortc's.

    python benchmarks/vp8_encoder.py [--frames 250] [--repeats 5] [--size 512]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np

FPS = 25
TEXT = "Hello! I am the built-in avatar. I can talk, blink and smile while you listen."
BITRATES = (980_000, 400_000)  # what Chromium's REMB gave an idle stream here; a low one


def render_frames(size: int, count: int) -> list[Any]:
    """``count`` yuv420p ``av.VideoFrame``s of the built-in face: half idle, half speaking."""
    import av

    from avatarkit.engines.say import speak_16k
    from avatarkit.render.renderer import PortraitRenderer

    rate = 16000
    speech = speak_16k(TEXT)
    step = rate // FPS
    renderer = PortraitRenderer(width=size, height=size, fps=FPS, sample_rate=rate, seed=1)
    frames = []
    for i in range(count):
        talking = i >= count // 2
        j = (i - count // 2) * step % max(1, len(speech) - step)
        rgb = renderer.render(speech[j:j + step] if talking else None).array[..., :3]
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frames.append(frame.reformat(format="yuv420p"))
    return frames


def encoders() -> dict[str, Any]:
    """Factories of aiortc's encoder and the playground's."""
    from aiortc.codecs.vpx import Vp8Encoder

    from avatarkit.playground.aiortc_private import frugal_vp8_encoder

    return {"aiortc 1.16": Vp8Encoder, "playground": frugal_vp8_encoder}


def encode_all(make: Any, frames: list[Any], bitrate: int) -> tuple[float, list[list[bytes]]]:
    """CPU seconds a frame, and each frame's RTP payloads."""
    from fractions import Fraction

    encoder = make()
    encoder.target_bitrate = bitrate
    out = []
    began = time.process_time()
    for i, frame in enumerate(frames):
        frame.pts, frame.time_base = i, Fraction(1, FPS)
        payloads, _ = encoder.encode(frame)
        out.append(payloads)
    return (time.process_time() - began) / len(frames), out


def quality(frames: list[Any], packets: list[list[bytes]]) -> tuple[float, float]:
    """Mean PSNR (dB) of the decoded frames against the rendered ones, and the bitrate
    (bits a second at 25 fps)."""
    from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame

    decoder = Vp8Decoder()
    scores, size = [], 0
    for i, (frame, payloads) in enumerate(zip(frames, packets, strict=True)):
        data = b"".join(vp8_depayload(p) for p in payloads)
        size += len(data)
        for out in decoder.decode(JitterFrame(data, i * 3600)):
            a = out.to_ndarray(format="rgb24").astype(np.float64)
            b = frame.to_ndarray(format="rgb24").astype(np.float64)
            scores.append(10 * np.log10(255.0 ** 2 / max(float(((a - b) ** 2).mean()), 1e-9)))
    return float(np.mean(scores)), size * 8 * FPS / len(frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    frames = render_frames(args.size, args.frames)
    makers = encoders()
    print(f"VP8 encoding of {args.frames} frames of the built-in face ({args.size}x{args.size}, "
          f"half idle, half speaking), one thread, median of {args.repeats} runs")
    print(f"{'encoder':12s} {'target':>8s} {'ms/frame':>9s} {'% core @25':>10s} "
          f"{'kbps':>6s} {'PSNR dB':>8s}")
    for bitrate in BITRATES:
        times: dict[str, list[float]] = {name: [] for name in makers}
        last: dict[str, list[list[bytes]]] = {}
        for _ in range(args.repeats):
            for name, make in makers.items():
                seconds, last[name] = encode_all(make, frames, bitrate)
                times[name].append(seconds)
        medians = {name: statistics.median(t) for name, t in times.items()}
        for name in makers:
            psnr, bps = quality(frames, last[name])
            ms = medians[name] * 1000
            print(f"{name:12s} {bitrate // 1000:>6d}k {ms:9.2f} {ms * FPS / 10:10.1f} "
                  f"{bps / 1000:6.0f} {psnr:8.2f}")
        base, ours = medians["aiortc 1.16"], medians["playground"]
        print(f"{'':12s} playground / aiortc: {ours / base:.2f}x the CPU time")


if __name__ == "__main__":
    main()
