"""The one place avatarkit uses a private aiortc API (1.16), and why.

``low_latency_mic``: aiortc's ``RTCRtpReceiver`` hard-codes the audio receive jitter buffer
as ``JitterBuffer(capacity=16, prefetch=4)``: it holds four Opus packets (80 ms) before it
hands the first one to the decoder, and there is no option to change it (aiortc 1.16 has
none; no upstream issue asks for one). The playground's browser is on the same host or LAN,
where packets arrive in order within a millisecond or two, so the mic's audio (and with
it the end of the user's speech) reaches the VAD ~60 ms sooner with ``prefetch=0`` (the
buffer still puts packets in order and still drops what is too late).
Measured with ``benchmarks/playground_overhead.py --browser-nice 10``: the page's speech
end -> first frame shown came 0.14-0.17 s after the server's figure before, 0.08 s after.
Drop this module when aiortc lets a receiver choose its jitter buffer.
"""

from __future__ import annotations

from typing import Any

_ATTRIBUTE = "_RTCRtpReceiver__jitter_buffer"  # name-mangled private attribute


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
