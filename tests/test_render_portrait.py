"""Portrait loading: the built-in portrait, user portraits, and clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avatarkit.errors import UsageError
from avatarkit.render.portrait import MIN_SIDE, default_portrait_path, load_portrait
from local_extra import reason

Image = pytest.importorskip("PIL.Image", reason=reason(["pillow"]))


def _photo_like(path: Path, backdrop: tuple[int, int, int] = (205, 214, 226),
                size: int = 400) -> Path:
    """An opaque JPEG of the built-in bust over a plain backdrop (a 'user photo')."""
    src = Image.open(default_portrait_path()).convert("RGBA").resize((size, size))
    bg = Image.new("RGBA", (size, size), (*backdrop, 255))
    bg.alpha_composite(src)
    bg.convert("RGB").save(path, quality=92)
    return path


def test_builtin_portrait_has_alpha_and_layout() -> None:
    p = load_portrait(None, 512, 512)
    assert (p.width, p.height) == (512, 512)
    assert not p.opaque
    assert p.alpha.min() == 0.0 and p.alpha.max() == 1.0
    lay = p.layout
    (lx, ly), (rx, ry) = lay.eyes
    assert lx < rx and abs(ly - ry) < 1
    assert lay.mouth[1] > ly + lay.eye_width  # mouth well below the eyes
    # the face interior is foreground, the top corners are not
    assert p.alpha[int(lay.mouth[1]), int(lay.mouth[0])] == 1.0
    assert p.alpha[5, 5] == 0.0


def test_builtin_portrait_by_path_uses_its_exact_landmarks() -> None:
    assert load_portrait(default_portrait_path()).layout == load_portrait(None).layout


def test_builtin_portrait_fits_other_sizes() -> None:
    p = load_portrait(None, 640, 360)
    assert (p.width, p.height) == (640, 360)
    assert 0 < p.layout.mouth[0] < 640 and 0 < p.layout.mouth[1] < 360
    assert abs(p.layout.mouth[0] - 320) < 2  # centred


def test_user_photo_face_is_found(tmp_path: Path) -> None:
    photo = _photo_like(tmp_path / "me.jpg")
    p = load_portrait(photo, 512, 512)
    ref = load_portrait(None, 512, 512).layout
    assert p.opaque
    # the heuristic lands near the true landmarks of the drawn face
    for found, true in zip(p.layout.eyes, ref.eyes):
        assert abs(found[0] - true[0]) < 12 and abs(found[1] - true[1]) < 12
    assert abs(p.layout.mouth[1] - ref.mouth[1]) < 12
    # foreground estimated from the plain backdrop: face in, corners out
    assert p.alpha[int(ref.mouth[1]), int(ref.mouth[0])] > 0.9
    assert p.alpha[10, 10] < 0.1 and p.alpha[10, 500] < 0.1


def test_given_coordinates_override(tmp_path: Path) -> None:
    photo = _photo_like(tmp_path / "me.png", size=256)
    p = load_portrait(photo, 512, 512, eyes=((100, 110), (150, 110)), mouth=(125, 160))
    (lx, ly), (rx, _) = p.layout.eyes
    assert (lx, ly, rx) == pytest.approx((200, 220, 300))  # scaled x2 to the canvas
    assert p.layout.mouth == pytest.approx((250, 320))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as err:
        load_portrait(tmp_path / "nope.png")
    assert "nope.png" in str(err.value) and "does not exist" in str(err.value)


def test_corrupt_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 10)
    with pytest.raises(UsageError) as err:
        load_portrait(bad)
    assert "broken.jpg" in str(err.value) and "cannot read" in str(err.value)


def test_flat_colour_image(tmp_path: Path) -> None:
    flat = tmp_path / "flat.png"
    Image.new("RGB", (300, 300), (230, 190, 160)).save(flat)  # even skin-coloured
    with pytest.raises(UsageError) as err:
        load_portrait(flat)
    text = str(err.value)
    assert "flat.png" in text and "no usable face area" in text
    assert "face_box=" in text  # says how to fix it


def test_image_without_a_face(tmp_path: Path) -> None:
    noise = tmp_path / "stripes.png"
    arr = np.zeros((300, 300, 3), np.uint8)
    arr[:, ::20] = (30, 90, 200)  # blue stripes on black: no skin anywhere
    Image.fromarray(arr).save(noise)
    with pytest.raises(UsageError) as err:
        load_portrait(noise)
    assert "stripes.png" in str(err.value) and "no usable face area" in str(err.value)


def test_tiny_image(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.png"
    src = Image.open(default_portrait_path()).resize((MIN_SIDE // 3, MIN_SIDE // 3))
    src.save(tiny)
    with pytest.raises(UsageError) as err:
        load_portrait(tiny)
    assert "tiny.png" in str(err.value) and "too small" in str(err.value)


def test_flat_image_accepted_with_coordinates(tmp_path: Path) -> None:
    flat = tmp_path / "flat.png"
    Image.new("RGB", (300, 300), (120, 120, 120)).save(flat)
    p = load_portrait(flat, 256, 256, face_box=(100, 80, 200, 220))
    assert p.layout.mouth[1] > p.layout.eyes[0][1]


def test_coordinates_outside_the_image(tmp_path: Path) -> None:
    photo = _photo_like(tmp_path / "me.png", size=256)
    with pytest.raises(UsageError) as err:
        load_portrait(photo, mouth=(400, 100))
    assert "outside portrait" in str(err.value)
