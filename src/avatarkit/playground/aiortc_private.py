"""The one place avatarkit uses a private aiortc API (1.16), and why.

Two changes, each dropped when aiortc offers a public way to make it.

``low_latency_mic``: aiortc's ``RTCRtpReceiver`` hard-codes the audio receive jitter buffer
as ``JitterBuffer(capacity=16, prefetch=4)``: it holds four Opus packets (80 ms) before it
hands the first one to the decoder, and there is no option to change it (aiortc 1.16 has
none; no upstream issue asks for one). The playground's browser is on the same host or LAN,
where packets arrive in order within a millisecond or two, so the mic's audio (and with
it the end of the user's speech) reaches the VAD ~60 ms sooner with ``prefetch=0`` (the
buffer still puts packets in order and still drops what is too late).
Measured with ``benchmarks/playground_overhead.py --browser-nice 10``: the page's speech
end -> first frame shown came 0.14-0.17 s after the server's figure before, 0.08 s after.
Drop it when aiortc lets a receiver choose its jitter buffer.

``frugal_vp8``: aiortc's ``Vp8Encoder`` hard-codes libvpx's options, with no way to pass
others (aiortc PR #711, "override encoder", was closed unmerged). Two of them cost CPU for
nothing on a rendered avatar: ``noise-sensitivity=4`` (a temporal denoiser, for camera noise
a rendered frame does not have) and ``cpu-used=-6``. With the denoiser off and
``cpu-used=-16`` (libvpx's fastest real-time setting) the built-in face's 512x512 frames
encode in 0.64x the CPU time at 980 kbps (1.31 against 2.04 ms a frame) and 0.72x at
400 kbps, with a better picture (PSNR 47.7 against 46.9 dB): ``benchmarks/vp8_encoder.py``.
With three idle playground sessions the server took 83% of a core against 90% (two runs
each, ``benchmarks/playground_cpu.py --pages 3``). The encoder is installed on the video
sender before its first frame; everything else (bitrate from REMB, key frames on request,
packetization) stays aiortc's.
"""

from __future__ import annotations

import functools
from typing import Any

_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"  # name-mangled private attribute
_ENCODER = "_RTCRtpSender__encoder"  # name-mangled; aiortc creates one if it is None

VP8_OPTIONS = {"cpu-used": "-16", "noise-sensitivity": "0"}
"""libvpx options that differ from aiortc 1.16's (see the module doc)."""


def low_latency_mic(receiver: Any) -> bool:
    """Give an audio ``RTCRtpReceiver`` (before any packet arrived) a jitter buffer that
    holds nothing back; ``False`` (and nothing changed) where aiortc no longer has the
    attribute this relies on."""
    from aiortc.jitterbuffer import JitterBuffer

    current = getattr(receiver, _ATTRIBUTE, None)
    if not isinstance(current, JitterBuffer):
        return False
    setattr(receiver, _ATTRIBUTE, JitterBuffer(capacity=current.capacity, prefetch=0))
    return True


def frugal_vp8(transceiver: Any) -> bool:
    """Give a video ``RTCRtpTransceiver`` whose negotiated codec is VP8 (after
    ``setLocalDescription``, before its first frame) an encoder with :data:`VP8_OPTIONS`;
    ``False`` (and nothing changed) for another codec, or where aiortc no longer has what
    this relies on."""
    codecs = getattr(transceiver, "_codecs", None)
    sender = transceiver.sender
    if not codecs or codecs[0].mimeType.lower() != "video/vp8" \
            or getattr(sender, _ENCODER, False) is not None:
        return False
    setattr(sender, _ENCODER, frugal_vp8_encoder())
    return True


def frugal_vp8_encoder() -> Any:
    """An aiortc ``Vp8Encoder`` that opens libvpx with :data:`VP8_OPTIONS` in place of two
    of aiortc's. It creates the codec just before aiortc would (the same size and bitrate
    tests), so aiortc's ``encode`` finds it made and keeps it."""
    return _frugal_vp8_class()()


@functools.cache
def _frugal_vp8_class() -> type:
    from aiortc.codecs.vpx import Vp8Encoder

    class FrugalVp8Encoder(Vp8Encoder):
        def encode(self, frame: Any, force_keyframe: bool = False) -> Any:
            codec, rate = self.codec, self.target_bitrate
            if codec is None or not codec.bit_rate or frame.width != codec.width \
                    or frame.height != codec.height \
                    or abs(rate - codec.bit_rate) / codec.bit_rate > 0.1:
                self.codec = vp8_codec(frame.width, frame.height, rate)
            return super().encode(frame, force_keyframe)

    return FrugalVp8Encoder


def vp8_codec(width: int, height: int, bitrate: int) -> Any:
    """An unopened libvpx encoder set up as aiortc 1.16's ``Vp8Encoder`` does, with
    :data:`VP8_OPTIONS` over its options (PyAV opens it at the first frame)."""
    import multiprocessing

    import av
    from aiortc.codecs.vpx import number_of_threads

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.bit_rate = width, height, bitrate
    codec.pix_fmt = "yuv420p"
    codec.gop_size = 3000  # kf_max_dist
    codec.qmin, codec.qmax = 2, 56  # rc_min_quantizer, rc_max_quantizer
    codec.options = {
        "bufsize": str(bitrate), "deadline": "realtime", "lag-in-frames": "0",
        "minrate": str(bitrate), "maxrate": str(bitrate),  # CBR
        "overshoot-pct": "15", "partitions": "0", "static-thresh": "1",
        "undershoot-pct": "100", **VP8_OPTIONS,
    }
    codec.thread_count = number_of_threads(width * height, multiprocessing.cpu_count())
    return codec
