"""Portraits: load an image and fit it to the output canvas, with its face layout and its
foreground mask.

The built-in portrait ships with exact landmarks (``assets/default_portrait.json``). For a
user portrait the eyes and mouth are given (``face_box``/``eyes``/``mouth``, in pixels of the
original image) or found by :mod:`.landmarks`; the foreground of an opaque picture is
estimated by :mod:`.matting`. Loaded portraits are cached (read-only arrays shared by a
worker's sessions).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from .landmarks import find_layout
from .layout import Box, FaceLayout, Point
from .matting import estimate_foreground

MIN_SIDE = 96
"""Smallest accepted portrait side in pixels."""

DEFAULT_NAME = "built-in portrait"

@dataclass(frozen=True)
class Portrait:
    """A portrait fitted to the output canvas (all arrays read-only, float32).

    ``rgb``: straight colour (H, W, 3) in 0-255; ``alpha``: foreground (H, W) in 0-1;
    ``opaque``: the source had no transparency, so ``rgb`` is also its own backdrop.
    """

    source: str
    rgb: np.ndarray
    alpha: np.ndarray
    opaque: bool
    layout: FaceLayout
    key: tuple[Any, ...]

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def default_portrait_path() -> Path:
    """The built-in portrait PNG inside the installed package."""
    return Path(str(resources.files("avatarkit") / "assets" / "default_portrait.png"))


# -- loading ---------------------------------------------------------------------------

def load_portrait(
    path: str | os.PathLike[str] | None,
    width: int = 512,
    height: int = 512,
    *,
    face_box: Box | None = None,
    eyes: tuple[Point, Point] | None = None,
    mouth: Point | None = None,
) -> Portrait:
    """Load ``path`` (None: the built-in portrait) fitted to ``width`` x ``height``.

    Raises :class:`UsageError` naming the file for a missing, unreadable, tiny or flat
    image, or one with no usable face area. Results are cached (a worker's sessions share
    the read-only arrays).
    """
    if path is None or str(path) == "":
        file = default_portrait_path()
        name = DEFAULT_NAME
    else:
        file = Path(os.path.expanduser(str(path)))
        name = str(path)
    try:
        st = file.stat()
    except OSError:
        raise UsageError(
            f"portrait file '{name}' does not exist",
            hint="give the path of a PNG or JPEG portrait, or leave `portrait` unset to use "
            "the built-in one",
        ) from None
    if not file.is_file():
        raise UsageError(f"portrait '{name}' is not a file",
                         hint="give the path of a PNG or JPEG image")
    # the file's identity and version are part of the key: an edited portrait loads afresh
    key = (str(file.resolve()), st.st_mtime_ns, st.st_size, width, height, face_box, eyes, mouth)
    return _fitted(key, name)


@lru_cache(maxsize=4)
def _fitted(key: tuple[Any, ...], name: str) -> Portrait:
    """The portrait of ``key`` (``load_portrait``'s cache; thread-safe, exceptions are not
    cached)."""
    resolved, _mtime, _size, width, height, face_box, eyes, mouth = key
    file = Path(resolved)
    builtin = (file == default_portrait_path().resolve() and face_box is None and eyes is None
               and mouth is None)
    return _load(file, name, width, height, face_box, eyes, mouth, key, builtin=builtin)


def _open_image(file: Path, name: str) -> Any:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(file)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise UsageError(
            f"cannot read portrait '{name}' as an image ({type(exc).__name__}: {exc})",
            hint="use a valid PNG or JPEG file (re-export it from an image editor if it is "
            "damaged)",
        ) from None
    except Image.DecompressionBombError:
        raise UsageError(f"portrait '{name}' is too large to load safely",
                         hint="scale it down below 8000 x 8000 pixels") from None
    return img


def _load(file: Path, name: str, width: int, height: int, face_box: Box | None,
          eyes: tuple[Point, Point] | None, mouth: Point | None, key: tuple[Any, ...],
          *, builtin: bool) -> Portrait:
    from PIL import Image

    img = _open_image(file, name)
    w, h = img.size
    if min(w, h) < MIN_SIDE:
        raise UsageError(
            f"portrait '{name}' is only {w}x{h} pixels: too small to animate a face",
            hint=f"use a portrait of at least {MIN_SIDE}x{MIN_SIDE} pixels (256 or more looks "
            "better)",
        )
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in
                                                    img.info)
    img = img.convert("RGBA" if has_alpha else "RGB")
    if has_alpha:
        a = np.asarray(img.getchannel("A"))
        has_alpha = bool((a < 250).mean() > 0.02)  # an alpha channel that is all opaque
        if not has_alpha:
            img = img.convert("RGB")

    # fit: transparent portraits are contained (bottom-centred), opaque ones cover the canvas
    if has_alpha:
        scale = min(width / w, height / h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        ox, oy = (width - nw) // 2, height - nh
        canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        canvas.paste(img.resize((nw, nh), Image.Resampling.LANCZOS), (ox, oy))
        arr = np.asarray(canvas, np.float32)
        rgb, alpha = arr[..., :3], arr[..., 3] / 255.0
        sx0, sy0 = 0.0, 0.0
        dx, dy = float(ox), float(oy)
    else:
        scale = max(width / w, height / h)
        sx0 = (w - width / scale) / 2
        sy0 = (h - height / scale) * 0.35  # keep more of the top (the head)
        box = (sx0, sy0, sx0 + width / scale, sy0 + height / scale)
        fitted = img.resize((width, height), Image.Resampling.LANCZOS, box=box)
        rgb = np.asarray(fitted, np.float32)
        alpha = None
        dx, dy = -sx0 * scale, -sy0 * scale

    def to_canvas(pt: Point) -> Point:
        return (pt[0] * scale + dx, pt[1] * scale + dy)

    if builtin:
        layout = _builtin_layout(file).mapped(scale, dx, dy)
    else:
        fb = None if face_box is None else (*to_canvas(face_box[:2]), *to_canvas(face_box[2:]))
        ey = None if eyes is None else (to_canvas(eyes[0]), to_canvas(eyes[1]))
        mo = None if mouth is None else to_canvas(mouth)
        _check_inside(name, (w, h), face_box, eyes, mouth)
        layout = find_layout(rgb, alpha, name, face_box=fb, eyes=ey, mouth=mo)

    if alpha is None:
        alpha = estimate_foreground(rgb, layout)
    rgb = np.ascontiguousarray(rgb, dtype=np.float32)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    rgb.setflags(write=False)
    alpha.setflags(write=False)
    return Portrait(source=name, rgb=rgb, alpha=alpha, opaque=not has_alpha, layout=layout,
                    key=key)


def _builtin_layout(file: Path) -> FaceLayout:
    meta = json.loads(file.with_suffix(".json").read_text())
    eyes = meta["eyes"]
    brows = meta["brows"]
    return FaceLayout(
        face_box=(meta["face_box"][0], meta["face_box"][1], meta["face_box"][2],
                  meta["face_box"][3]),
        eyes=((eyes[0][0], eyes[0][1]), (eyes[1][0], eyes[1][1])),
        eye_width=meta["eye_width"],
        eye_height=meta["eye_height"],
        brows=((brows[0][0], brows[0][1]), (brows[1][0], brows[1][1])),
        brow_width=meta["brow_width"],
        mouth=(meta["mouth"][0], meta["mouth"][1]),
        mouth_width=meta["mouth_width"],
        pivot=(meta["pivot"][0], meta["pivot"][1]),
        motion_top=meta["motion_top"],
        motion_bottom=meta["motion_bottom"],
    )


def _check_inside(name: str, size: tuple[int, int], face_box: Box | None,
                  eyes: tuple[Point, Point] | None, mouth: Point | None) -> None:
    w, h = size
    pts: list[tuple[str, Point]] = []
    if face_box is not None:
        if not (face_box[0] < face_box[2] and face_box[1] < face_box[3]):
            raise UsageError(f"face_box {face_box} for portrait '{name}' is empty",
                             hint="face_box is LEFT,TOP,RIGHT,BOTTOM with LEFT < RIGHT and "
                             "TOP < BOTTOM")
        pts += [("face_box", face_box[:2]), ("face_box", face_box[2:])]
    if eyes is not None:
        pts += [("eyes", eyes[0]), ("eyes", eyes[1])]
    if mouth is not None:
        pts.append(("mouth", mouth))
    for what, (x, y) in pts:
        if not (0 <= x <= w and 0 <= y <= h):
            raise UsageError(
                f"{what} point ({x:g}, {y:g}) is outside portrait '{name}' ({w}x{h} pixels)",
                hint="coordinates are pixels of the original image, (0, 0) = top left",
            )


def with_layout(portrait: Portrait, layout: FaceLayout) -> Portrait:
    """A copy of ``portrait`` with another layout (tests, tools)."""
    return replace(portrait, layout=layout)
