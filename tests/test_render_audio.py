"""Audio features: loudness gating, adaptive level, attack/release, backgrounds parsing."""

from __future__ import annotations

import numpy as np
import pytest

from avatarkit.errors import UsageError
from avatarkit.render.audio_features import MouthTracker, SpectrumAnalyzer
from avatarkit.render.backgrounds import PRESETS, background_pixels, parse_background

RATE = 24000


def tone(amp: float, hz: float = 700.0, n: int = 960) -> np.ndarray:
    return (np.sin(2 * np.pi * hz * np.arange(n) / RATE) * amp * 32767).astype(np.int16)


def test_attack_opens_on_the_first_voiced_frame_and_release_closes() -> None:
    an, mt = SpectrumAnalyzer(RATE), MouthTracker(25)
    assert mt.update(an.analyze(np.zeros(960, np.int16))).open == 0.0
    first = mt.update(an.analyze(tone(0.3)))
    assert first.open > 0.5  # no frame of lag
    opens = [mt.update(an.analyze(np.zeros(960, np.int16))).open for _ in range(8)]
    assert opens[0] < first.open and opens == sorted(opens, reverse=True)
    assert opens[-1] == 0.0


def test_quiet_and_loud_voices_both_move_the_mouth() -> None:
    for amp in (0.02, 0.6):  # about -37 dBFS and -7 dBFS
        an, mt = SpectrumAnalyzer(RATE), MouthTracker(25)
        shapes = [mt.update(an.analyze(tone(amp))) for _ in range(10)]
        assert shapes[-1].open > 0.3, amp


def test_louder_opens_wider_within_a_voice() -> None:
    an, mt = SpectrumAnalyzer(RATE), MouthTracker(25)
    for _ in range(5):
        mt.update(an.analyze(tone(0.5)))
    loud = mt.update(an.analyze(tone(0.5))).open
    for _ in range(5):
        soft = mt.update(an.analyze(tone(0.05))).open
    assert soft < loud


def test_reset_closes_immediately() -> None:
    an, mt = SpectrumAnalyzer(RATE), MouthTracker(25)
    mt.update(an.analyze(tone(0.5)))
    mt.reset()
    assert mt.update(None).open == 0.0


@pytest.mark.local_extra
@pytest.mark.parametrize(("spec", "kind", "color"), [
    ("#102030", "color", (16, 32, 48)), ("#fff", "color", (255, 255, 255)),
    ("navy", "color", (0, 0, 128)), ("Sunset", "preset", None), ("original", "original", None),
    (None, "original", None), ("none", "original", None),
])
def test_parse_background(spec: str | None, kind: str, color: tuple[int, int, int] | None) -> None:
    bg = parse_background(spec)
    assert bg.kind == kind
    if color is not None:
        assert bg.color == color


@pytest.mark.local_extra
def test_bad_backgrounds() -> None:
    for spec in ("moonbase", "#12345", "#gggggg", "/no/such/file.png"):
        with pytest.raises(UsageError) as err:
            parse_background(spec)
        assert "studio" in str(err.value) or "does not exist" in str(err.value)


@pytest.mark.local_extra
@pytest.mark.parametrize("name", PRESETS)
def test_presets_render_any_size(name: str) -> None:
    px = background_pixels(parse_background(name), 320, 180)
    assert px.shape == (180, 320, 3)
    assert px.std() > 5  # not a flat fill
