"""Portraits: load and fit the image, find its face area, estimate its foreground mask.

The built-in portrait ships with exact landmarks (``assets/default_portrait.json``). For a
user portrait the eyes and mouth are given (``face_box``/``eyes``/``mouth``, in pixels of the
original image) or found by a heuristic: a skin-tone region (YCbCr) gives the face box, the
darkest spots of its upper half give the eyes and the darkest row below them the mouth line.

Limits of the heuristic (documented for users): it expects one roughly front-facing face in
a head-and-shoulders picture, lit well enough for skin tones to read as skin; very dark or
very saturated lighting, strong make-up or a skin-coloured backdrop can defeat it. Give the
coordinates then. The foreground mask of an opaque picture is a flood fill from the top and
side borders over pixels close to the border colours: it works for plain or softly graded
backdrops, not for busy scenes (the backdrop then stays partly visible around the person).
A PNG with a transparent background needs no estimate: its alpha channel is used.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from .lru import LruCache

MIN_SIDE = 96
"""Smallest accepted portrait side in pixels."""

DEFAULT_NAME = "built-in portrait"
COORD_HINT = (
    "give the face position yourself (face options, in pixels of the image): "
    "face_box=LEFT,TOP,RIGHT,BOTTOM and optionally eyes=X1,Y1,X2,Y2 and mouth=X,Y; "
    "or use another image: a front-facing, well-lit head-and-shoulders picture"
)

Point = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceLayout:
    """Where the animated features are, in output-canvas pixels.

    ``eyes``/``brows`` are (image-left, image-right); widths are corner to corner.
    ``pivot`` is the neck point the head rotates about; head motion fades out between
    ``motion_top`` and ``motion_bottom`` (rows) so the shoulders stay still.
    """

    face_box: Box
    eyes: tuple[Point, Point]
    eye_width: float
    eye_height: float
    brows: tuple[Point, Point]
    brow_width: float
    mouth: Point
    mouth_width: float
    pivot: Point
    motion_top: float
    motion_bottom: float

    def mapped(self, scale: float, dx: float, dy: float) -> FaceLayout:
        """This layout after ``p -> p * scale + (dx, dy)``."""

        def p(pt: Point) -> Point:
            return (pt[0] * scale + dx, pt[1] * scale + dy)

        b = self.face_box
        return FaceLayout(
            face_box=(b[0] * scale + dx, b[1] * scale + dy, b[2] * scale + dx, b[3] * scale + dy),
            eyes=(p(self.eyes[0]), p(self.eyes[1])),
            eye_width=self.eye_width * scale,
            eye_height=self.eye_height * scale,
            brows=(p(self.brows[0]), p(self.brows[1])),
            brow_width=self.brow_width * scale,
            mouth=p(self.mouth),
            mouth_width=self.mouth_width * scale,
            pivot=p(self.pivot),
            motion_top=self.motion_top * scale + dy,
            motion_bottom=self.motion_bottom * scale + dy,
        )


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

_CACHE: LruCache[Portrait] = LruCache(4)


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
    key = (str(file.resolve()), st.st_mtime_ns, st.st_size, width, height, face_box, eyes, mouth)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    builtin = file.resolve() == default_portrait_path().resolve()
    portrait = _load(file, name, width, height, face_box, eyes, mouth, key,
                     builtin=builtin and face_box is None and eyes is None and mouth is None)
    return _CACHE.put(key, portrait)


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


# -- face layout -----------------------------------------------------------------------

def _luma(rgb: np.ndarray) -> np.ndarray:
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32)


def _box_filter(img: np.ndarray, kh: int, kw: int) -> np.ndarray:
    """Mean over a ``kh`` x ``kw`` window (same size, edge-clamped), via an integral image."""
    kh, kw = max(1, kh), max(1, kw)
    pad = np.pad(img, ((kh // 2, kh - kh // 2), (kw // 2, kw - kw // 2)), mode="edge")
    ii = np.zeros((pad.shape[0] + 1, pad.shape[1] + 1), np.float64)
    ii[1:, 1:] = pad.cumsum(0).cumsum(1)
    h, w = img.shape
    s = ii[kh:kh + h, kw:kw + w] - ii[:h, kw:kw + w] - ii[kh:kh + h, :w] + ii[:h, :w]
    return (s / (kh * kw)).astype(np.float32)


def _downscale(arr: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return arr
    h, w = arr.shape[0] // factor * factor, arr.shape[1] // factor * factor
    a = arr[:h, :w]
    shape = (h // factor, factor, w // factor, factor) + a.shape[2:]
    return a.reshape(shape).mean(axis=(1, 3))


def _skin_mask(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return ((cr >= 135) & (cr <= 180) & (cb >= 78) & (cb <= 132) & (y >= 60) & (r > b)
            & (r >= g))


def _majority(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.int8)
    p = np.pad(m, 1)
    s = sum(p[1 + dy:1 + dy + m.shape[0], 1 + dx:1 + dx + m.shape[1]]
            for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    return np.asarray(s >= 5)


def find_layout(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    name: str,
    *,
    face_box: Box | None = None,
    eyes: tuple[Point, Point] | None = None,
    mouth: Point | None = None,
) -> FaceLayout:
    """Face layout of a fitted portrait; given points win over the heuristic."""
    h, w = rgb.shape[:2]
    y_full = _luma(rgb)
    given = face_box is not None or eyes is not None
    if not given:
        inside = y_full if alpha is None else y_full[alpha > 0.5]
        if inside.size == 0 or float(inside.std()) < 3.0:
            raise UsageError(
                f"no usable face area in portrait '{name}': the image is a flat colour",
                hint=COORD_HINT,
            )
        face_box = _find_face_box(rgb, alpha, name)
    if face_box is None:  # eyes given: a box around them
        assert eyes is not None
        d = abs(eyes[1][0] - eyes[0][0]) or 1.0
        cx = (eyes[0][0] + eyes[1][0]) / 2
        ey = (eyes[0][1] + eyes[1][1]) / 2
        face_box = (cx - 1.0 * d, ey - 0.9 * d, cx + 1.0 * d, ey + 1.5 * d)
    x0, y0, x1, y1 = face_box
    fw, fh = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2

    found_eyes = eyes is not None
    if eyes is None:
        eyes, found_eyes = _find_eyes(y_full, face_box)
    (lx, ly), (rx, ry) = sorted(eyes)
    eyes = ((lx, ly), (rx, ry))
    d = max(rx - lx, 0.2 * fw, 4.0)
    ecx, ecy = (lx + rx) / 2, (ly + ry) / 2

    found_mouth = mouth is not None
    if mouth is None:
        mouth, found_mouth = _find_mouth(y_full, (ecx, ecy), d, (h, w))
    if not given and not (found_eyes or found_mouth):
        raise UsageError(
            f"no usable face area in portrait '{name}': a skin-coloured area was found at "
            f"({x0:.0f}, {y0:.0f})-({x1:.0f}, {y1:.0f}) of the fitted image but no eyes or "
            "mouth stand out in it",
            hint=COORD_HINT,
        )
    eye_w = 0.46 * d
    mouth_w = 0.78 * d
    chin = max(y1, mouth[1] + 0.55 * d)
    motion_top = mouth[1] + 0.9 * mouth_w + 2
    motion_bottom = motion_top + max(0.45 * fh, 8.0)
    return FaceLayout(
        face_box=(x0, y0, x1, y1),
        eyes=eyes,
        eye_width=eye_w,
        eye_height=0.42 * eye_w,
        brows=((lx, ly - 0.85 * eye_w), (rx, ry - 0.85 * eye_w)),
        brow_width=1.2 * eye_w,
        mouth=mouth,
        mouth_width=mouth_w,
        pivot=(cx, chin + 0.35 * fh),
        motion_top=motion_top,
        motion_bottom=motion_bottom,
    )


def _find_face_box(rgb: np.ndarray, alpha: np.ndarray | None, name: str) -> Box:
    h, w = rgb.shape[:2]
    f = max(1, round(min(h, w) / 128))
    small = _downscale(rgb, f)
    sh, sw = small.shape[:2]
    skin = _skin_mask(small)
    if alpha is not None:
        skin &= _downscale(alpha, f) > 0.5
    else:
        skin &= ~_border_background(small)
    skin = _majority(skin)
    frac = float(skin.mean())
    if frac < 0.01:
        raise UsageError(
            f"no usable face area in portrait '{name}': no skin-coloured region was found",
            hint=COORD_HINT,
        )
    if frac > 0.9:
        raise UsageError(
            f"no usable face area in portrait '{name}': the whole image is skin-coloured",
            hint=COORD_HINT,
        )
    top_rows = skin[: int(sh * 0.8)]
    xs = np.nonzero(top_rows)[1]
    if xs.size < 4:
        raise UsageError(
            f"no usable face area in portrait '{name}': the skin-coloured region is not in the "
            "upper part of the image",
            hint=COORD_HINT,
        )
    cx = float(np.median(xs))
    half = int(0.35 * sw)
    lo, hi = max(0, int(cx) - half), min(sw, int(cx) + half + 1)
    counts = skin[:, lo:hi].sum(axis=1).astype(np.float32)
    thr = max(2.0, 0.35 * float(counts.max()))
    rows = counts >= thr
    top = -1
    for i in range(sh - 2):
        if rows[i] and rows[i + 1] and rows[i + 2]:
            top = i
            break
    if top < 0:
        raise UsageError(f"no usable face area in portrait '{name}': no compact skin region",
                         hint=COORD_HINT)
    run = top
    while run < sh and rows[run]:
        run += 1
    fw = float(np.percentile(counts[top:run], 60))
    fh = min(1.3 * fw, float(sh - top))
    if fw < 0.08 * sw or fh < 0.08 * sh:
        raise UsageError(
            f"no usable face area in portrait '{name}': the face-like region is too small "
            f"({fw * f:.0f} px wide in the fitted image)",
            hint=COORD_HINT,
        )
    x0, x1 = cx - fw / 2, cx + fw / 2
    box_skin = skin[top:int(top + fh), max(0, int(x0)):int(x1) + 1]
    if box_skin.size == 0 or float(box_skin.mean()) < 0.35:
        raise UsageError(
            f"no usable face area in portrait '{name}': the skin region is too scattered",
            hint=COORD_HINT,
        )
    return ((x0 + 0.5) * f, top * f, (x1 + 0.5) * f, (top + fh) * f)


def _find_eyes(y_full: np.ndarray, box: Box) -> tuple[tuple[Point, Point], bool]:
    """Two eye-sized spots, dark and contrasty (iris vs sclera), at the same height."""
    h, w = y_full.shape
    x0, y0, x1, y1 = box
    fw, fh = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    fallback = ((cx - 0.21 * fw, y0 + 0.38 * fh), (cx + 0.21 * fw, y0 + 0.38 * fh))
    r0, r1 = int(max(0, y0 + 0.1 * fh)), int(min(h, y0 + 0.6 * fh))
    c0, c1 = int(max(0, x0 + 0.1 * fw)), int(min(w, x1 - 0.1 * fw))
    if r1 - r0 < 4 or c1 - c0 < 8:
        return fallback, False
    region = y_full[r0:r1, c0:c1]
    kh, kw = max(2, int(0.06 * fh)), max(2, int(0.14 * fw))
    mean = _box_filter(region, kh, kw)
    std = np.sqrt(np.maximum(_box_filter(region * region, kh, kw) - mean * mean, 0.0))
    score = (float(np.median(region)) - mean) + 1.5 * std
    mid = int(cx) - c0
    gap = max(1, int(0.08 * fw))
    left, right = score[:, : max(1, mid - gap)], score[:, mid + gap:]
    if right.shape[1] < 2 or left.shape[1] < 2:
        return fallback, False
    lmax, rmax = left.max(axis=1), right.max(axis=1)
    tol = max(1, int(0.03 * fh))  # eyes may differ this much in height
    rpad = np.pad(rmax, tol, mode="edge")
    rnear = np.max([rpad[k:k + rmax.size] for k in range(2 * tol + 1)], axis=0)
    row = int(np.argmax(lmax + rnear))
    ly = row
    lx = int(np.argmax(left[ly]))
    lo, hi = max(0, row - tol), min(right.shape[0], row + tol + 1)
    ry = lo + int(np.argmax(rmax[lo:hi]))
    rx = mid + gap + int(np.argmax(right[ry]))
    if min(float(left[ly, lx]), float(right[ry, rx - mid - gap])) < 15:
        return fallback, False
    (lx_, ly_), (rx_, ry_) = (c0 + lx, r0 + ly), (c0 + rx, r0 + ry)
    d = rx_ - lx_
    if not (0.25 * fw <= d <= 0.8 * fw):
        return fallback, False
    return ((float(lx_), float(ly_)), (float(rx_), float(ry_))), True


def _find_mouth(y_full: np.ndarray, eye_c: Point, d: float,
                size: tuple[int, int]) -> tuple[Point, bool]:
    h, w = size
    ecx, ecy = eye_c
    fallback = (ecx, min(h - 2.0, ecy + 1.05 * d))
    r0, r1 = int(max(0, ecy + 0.7 * d)), int(min(h, ecy + 1.4 * d))
    c0, c1 = int(max(0, ecx - 0.3 * d)), int(min(w, ecx + 0.3 * d))
    if r1 - r0 < 3 or c1 - c0 < 3:
        return fallback, False
    region = y_full[r0:r1, c0:c1]
    profile = _box_filter(region, 3, region.shape[1]).mean(axis=1)
    iy = int(np.argmin(profile))
    if float(np.median(profile)) - float(profile[iy]) < 8:
        return fallback, False
    return (ecx, float(r0 + iy)), True


# -- foreground mask -------------------------------------------------------------------

def _border_background(small: np.ndarray) -> np.ndarray:
    """Pixels connected to the top/side borders through colours close to the border's."""
    return _border_model(small)[0]


def _border_model(small: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(backdrop mask, backdrop reference colours, colour tolerance) of a small image."""
    sh, sw = small.shape[:2]
    seeds = np.zeros((sh, sw), bool)
    seeds[0, :] = True
    side = max(1, int(sh * 0.6))
    seeds[:side, 0] = True
    seeds[:side, -1] = True
    samples = [small[0, : sw // 3], small[0, sw // 3: 2 * sw // 3], small[0, 2 * sw // 3:],
               small[: side // 2, 0], small[side // 2: side, 0],
               small[: side // 2, -1], small[side // 2: side, -1]]
    refs = np.array([np.median(s.reshape(-1, 3), axis=0) for s in samples if s.size],
                    np.float32)
    spread = np.median([np.abs(s.reshape(-1, 3) - r).sum(axis=1).mean()
                        for s, r in zip([s for s in samples if s.size], refs)])
    tol = float(np.clip(2.5 * spread + 18, 24, 60))
    dist = np.min(np.abs(small[None, :, :, :] - refs[:, None, None, :]).sum(axis=3), axis=0)
    similar = dist < tol
    m = seeds & similar
    for _ in range(sh + sw):
        g = m.copy()
        g[1:] |= m[:-1]
        g[:-1] |= m[1:]
        g[:, 1:] |= m[:, :-1]
        g[:, :-1] |= m[:, 1:]
        g &= similar
        if np.array_equal(g, m):
            break
        m = g
    return m, refs, tol


def estimate_foreground(rgb: np.ndarray, layout: FaceLayout) -> np.ndarray:
    """Soft foreground mask (H, W) of an opaque portrait (see the module notes)."""
    from PIL import Image, ImageFilter

    h, w = rgb.shape[:2]
    f = max(1, round(min(h, w) / 128))
    small = _downscale(rgb, f)
    bg, refs, tol = _border_model(small)
    fg = (~bg).astype(np.float32)
    sh, sw = fg.shape
    # the face is always foreground
    x0, y0, x1, y1 = (v / f for v in layout.face_box)
    yy, xx = np.mgrid[0:sh, 0:sw]
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 * 0.85, (y1 - y0) / 2 * 0.9
    inside = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1
    fg[inside] = 1.0
    coarse = Image.fromarray((fg * 255).astype(np.uint8))
    m = np.asarray(coarse.resize((w, h), Image.Resampling.BILINEAR)
                   .filter(ImageFilter.GaussianBlur(f)), np.float32) / 255.0
    # near the coarse edge, decide per pixel by the distance to the backdrop colours
    band = (m > 0.01) & (m < 0.99)
    alpha = (m >= 0.99).astype(np.float32)
    if band.any():
        px = rgb[band]
        dist = np.min(np.abs(px[None, :, :] - refs[:, None, :]).sum(axis=2), axis=0)
        alpha[band] = np.clip((dist - 0.6 * tol) / (0.8 * tol), 0.0, 1.0)
    protect = np.asarray(Image.fromarray((inside * 255).astype(np.uint8))
                         .resize((w, h), Image.Resampling.BILINEAR), np.float32) / 255.0
    alpha = np.maximum(alpha, protect)
    soft = Image.fromarray((alpha * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.7))
    return np.asarray(soft, np.float32) / 255.0


def with_layout(portrait: Portrait, layout: FaceLayout) -> Portrait:
    """A copy of ``portrait`` with another layout (tests, tools)."""
    return replace(portrait, layout=layout)
