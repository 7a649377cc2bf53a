"""Finding the face in a fitted portrait: the face box from a skin-tone region (YCbCr),
the eyes as the darkest, most contrasty spots of its upper half, the mouth line as the
darkest row below them. Coordinates the user gives win over the heuristic.

Limits (documented for users): it expects one roughly front-facing face in a
head-and-shoulders picture, lit well enough for skin tones to read as skin; very dark or
very saturated lighting, strong make-up or a skin-coloured backdrop can defeat it. Give the
coordinates then.
"""

from __future__ import annotations

import numpy as np

from ..errors import UsageError
from .layout import Box, FaceLayout, Point
from .matting import border_background, downscale

COORD_HINT = (
    "give the face position yourself (face options, in pixels of the image): "
    "face_box=LEFT,TOP,RIGHT,BOTTOM and optionally eyes=X1,Y1,X2,Y2 and mouth=X,Y; "
    "or use another image: a front-facing, well-lit head-and-shoulders picture"
)


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
    small = downscale(rgb, f)
    sh, sw = small.shape[:2]
    skin = _skin_mask(small)
    if alpha is not None:
        skin &= downscale(alpha, f) > 0.5
    else:
        skin &= ~border_background(small)
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
