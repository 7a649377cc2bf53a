"""The foreground mask of an opaque portrait: which pixels are the person.

A flood fill from the top and side borders over pixels close to the border colours finds
the backdrop: it works for plain or softly graded backdrops, not for busy scenes (the
backdrop then stays partly visible around the person). The face area is always kept. A
PNG with a transparent background needs none of this: its alpha channel is used.
"""

from __future__ import annotations

import numpy as np

from .layout import FaceLayout


def downscale(arr: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return arr
    h, w = arr.shape[0] // factor * factor, arr.shape[1] // factor * factor
    a = arr[:h, :w]
    shape = (h // factor, factor, w // factor, factor) + a.shape[2:]
    return a.reshape(shape).mean(axis=(1, 3))


def border_background(small: np.ndarray) -> np.ndarray:
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
    small = downscale(rgb, f)
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
