"""Drawing a frame: precomputed layers plus small warped feature regions.

Per background, :class:`Layers` holds the portrait composited over the backdrop (the frame
at rest) and, per quantised head pose, a pre-warped crop of the head area. A frame is then:

1. copy the frame at rest, paste the crop of the current pose (plain memory copies);
2. for the mouth and each eye (small boxes, only when they are not at rest): map every output
   pixel back through the head pose and the feature warps (mouth opening, width, smile;
   brow raise/tilt, eye widening), sample the at-rest composite bilinearly, and overlay the
   mouth cavity (dark, teeth, tongue) and eyelids (blinks, emotions).

The feature warps are the identity at each box's border, so boxes blend seamlessly into
the posed crop. Everything is numpy on small arrays: no per-pixel Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .animator import Expression, Pose, pose_table
from .audio_features import MouthShape
from .backgrounds import Background, background_pixels
from .features import EyeWindows, MouthWindows, paint_cavity, paint_lids
from .lru import LruCache
from .portrait import Portrait
from .warp import MotionWeight, Region, bell, bilinear, clip, plateau, sample_rgb, to_u8


@dataclass(frozen=True)
class FaceState:
    """Everything that changes between frames."""

    pose_index: int
    mouth: MouthShape
    expression: Expression
    blink: float


@dataclass
class Layers:
    """Background-dependent pixels; pose crops are filled lazily (see ``Compositor.crop``)."""

    background: Background
    base: np.ndarray  # (H, W, 4) uint8, the frame at rest
    packed: np.ndarray  # (H*W,) uint32 view of ``base`` for feature sampling
    bg_crop: np.ndarray  # (h, w, 3) float32 backdrop under the head crop
    crops: dict[int, np.ndarray] = field(default_factory=dict)


class Compositor:
    """Draws :class:`FaceState` s of one portrait (any number of backgrounds)."""

    def __init__(self, portrait: Portrait, *, motion_scale: float | None = None,
                 n_sway: int = 7, n_nod: int = 3) -> None:
        self.portrait = portrait
        self.width, self.height = w, h = portrait.width, portrait.height
        lay = portrait.layout
        scale = motion_scale if motion_scale is not None else min(w, h) / 512
        self.poses = pose_table(scale, n_sway, n_nod)
        self.identity = (n_sway // 2) * n_nod + n_nod // 2
        self.pivot = lay.pivot
        weight = MotionWeight(lay.motion_top, lay.motion_bottom)
        a = portrait.alpha
        self._fg_flat = np.ascontiguousarray(
            np.dstack([portrait.rgb * a[..., None], a]).reshape(-1, 4), dtype=np.float32)

        # head crop: rows above motion_bottom that hold any foreground (+ motion margin)
        rows = np.nonzero((a > 0.02).any(axis=1))[0]
        top = int(rows[0]) if rows.size else 0
        bottom = int(min(h, math.ceil(lay.motion_bottom) + 2))
        band = a[top:bottom] > 0.02
        cols = np.nonzero(band.any(axis=0))[0] if band.size else np.array([], int)
        left = int(cols[0]) if cols.size else 0
        right = int(cols[-1]) + 1 if cols.size else w
        m = 3 + int(math.ceil(2.0 * scale))
        self._crop = Region(left - m, top - m, right + m, bottom, w, h, weight)

        # mouth: the full box (smile reaches the cheeks) and the core (opening, width)
        mx, my = lay.mouth
        mw = lay.mouth_width
        self._m_const = (mx, my, mw)
        self._m_full = MouthWindows(Region(mx - 1.3 * mw - 3, my - 0.6 * mw - 3, mx + 1.3 * mw + 3,
                                      my + 1.0 * mw + 3, w, h, weight), mx, my, mw)
        self._m_core = MouthWindows(Region(mx - 1.0 * mw - 3, my - 0.47 * mw - 3, mx + 1.0 * mw + 3,
                                      my + 0.64 * mw + 3, w, h, weight), mx, my, mw)

        # eyes with brows (full box) and eyes alone (lids only: blinks)
        # last drawn pixels per feature region: (layers, state key, box, pixels)
        self._memo: dict[str, tuple[Layers, tuple[object, ...], tuple[int, int, int, int],
                                    np.ndarray]] = {}
        self._eyes: list[tuple[EyeWindows, EyeWindows]] = []
        (lx, _), (rx, _) = lay.eyes
        dist = max(4.0, rx - lx)
        for (ex, ey), (bx, by) in zip(lay.eyes, lay.brows):
            ew, eh, bw = lay.eye_width, lay.eye_height, lay.brow_width
            hx = min(max(0.85 * ew, 0.5 * bw + 0.2 * ew), 0.48 * dist)
            ytop = by - 0.65 * ew
            full = Region(ex - hx, ytop, ex + hx, ey + 0.75 * ew, w, h, weight)
            lids = Region(max(ex - 0.5 * ew - 4, full.x0), max(ey - 0.78 * eh - 4, full.y0),
                           min(ex + 0.5 * ew + 4, full.x1), min(ey + 0.66 * eh + 4, full.y1),
                           w, h, weight)
            sgn = 1.0 if ex < (lx + rx) / 2 else -1.0
            eup = 0.56 * eh
            pair = []
            for reg in (full, lids):
                inner_t = clip((reg.u0 - bx) / (0.5 * bw) * sgn, -1.0, 1.0)
                below = max(2.0, (ey - eup - 1.5) - by)
                vert = np.where(reg.v0 < by, bell((by - reg.v0) / max(2.0, by - ytop)),
                                bell((reg.v0 - by) / below))
                pair.append(EyeWindows(
                    region=reg, ex=ex, ey=ey, ew=ew, eh=eh,
                    inner=clip(0.5 + 0.6 * inner_t, 0.0, 1.1).astype(np.float32),
                    bwin=(plateau((reg.u0 - bx) / hx, 0.6) * vert).astype(np.float32),
                    ewin=plateau(np.sqrt(((reg.u0 - ex) / (0.72 * ew)) ** 2
                                          + ((reg.v0 - ey) / (1.5 * eh)) ** 2), 0.5),
                    lid=self._skin_near(ex, ey - 1.05 * eh, 0.25 * ew, 0.2 * eh),
                    low=self._skin_near(ex, ey + 0.95 * eh, 0.25 * ew, 0.2 * eh),
                ))
            self._eyes.append((pair[0], pair[1]))

    def _skin_near(self, x: float, y: float, rx: float, ry: float) -> np.ndarray:
        rgb = self.portrait.rgb
        y0, y1 = int(max(0, y - ry)), int(min(self.height, y + ry + 1))
        x0, x1 = int(max(0, x - rx)), int(min(self.width, x + rx + 1))
        patch = rgb[y0:y1, x0:x1].reshape(-1, 3)
        color = (np.median(patch, axis=0) if patch.size else np.array([200.0, 160.0, 140.0]))
        return np.array([*color, 255.0], np.float32)

    # -- layers ------------------------------------------------------------------------

    def build_layers(self, background: Background) -> Layers:
        """Precompute the at-rest frame for ``background`` (tens of ms; thread-safe)."""
        key = (self.portrait.key, background.key, len(self.poses), self.poses[0])
        hit = _LAYER_CACHE.get(key)
        if hit is not None:
            return hit
        if background.kind == "original":
            if self.portrait.opaque:
                bg = self.portrait.rgb
            else:
                bg = background_pixels(Background("preset", "studio"), self.width, self.height)
        else:
            bg = background_pixels(background, self.width, self.height)
        a = self.portrait.alpha[..., None]
        comp = self.portrait.rgb * a + bg * (1.0 - a)
        base = np.empty((self.height, self.width, 4), np.uint8)
        base[..., :3] = to_u8(comp)
        base[..., 3] = 255
        base.setflags(write=False)
        c = self._crop
        layers = Layers(
            background=background,
            base=base,
            packed=base.view(np.uint32).reshape(-1),
            bg_crop=np.ascontiguousarray(bg[c.y0:c.y1, c.x0:c.x1], dtype=np.float32),
        )
        return _LAYER_CACHE.put(key, layers)

    def crop(self, layers: Layers, index: int) -> np.ndarray:
        """The head crop (h, w, 4) uint8 for pose ``index`` over ``layers`` (cached)."""
        hit = layers.crops.get(index)
        if hit is not None:
            return hit
        c = self._crop
        u, v = c.posed(self.poses[index], self.pivot)
        s = bilinear(self._fg_flat, self.width, self.height, u, v)
        rgb = s[..., :3] + layers.bg_crop * (1.0 - s[..., 3:4])
        out = np.empty(rgb.shape[:2] + (4,), np.uint8)
        out[..., :3] = to_u8(rgb)
        out[..., 3] = 255
        out.setflags(write=False)
        layers.crops[index] = out
        return out

    def warm(self, layers: Layers) -> None:
        """Compute every pose crop now (call off the event loop)."""
        for i in range(len(self.poses)):
            if i != self.identity:
                self.crop(layers, i)

    # -- frames ------------------------------------------------------------------------

    def render(self, layers: Layers, state: FaceState, out: np.ndarray) -> None:
        """Draw ``state`` into ``out`` ((H, W, 4) uint8)."""
        np.copyto(out, layers.base)
        pose: Pose | None = None
        if state.pose_index != self.identity:
            pose = self.poses[state.pose_index]
            c = self._crop
            out[c.y0:c.y1, c.x0:c.x1] = self.crop(layers, state.pose_index)
        m, e = state.mouth, state.expression
        key: tuple[object, ...] = (state.pose_index, m.open, m.width, m.round, m.teeth,
                                   e.mouth_open, e.mouth_width, e.mouth_curve)
        if not self._recall("mouth", layers, key, out):
            self._remember("mouth", layers, key, self._mouth(layers, state, pose, out), out)
        key = (state.pose_index, state.blink, e.upper_lid, e.lower_lid, e.eye_widen,
               e.brow_raise, e.brow_inner)
        for n, (full, lids) in enumerate(self._eyes):
            name = f"eye{n}"
            if not self._recall(name, layers, key, out):
                self._remember(name, layers, key,
                               self._eye(layers, state, pose, full, lids, out), out)

    def _recall(self, name: str, layers: Layers, key: tuple[object, ...],
                out: np.ndarray) -> bool:
        """Paste the region drawn for the same state last time (steady emotions cost ~0)."""
        hit = self._memo.get(name)
        if hit is None or hit[0] is not layers or hit[1] != key:
            return False
        y0, y1, x0, x1 = hit[2]
        out[y0:y1, x0:x1] = hit[3]
        return True

    def _remember(self, name: str, layers: Layers, key: tuple[object, ...],
                  region: Region | None, out: np.ndarray) -> None:
        if region is None:
            self._memo.pop(name, None)
            return
        box = (region.y0, region.y1, region.x0, region.x1)
        self._memo[name] = (layers, key, box,
                            out[region.y0:region.y1, region.x0:region.x1].copy())

    def _mouth(self, layers: Layers, st: FaceState, pose: Pose | None,
               out: np.ndarray) -> Region | None:
        m, e = st.mouth, st.expression
        opening = min(1.0, max(0.0, m.open + e.mouth_open * (1.0 - m.open)))
        width = m.width + e.mouth_width
        curve = e.mouth_curve
        smile = abs(curve) >= 0.01
        if opening < 0.01 and not smile and abs(width - 1.0) < 0.005:
            return None
        g = self._m_full if smile else self._m_core
        r = g.region
        if r.empty:
            return None
        mx, my, mw = self._m_const
        u, v = r.posed(pose, self.pivot)
        if smile:
            v = v + (curve * 0.14 * mw) * g.r2c * g.cwin
        if abs(width - 1.0) >= 0.005:
            u = mx + (u - mx) / (1.0 + (width - 1.0) * g.swin)
        if opening < 0.01:
            res = sample_rgb(layers.packed, self.width, self.height, u, v)
            out[r.y0:r.y1, r.x0:r.x1, :3] = to_u8(res[..., :3])
            return r
        d = opening * 0.34 * mw
        lu, ll = 0.45 * mw, 0.62 * mw
        rr = (u - mx) * (1.0 / (0.44 * mw * max(0.5, width)))
        j = clip(1.0 - rr * rr, 0.0, 1.0) ** (0.7 - 0.3 * m.round)
        du = (0.28 * d) * j
        dl = (0.72 * d) * j
        dv = v - my
        up = dv < -du
        lo = dv > dl
        src = np.where(up & (dv > -lu), my + (dv + du) * lu / (lu - du), v)
        src = np.where(lo & (dv < ll), my + (dv - dl) * ll / (ll - dl), src)
        src = np.where(up | lo, src, my)
        res = sample_rgb(layers.packed, self.width, self.height, u, src)
        gap = du + dl
        cov = clip(np.minimum(dv + du, dl - dv) + 0.5, 0.0, 1.0) * clip(gap, 0.0, 1.0)
        rows = np.nonzero(cov.any(axis=1))[0]
        if rows.size:
            cols = np.nonzero(cov.any(axis=0))[0]
            win = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
            paint_cavity(res[win], cov[win], dv[win], du[win], dl[win], gap[win], rr[win],
                         opening, m.teeth, mw)
        out[r.y0:r.y1, r.x0:r.x1, :3] = to_u8(res[..., :3])
        return r

    def _eye(self, layers: Layers, st: FaceState, pose: Pose | None, full: EyeWindows,
             lids: EyeWindows, out: np.ndarray) -> Region | None:
        e = st.expression
        closure = 1.0 - (1.0 - st.blink) * (1.0 - min(1.0, max(0.0, e.upper_lid)))
        lower = min(1.0, max(0.0, e.lower_lid))
        widen = min(1.0, max(0.0, e.eye_widen))
        brow = abs(e.brow_raise) >= 0.01 or abs(e.brow_inner) >= 0.01
        if closure < 0.01 and lower < 0.01 and widen < 0.01 and not brow:
            return None
        eye = full if (brow or widen >= 0.01) else lids
        r = eye.region
        if r.empty:
            return None
        ey, ew = eye.ey, eye.ew
        u, v = r.posed(pose, self.pivot)
        if brow:
            disp = (0.22 * ew * e.brow_raise) + (0.22 * ew * e.brow_inner) * eye.inner
            v = v + disp * eye.bwin
        if widen >= 0.01:
            v = ey + (v - ey) / (1.0 + (0.22 * widen) * eye.ewin)
        res = sample_rgb(layers.packed, self.width, self.height, u, v)
        if closure >= 0.01 or lower >= 0.01:
            lr = lids.region
            win = (slice(lr.y0 - r.y0, lr.y1 - r.y0), slice(lr.x0 - r.x0, lr.x1 - r.x0))
            paint_lids(res[win], u[win], v[win], eye, closure, lower)
        out[r.y0:r.y1, r.x0:r.x1, :3] = to_u8(res[..., :3])
        return r


# Layers per (portrait, background, pose table): a bounded, thread-safe cache of values
# whose key is derived (a portrait's arrays are not hashable), so not functools'.
_LAYER_CACHE: LruCache[Layers] = LruCache(6)
