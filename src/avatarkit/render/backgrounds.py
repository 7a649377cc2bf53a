"""Backgrounds behind the portrait: the portrait's own, a colour, an image or a preset.

Spec strings (``--face-opt background=...``, ``set_background``, the control API):

- ``original`` / ``none`` (or unset): the portrait's own backdrop (``studio`` for a
  portrait with a transparent background, like the built-in one);
- ``#RRGGBB`` / ``#RGB`` or a CSS colour name (``navy``, ``white``...): a solid colour;
- a preset: ``studio``, ``office``, ``sunset``, ``night`` (drawn procedurally, any size);
- the path of an image file (PNG/JPEG), scaled to cover the frame.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import UsageError, clip, describe

PRESETS: tuple[str, ...] = ("studio", "office", "sunset", "night")
ORIGINAL_WORDS = ("original", "none")
_HEX = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class Background:
    """A parsed background spec."""

    kind: Literal["original", "color", "image", "preset"]
    spec: str = "original"
    color: tuple[int, int, int] = (0, 0, 0)
    path: str = ""

    @property
    def key(self) -> tuple[str, ...]:
        if self.kind == "image":
            try:
                st = os.stat(self.path)
                return (self.kind, self.path, str(st.st_mtime_ns), str(st.st_size))
            except OSError:
                return (self.kind, self.path)
        return (self.kind, self.spec if self.kind != "color" else str(self.color))


ORIGINAL = Background("original")


def valid_backgrounds_text() -> str:
    """One line describing every accepted background spec."""
    return (f"a preset ({', '.join(PRESETS)}), a colour (#RRGGBB or a name such as 'navy'), "
            "'original' for the portrait's own backdrop, or the path of a PNG/JPEG image")


def parse_background(spec: str | Background | None) -> Background:
    """Validate ``spec``; a :class:`UsageError` listing the valid forms otherwise."""
    if isinstance(spec, Background):
        return spec
    if spec is None:
        return ORIGINAL
    if not isinstance(spec, str):
        raise UsageError(f"background must be a string, got {type(spec).__name__}",
                         hint="use " + valid_backgrounds_text())
    text = spec.strip()
    low = text.lower()
    if low in ("", *ORIGINAL_WORDS):
        return ORIGINAL
    if _HEX.match(text):
        hx = text[1:]
        if len(hx) == 3:
            hx = "".join(ch * 2 for ch in hx)
        return Background("color", text, (int(hx[0:2], 16), int(hx[2:4], 16), int(hx[4:6], 16)))
    if low in PRESETS:
        return Background("preset", low)
    color = _named_color(low)
    if color is not None:
        return Background("color", low, color)
    path = Path(os.path.expanduser(text))
    try:
        looks_like_path = os.sep in text or "." in text or path.exists()
        is_file = looks_like_path and path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        raise UsageError(f"unknown background {clip(text)}",
                         hint="use " + valid_backgrounds_text()) from None
    if looks_like_path:
        if not is_file:
            raise UsageError(f"background image {clip(text)} does not exist",
                             hint="give an existing PNG/JPEG file, or use "
                             + valid_backgrounds_text())
        return Background("image", text, path=str(path.resolve()))
    raise UsageError(f"unknown background {clip(text)}", hint="use " + valid_backgrounds_text())


def _named_color(name: str) -> tuple[int, int, int] | None:
    from PIL import ImageColor

    if name not in ImageColor.colormap:
        return None
    rgb = ImageColor.getrgb(name)
    return (int(rgb[0]), int(rgb[1]), int(rgb[2]))


# -- pixels ----------------------------------------------------------------------------

def background_pixels(bg: Background, width: int, height: int) -> np.ndarray:
    """(H, W, 3) float32 pixels of a colour, preset or image background (cached, read-only).

    ``original`` has no pixels of its own: the compositor uses the portrait's.
    """
    if bg.kind == "original":
        raise ValueError("the original background comes from the portrait")
    return _pixels(bg, bg.key, width, height)  # an image's key includes its file's version


@lru_cache(maxsize=8)
def _pixels(bg: Background, key: tuple[str, ...], width: int, height: int) -> np.ndarray:
    if bg.kind == "color":
        arr = np.empty((height, width, 3), np.float32)
        arr[:] = np.array(bg.color, np.float32)
    elif bg.kind == "preset":
        arr = _PRESET_DRAW[bg.spec](width, height)
    else:
        arr = _load_image(bg, width, height)
    arr = np.ascontiguousarray(arr, dtype=np.float32)
    arr.setflags(write=False)
    return arr


def _load_image(bg: Background, width: int, height: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(bg.path)
        img.load()
    except FileNotFoundError:
        raise UsageError(f"background image {clip(bg.spec)} does not exist",
                         hint="give an existing PNG/JPEG file") from None
    except UnidentifiedImageError:
        raise UsageError(f"background image {clip(bg.spec)} is not an image",
                         hint="use a PNG or JPEG file") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UsageError(f"cannot read background image {clip(bg.spec)} ({describe(exc)})",
                         hint="use a valid PNG or JPEG file") from None
    rgb = img.convert("RGB")
    w, h = rgb.size
    scale = max(width / w, height / h)
    sx, sy = (w - width / scale) / 2, (h - height / scale) / 2
    rgb = rgb.resize((width, height), Image.Resampling.LANCZOS,
                     box=(sx, sy, sx + width / scale, sy + height / scale))
    return np.asarray(rgb, np.float32)


def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return xx / max(1, width - 1), yy / max(1, height - 1)


def _lerp(c0: tuple[float, ...], c1: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    a, b = np.array(c0, np.float32), np.array(c1, np.float32)
    return a + (b - a) * t[..., None]


def _dither(arr: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return arr + rng.uniform(-0.6, 0.6, arr.shape[:2]).astype(np.float32)[..., None]


def _studio(width: int, height: int) -> np.ndarray:
    x, y = _grid(width, height)
    r = np.sqrt((x - 0.5) ** 2 * 1.2 + (y - 0.38) ** 2)
    t = np.clip(r / 0.85, 0, 1) ** 1.3
    return _dither(_lerp((128, 140, 158), (38, 44, 56), t), 1)


def _sunset(width: int, height: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFilter

    x, y = _grid(width, height)
    sky = np.where(
        (y < 0.55)[..., None],
        _lerp((58, 44, 98), (236, 128, 84), np.clip(y / 0.55, 0, 1) ** 1.4),
        _lerp((250, 176, 96), (255, 212, 140), np.clip((y - 0.55) / 0.2, 0, 1)),
    )
    sun = np.exp(-(((x - 0.72) * width) ** 2 + ((y - 0.6) * height) ** 2) / (0.05 * width) ** 2)
    sky = sky + sun[..., None] * np.array([40, 60, 50], np.float32)
    hills = Image.new("L", (width, height), 0)
    d = ImageDraw.Draw(hills)
    pts: list[tuple[float, float]] = [(0.0, float(height))]
    for i in range(41):
        px = i / 40
        py = 0.7 + 0.05 * math.sin(px * 7.0) + 0.03 * math.sin(px * 17 + 1.0)
        pts.append((px * width, py * height))
    pts.append((width, height))
    d.polygon(pts, fill=255)
    m = np.asarray(hills.filter(ImageFilter.GaussianBlur(1)), np.float32)[..., None] / 255
    ground = _lerp((70, 40, 60), (40, 24, 40), np.clip((y - 0.7) / 0.3, 0, 1))
    return _dither(sky * (1 - m) + ground * m, 2)


def _night(width: int, height: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFilter

    x, y = _grid(width, height)
    sky = _lerp((8, 12, 32), (34, 44, 88), np.clip(y, 0, 1) ** 1.5)
    rng = np.random.default_rng(7)
    n = max(20, width * height // 2500)
    sx, sy = rng.integers(0, width, n), rng.integers(0, int(height * 0.6), n)
    bright = rng.uniform(120, 255, n).astype(np.float32)
    sky[sy, sx] = np.maximum(sky[sy, sx], bright[:, None])
    moon = np.exp(-(((x - 0.2) * width) ** 2 + ((y - 0.18) * height) ** 2) / (0.035 * width) ** 2)
    sky += np.clip(moon * 3, 0, 1)[..., None] * np.array([190, 190, 170], np.float32)
    city = Image.new("RGB", (width, height), (0, 0, 0))
    cm = Image.new("L", (width, height), 0)
    d, dm = ImageDraw.Draw(city), ImageDraw.Draw(cm)
    bx = 0.0
    while bx < width:
        bw = float(rng.uniform(0.05, 0.12) * width)
        top = float(rng.uniform(0.62, 0.82) * height)
        dm.rectangle([bx, top, bx + bw, height], fill=255)
        for wy in np.arange(top + 6, height - 4, max(6.0, height / 60)):
            for wx in np.arange(bx + 4, bx + bw - 4, max(6.0, width / 60)):
                if rng.random() < 0.35:
                    d.rectangle([wx, wy, wx + 2, wy + 2], fill=(255, 214, 120))
        bx += bw + float(rng.uniform(0, 0.02) * width)
    m = np.asarray(cm.filter(ImageFilter.GaussianBlur(0.8)), np.float32)[..., None] / 255
    lights = np.asarray(city, np.float32)
    body = np.array([16, 18, 30], np.float32) + lights
    return _dither(sky * (1 - m) + body * m, 3)


def _office(width: int, height: int) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFilter

    img = Image.new("RGB", (width, height), (214, 204, 188))
    d = ImageDraw.Draw(img)
    W, H = width, height
    # window with a bright sky on the left
    d.rectangle([0.04 * W, 0.08 * H, 0.36 * W, 0.62 * H], fill=(236, 236, 232))
    d.rectangle([0.06 * W, 0.1 * H, 0.34 * W, 0.6 * H], fill=(170, 206, 235))
    d.rectangle([0.195 * W, 0.1 * H, 0.205 * W, 0.6 * H], fill=(236, 236, 232))
    d.rectangle([0.06 * W, 0.345 * H, 0.34 * W, 0.355 * H], fill=(236, 236, 232))
    # bookshelf on the right
    d.rectangle([0.66 * W, 0.12 * H, 0.98 * W, 0.9 * H], fill=(120, 84, 58))
    rng = np.random.default_rng(11)
    palette = [(176, 58, 46), (46, 92, 140), (220, 180, 80), (70, 120, 80), (150, 150, 160),
               (90, 60, 110)]
    for shelf in range(4):
        top = (0.15 + shelf * 0.19) * H
        bottom = top + 0.15 * H
        d.rectangle([0.67 * W, bottom, 0.97 * W, bottom + 0.02 * H], fill=(96, 66, 44))
        bx = 0.68 * W
        while bx < 0.95 * W:
            bw = float(rng.uniform(0.012, 0.03) * W)
            bh = float(rng.uniform(0.09, 0.145) * H)
            color = palette[int(rng.integers(0, len(palette)))]
            d.rectangle([bx, bottom - bh, bx + bw, bottom], fill=color)
            bx += bw + 1
    # plant and floor line
    d.rectangle([0.0, 0.86 * H, W, H], fill=(160, 140, 120))
    d.polygon([(0.44 * W, 0.86 * H), (0.5 * W, 0.7 * H), (0.56 * W, 0.86 * H)], fill=(150, 96, 64))
    for k in range(7):
        ang = -1.2 + k * 0.4
        lx = 0.5 * W + math.sin(ang) * 0.07 * W
        ly = -math.cos(ang) * 0.08 * H
        d.ellipse([lx - 0.03 * W, 0.56 * H + ly, lx + 0.03 * W, 0.66 * H + ly], fill=(60, 120, 70))
    img = img.filter(ImageFilter.GaussianBlur(max(2.0, width / 90)))  # depth of field
    x, y = _grid(width, height)
    vignette = 1 - 0.18 * np.clip(np.sqrt((x - 0.5) ** 2 + (y - 0.45) ** 2) / 0.7, 0, 1) ** 2
    return _dither(np.asarray(img, np.float32) * vignette[..., None], 4)


_PRESET_DRAW = {"studio": _studio, "office": _office, "sunset": _sunset, "night": _night}
