"""The playground's VP8 encoder (``aiortc_private.frugal_vp8``): a session's video sender
gets it when VP8 is negotiated (and keeps aiortc's own for H.264); it encodes the built-in
face's frames through aiortc's packetizer into frames aiortc decodes at full quality, with
libvpx's denoiser off and its fastest real-time speed, also after a bitrate change from
REMB; and a requested key frame is one. (Its CPU time against aiortc's encoder is measured
by ``benchmarks/vp8_encoder.py``, not asserted here.)"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import pytest

pytest.importorskip("aiortc")

from tests.browser.peer import PeerClient  # noqa: E402

from avatarkit.playground.aiortc_private import (  # noqa: E402
    VP8_OPTIONS,
    frugal_vp8_encoder,
)
from avatarkit.playground.transport import PlaygroundTransport  # noqa: E402

ENCODER = "_RTCRtpSender__encoder"


async def _video_sender_encoder(mime_types: tuple[str, ...] | None) -> Any:
    """The encoder the playground's video sender holds after answering an offer whose video
    codecs are ``mime_types`` (None: the client's defaults, VP8 first)."""
    from aiortc import RTCRtpReceiver

    transport = PlaygroundTransport(connect_timeout=10, brain="test")
    peer = PeerClient()
    try:
        peer.pc.addTrack(peer._mic)
        video = peer.pc.addTransceiver("video", direction="recvonly")
        if mime_types is not None:
            video.setCodecPreferences([c for c in RTCRtpReceiver.getCapabilities("video").codecs
                                       if c.mimeType.lower() in mime_types])
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        await transport.answer(peer.pc.localDescription.sdp)
        (sender,) = [t.sender for t in transport.pc.getTransceivers() if t.kind == "video"]
        return getattr(sender, ENCODER)
    finally:
        await transport.aclose()
        await peer.close()


async def test_a_vp8_session_gets_the_frugal_encoder_and_h264_keeps_aiortcs() -> None:
    encoder = await _video_sender_encoder(None)
    assert type(encoder) is type(frugal_vp8_encoder())
    # aiortc makes its own encoder for the negotiated codec at the first frame
    assert await _video_sender_encoder(("video/h264",)) is None


def _frames(count: int) -> list[Any]:
    import av

    from avatarkit.render.renderer import PortraitRenderer

    renderer = PortraitRenderer(width=256, height=256, fps=25, sample_rate=16000, seed=1)
    rng = np.random.default_rng(0)
    frames = []
    for i in range(count):
        voice = (rng.standard_normal(640) * 6000).astype(np.int16) if i % 2 else None
        rgb = np.ascontiguousarray(renderer.render(voice).array[..., :3])
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = i, Fraction(1, 25)
        frames.append(frame)
    return frames


def _psnr(a: Any, b: Any) -> float:
    x = a.to_ndarray(format="rgb24").astype(np.float64)
    y = b.to_ndarray(format="rgb24").astype(np.float64)
    return float(10 * np.log10(255.0 ** 2 / max(((x - y) ** 2).mean(), 1e-9)))


def test_the_frugal_encoder_makes_frames_aiortc_decodes_at_full_quality() -> None:
    from aiortc.codecs.vpx import Vp8Decoder, vp8_depayload
    from aiortc.jitterbuffer import JitterFrame

    frames = _frames(40)
    encoder, decoder = frugal_vp8_encoder(), Vp8Decoder()
    encoder.target_bitrate = 980_000
    scores, keyframes = [], []
    for i, frame in enumerate(frames):
        if i == 20:
            encoder.target_bitrate = 400_000  # REMB lowered it: the codec is made again
        payloads, _ = encoder.encode(frame, force_keyframe=i == 30)
        data = b"".join(vp8_depayload(p) for p in payloads)
        keyframes.append(not data[0] & 1)  # VP8 frame tag: bit 0 clear = key frame
        (decoded,) = decoder.decode(JitterFrame(data, i * 3600))
        scores.append(_psnr(decoded, frame))
        assert not set(VP8_OPTIONS) & set(encoder.codec.options)  # libvpx took them all
        assert encoder.codec.bit_rate == (980_000 if i < 20 else 400_000)
    assert [i for i, key in enumerate(keyframes) if key] == [0, 20, 30]
    assert min(scores) > 35.0 and float(np.median(scores)) > 40.0, scores


def test_the_options_change_what_libvpx_makes() -> None:
    """Same frames, same bitrate: aiortc's own encoder makes other bytes (were the options
    ignored, libvpx would make the same)."""
    from aiortc.codecs.vpx import Vp8Encoder, vp8_depayload

    frames = _frames(12)
    ours, theirs = frugal_vp8_encoder(), Vp8Encoder()
    differ = 0
    for frame in frames:
        a, b = (b"".join(map(vp8_depayload, e.encode(frame)[0])) for e in (ours, theirs))
        differ += a != b
    assert theirs.codec.bit_rate == ours.codec.bit_rate
    assert differ >= len(frames) // 2
