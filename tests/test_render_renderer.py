"""The renderer: lip sync follows speech, silence rests, emotions/backgrounds/blinks show."""

from __future__ import annotations

import io
import shutil
import subprocess
import wave

import numpy as np
import pytest

from avatarkit.errors import UsageError
from avatarkit.render.portrait import load_portrait
from avatarkit.render.renderer import PortraitRenderer

pytestmark = pytest.mark.local_extra  # the offline engines / the renderer

FPS = 25


def espeak(text: str) -> tuple[np.ndarray, int]:
    """Speech-like audio from espeak-ng (mono int16, its native rate)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    wav = subprocess.run(["espeak-ng", "--stdout", "-s", "150", text], check=True,
                         capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    return data, rate


def chunks(samples: np.ndarray, rate: int) -> list[np.ndarray]:
    n = rate // FPS
    return [samples[i:i + n] for i in range(0, len(samples) - n + 1, n)]


def still(rate: int = 24000, **kw: object) -> PortraitRenderer:
    """A renderer with no idle motion and no blinks: pixel changes come from the face only."""
    return PortraitRenderer(fps=FPS, sample_rate=rate, seed=1, blink=False, motion=0.0,
                            **kw)  # type: ignore[arg-type]


def box(r: PortraitRenderer, name: str) -> tuple[slice, slice]:
    lay = r.portrait.layout
    if name == "mouth":
        (mx, my), mw = lay.mouth, lay.mouth_width
        return slice(int(my - 0.6 * mw), int(my + 1.0 * mw)), slice(int(mx - mw), int(mx + mw))
    if name == "eyes":
        (lx, ly), (rx, _) = lay.eyes
        ew = lay.eye_width
        return slice(int(ly - 0.6 * ew), int(ly + 0.6 * ew)), slice(int(lx - ew), int(rx + ew))
    if name == "face":
        x0, y0, x1, y1 = (int(v) for v in lay.face_box)
        return slice(y0, y1), slice(x0, x1)
    raise ValueError(name)


def diff(a: np.ndarray, b: np.ndarray, where: tuple[slice, slice]) -> float:
    return float(np.abs(a[where][..., :3].astype(np.int16) - b[where][..., :3]).mean())


def test_frame_format_and_determinism() -> None:
    speech, rate = espeak("Hello there, how are you today?")
    runs = []
    for _ in range(2):
        r = PortraitRenderer(fps=FPS, sample_rate=rate, seed=7)
        frames = [r.render(c).buffer for c in chunks(speech, rate)[:40]]
        frames += [r.render(None).buffer for _ in range(150)]  # idle motion + a blink
        runs.append(frames)
    f0 = runs[0][0]
    assert len(f0) == 512 * 512 * 4
    assert np.frombuffer(f0, np.uint8)[3::4].min() == 255  # opaque RGBA
    assert runs[0] == runs[1]  # same audio + seed -> same frames
    assert len({bytes(f) for f in runs[0]}) > 20  # and they do change


def test_mouth_follows_speech_energy() -> None:
    speech, rate = espeak("The quick brown fox jumps over the lazy dog. "
                          "Peter Piper picked a peck of pickled peppers.")
    r = still(rate)
    rest = r.render(None).array.copy()
    where = box(r, "mouth")
    rms, change = [], []
    for c in chunks(speech, rate):
        frame = r.render(c).array
        rms.append(float(np.sqrt(np.mean((c.astype(np.float32) / 32768) ** 2))))
        change.append(diff(frame, rest, where))
    corr = float(np.corrcoef(rms, change)[0, 1])
    assert corr > 0.5, f"mouth change vs audio RMS correlation only {corr:.2f}"
    assert max(change) > 5  # visibly open at times


def test_silence_keeps_mouth_closed() -> None:
    speech, rate = espeak("One two three.")
    r = still(rate)
    rest = r.render(None).array.copy()
    where = box(r, "mouth")
    for c in chunks(speech, rate):
        r.render(c)
    tail = [r.render(np.zeros(rate // FPS, np.int16)) for _ in range(15)]
    tail += [r.render(None) for _ in range(10)]
    # the mouth closes within a few frames after speech and then stays exactly at rest
    assert all(diff(f.array, rest, where) == 0.0 for f in tail[5:])
    assert all(f.state.mouth.open == 0.0 for f in tail[5:])


def test_quiet_noise_floor_is_silence() -> None:
    r = still()
    rest = r.render(None).array.copy()
    rng = np.random.default_rng(0)
    for _ in range(20):
        frame = r.render(rng.normal(0, 30, 960).astype(np.int16))  # ~-60 dBFS hiss
    assert diff(frame.array, rest, box(r, "mouth")) == 0.0


def test_visemes_differ() -> None:
    t = np.arange(960) / 24000
    vowels = {
        "A": np.sin(2 * np.pi * 850 * t) + 0.6 * np.sin(2 * np.pi * 1200 * t),
        "O": np.sin(2 * np.pi * 400 * t) + 0.7 * np.sin(2 * np.pi * 300 * t),
        "E": 0.4 * np.sin(2 * np.pi * 300 * t) + np.sin(2 * np.pi * 2200 * t),
    }
    shapes = {}
    for name, x in vowels.items():
        r = still()
        for _ in range(5):
            f = r.render((x * 9000).astype(np.int16))
        shapes[name] = f.state.mouth
        assert f.features is not None and f.features.viseme == name
    assert shapes["O"].width < shapes["A"].width < shapes["E"].width
    assert shapes["O"].round > 0.5 > shapes["A"].round
    assert shapes["E"].open < shapes["A"].open


@pytest.mark.parametrize("emotion", ["happy", "sad", "concerned", "surprised", "angry"])
def test_emotions_change_the_face(emotion: str) -> None:
    r = still()
    neutral = r.render(None).array.copy()
    r.set_emotion(emotion)
    first = r.render(None).array.copy()
    for _ in range(25):
        frame = r.render(None)
    d_first = diff(first, neutral, box(r, "face"))
    d_full = diff(frame.array, neutral, box(r, "face"))
    assert d_full > 0.5, f"{emotion} barely changes the face ({d_full:.2f})"
    assert d_first < d_full  # eased in, not switched
    assert diff(frame.array, neutral, (slice(0, 40), slice(0, 40))) == 0.0  # backdrop unchanged


def test_emotion_intensity_scales() -> None:
    r = still()
    neutral = r.render(None).array.copy()
    out = {}
    for k in (0.3, 1.0):
        r.set_emotion("happy", k)
        for _ in range(30):
            f = r.render(None)
        out[k] = diff(f.array, neutral, box(r, "face"))
    assert 0 < out[0.3] < out[1.0]


def test_unknown_emotion_lists_valid_ones() -> None:
    r = still()
    with pytest.raises(UsageError) as err:
        r.set_emotion("ecstatic")
    assert "ecstatic" in str(err.value) and "happy" in str(err.value)
    with pytest.raises(UsageError):
        r.set_emotion("happy", 1.5)


def test_backgrounds_change_backdrop_not_face(tmp_path: object) -> None:
    r = still(background="#00ff00")
    green = r.render(None).array.copy()
    assert tuple(green[2, 2, :3]) == (0, 255, 0)
    lay = r.portrait.layout
    cy, cx = int(lay.mouth[1]) - 30, int(lay.mouth[0])  # nose area
    centre = (slice(cy - 15, cy + 15), slice(cx - 15, cx + 15))
    for bg in ("night", "sunset", "office", "studio", "navy"):
        r.set_background(bg)
        frame = r.render(None).array
        assert diff(frame, green, (slice(0, 60), slice(0, 60))) > 20, bg
        assert diff(frame, green, centre) == 0.0, bg


def test_background_image_and_bad_specs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    img = tmp_path / "wall.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(img)
    r = still(background=str(img))
    assert tuple(r.render(None).array[5, 5, :3]) == (200, 30, 30)
    with pytest.raises(UsageError) as err:
        r.set_background("moonbase")
    assert "studio" in str(err.value) and "#RRGGBB" in str(err.value)
    with pytest.raises(UsageError) as err:
        r.set_background(str(tmp_path / "missing.jpg"))
    assert "missing.jpg" in str(err.value)


def test_user_portrait_background_uses_estimated_mask(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    from avatarkit.render.portrait import default_portrait_path

    src = Image.open(default_portrait_path()).convert("RGBA")
    photo = Image.new("RGBA", src.size, (236, 236, 240, 255))
    photo.alpha_composite(src)
    path = tmp_path / "photo.jpg"
    photo.convert("RGB").save(path, quality=95)
    portrait = load_portrait(path, 512, 512)
    r = PortraitRenderer(portrait, background="#000000", seed=1, blink=False, motion=0)
    frame = r.render(None).array
    assert frame[5, 5, :3].max() < 10  # backdrop replaced
    mx, my = (int(v) for v in portrait.layout.mouth)
    assert frame[my - 40, mx, :3].min() > 150  # face kept


def test_blinks_happen() -> None:
    r = PortraitRenderer(fps=FPS, seed=3, motion=0.0)
    rest = r.render(None).array.copy()
    where = box(r, "eyes")
    blinks = []
    for i in range(int(7 * FPS)):  # blinks come every 3-6 s
        f = r.render(None)
        if f.state.blink >= 0.99:
            blinks.append(i)
            assert diff(f.array, rest, where) > 5  # the lids really cover the eyes
    assert blinks, "no blink within 7 s"
    gaps = np.diff(blinks) / FPS
    assert all(2.9 <= g <= 6.3 for g in gaps)  # every 3-6 s
    for _ in range(8):  # and the eyes reopen fully
        f = r.render(None)
    if f.state.blink == 0.0:
        assert diff(f.array, rest, where) == 0.0


def test_steady_frames_match_a_fresh_render() -> None:
    """Regions reused from the previous frame are exactly what drawing them anew gives."""
    from avatarkit.render.compositor import Compositor

    r = PortraitRenderer(fps=FPS, seed=4, emotion="happy")
    for _ in range(60):
        f = r.render(None)
    fresh = Compositor(r.portrait)
    out = np.empty_like(f.array)
    fresh.render(r._layers, f.state, out)
    assert np.array_equal(out, f.array)


def test_idle_motion_is_subtle() -> None:
    r = PortraitRenderer(fps=FPS, seed=2, blink=False)
    first = r.render(None).array.copy()
    diffs = [diff(r.render(None).array, first, box(r, "face")) for _ in range(100)]
    assert max(diffs) > 0.2  # the head moves
    assert max(diffs) < 12  # but only by a pixel or so
    assert diff(r.render(None).array, first, (slice(480, 512), slice(0, 512))) < 1  # shoulders
