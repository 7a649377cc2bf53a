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
from .lru import LruCache
from .portrait import Portrait

_CAVITY4 = np.array([62, 24, 30, 255], np.float32)
_TEETH4 = np.array([240, 236, 228, 255], np.float32)
_TONGUE4 = np.array([168, 74, 84, 255], np.float32)
_LASH4 = np.array([44, 30, 28, 255], np.float32)


@dataclass(frozen=True)
class FaceState:
    """Everything that changes between frames."""

    pose_index: int
    mouth: MouthShape
    expression: Expression
    blink: float


def _clip(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``np.clip`` without its Python-level dispatch overhead (hot path)."""
    return np.minimum(np.maximum(a, lo), hi)


def _bell(t: np.ndarray) -> np.ndarray:
    """1 at 0, smoothly 0 at |t| >= 1."""
    u = _clip(1.0 - t * t, 0.0, 1.0)
    return (u * u).astype(np.float32)


def _plateau(t: np.ndarray, flat: float) -> np.ndarray:
    """1 for |t| <= flat, smooth fall to 0 at |t| = 1."""
    a = _clip((np.abs(t) - flat) / (1.0 - flat), 0.0, 1.0)
    return (1.0 - a * a * (3.0 - 2.0 * a)).astype(np.float32)


def _bilinear(flat: np.ndarray, width: int, height: int, x: np.ndarray,
              y: np.ndarray) -> np.ndarray:
    """Sample ``flat`` (H*W, C) float32 at float coordinates (edge-clamped)."""
    x = _clip(x, 0.0, width - 1.001)
    y = _clip(y, 0.0, height - 1.001)
    xi = x.astype(np.int32)
    yi = y.astype(np.int32)
    fx = (x - xi)[..., None]
    fy = (y - yi)[..., None]
    i = (yi * width + xi).ravel()
    shape = x.shape + (flat.shape[1],)
    a = np.take(flat, i, axis=0).reshape(shape)
    b = np.take(flat, i + 1, axis=0).reshape(shape)
    c = np.take(flat, i + width, axis=0).reshape(shape)
    d = np.take(flat, i + width + 1, axis=0).reshape(shape)
    top = a + (b - a) * fx
    return top + (c + (d - c) * fx - top) * fy


def _sample_rgb(packed: np.ndarray, width: int, height: int, x: np.ndarray,
                y: np.ndarray) -> np.ndarray:
    """Bilinear RGB (float32, shape + (4,), last channel unused) from packed RGBA uint32."""
    x = _clip(x, 0.0, width - 1.001)
    y = _clip(y, 0.0, height - 1.001)
    xi = x.astype(np.int32)
    yi = y.astype(np.int32)
    fx = (x - xi).reshape(-1, 1)
    fy = (y - yi).reshape(-1, 1)
    i = (yi * width + xi).ravel()

    def tap(k: np.ndarray) -> np.ndarray:
        return np.take(packed, k).view(np.uint8).reshape(-1, 4).astype(np.float32)

    a, b, c, d = tap(i), tap(i + 1), tap(i + width), tap(i + width + 1)
    top = a + (b - a) * fx
    return (top + (c + (d - c) * fx - top) * fy).reshape(x.shape + (4,))


def _to_u8(arr: np.ndarray) -> np.ndarray:
    return _clip(arr + 0.5, 0.0, 255.0).astype(np.uint8)


class _Region:
    """A box of the canvas with its pixel grid and head-motion weights."""

    def __init__(self, x0: float, y0: float, x1: float, y1: float, width: int, height: int,
                 weight_fn: _MotionWeight) -> None:
        self.x0 = int(max(0, math.floor(x0)))
        self.y0 = int(max(0, math.floor(y0)))
        self.x1 = int(min(width, math.ceil(x1)))
        self.y1 = int(min(height, math.ceil(y1)))
        yy, xx = np.mgrid[self.y0:self.y1, self.x0:self.x1]
        self.u0 = xx.astype(np.float32)
        self.v0 = yy.astype(np.float32)
        self.w0 = weight_fn(self.v0)

    @property
    def empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    def posed(self, pose: Pose | None, pivot: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Where each output pixel of the box comes from in the head's rest frame."""
        if pose is None:
            return self.u0, self.v0
        px, py = pivot
        dx = self.w0 * (pose.tx - pose.theta * (self.v0 - py))
        dy = self.w0 * (pose.ty + pose.theta * (self.u0 - px))
        return self.u0 - dx, self.v0 - dy


class _MotionWeight:
    def __init__(self, top: float, bottom: float) -> None:
        self.top, self.bottom = top, max(bottom, top + 1.0)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        a = _clip((v - self.top) / (self.bottom - self.top), 0.0, 1.0)
        return (1.0 - a * a * (3.0 - 2.0 * a)).astype(np.float32)


class _Mouth:
    """Static warp windows of a mouth box (the full box, or the core without the smile)."""

    def __init__(self, region: _Region, mx: float, my: float, mw: float) -> None:
        self.region = region
        r = region
        self.r2c = _clip(((r.u0 - mx) / (0.5 * mw)) ** 2, 0.0, 1.8).astype(np.float32)
        self.cwin = _bell((r.u0 - mx) / (1.2 * mw)) * _bell((r.v0 - my) / (0.55 * mw))
        self.swin = (_plateau((r.u0 - mx) / (1.0 * mw), 0.5)
                     * _plateau((r.v0 - my) / (0.42 * mw), 0.35))


@dataclass
class _Eye:
    """One eye (with its brow): box, centre, size and static warp windows."""

    region: _Region
    ex: float
    ey: float
    ew: float
    eh: float
    inner: np.ndarray  # brow tilt weight, 1 at the inner end
    bwin: np.ndarray  # where brow motion applies
    ewin: np.ndarray  # where eye widening applies
    lid: np.ndarray  # upper-lid skin colour (RGB + unused 4th channel)
    low: np.ndarray  # lower-lid skin colour


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
        weight = _MotionWeight(lay.motion_top, lay.motion_bottom)
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
        self._crop = _Region(left - m, top - m, right + m, bottom, w, h, weight)

        # mouth: the full box (smile reaches the cheeks) and the core (opening, width)
        mx, my = lay.mouth
        mw = lay.mouth_width
        self._m_const = (mx, my, mw)
        self._m_full = _Mouth(_Region(mx - 1.3 * mw - 3, my - 0.6 * mw - 3, mx + 1.3 * mw + 3,
                                      my + 1.0 * mw + 3, w, h, weight), mx, my, mw)
        self._m_core = _Mouth(_Region(mx - 1.0 * mw - 3, my - 0.47 * mw - 3, mx + 1.0 * mw + 3,
                                      my + 0.64 * mw + 3, w, h, weight), mx, my, mw)

        # eyes with brows (full box) and eyes alone (lids only: blinks)
        # last drawn pixels per feature region: (layers, state key, box, pixels)
        self._memo: dict[str, tuple[Layers, tuple[object, ...], tuple[int, int, int, int],
                                    np.ndarray]] = {}
        self._eyes: list[tuple[_Eye, _Eye]] = []
        (lx, _), (rx, _) = lay.eyes
        dist = max(4.0, rx - lx)
        for (ex, ey), (bx, by) in zip(lay.eyes, lay.brows):
            ew, eh, bw = lay.eye_width, lay.eye_height, lay.brow_width
            hx = min(max(0.85 * ew, 0.5 * bw + 0.2 * ew), 0.48 * dist)
            ytop = by - 0.65 * ew
            full = _Region(ex - hx, ytop, ex + hx, ey + 0.75 * ew, w, h, weight)
            lids = _Region(max(ex - 0.5 * ew - 4, full.x0), max(ey - 0.78 * eh - 4, full.y0),
                           min(ex + 0.5 * ew + 4, full.x1), min(ey + 0.66 * eh + 4, full.y1),
                           w, h, weight)
            sgn = 1.0 if ex < (lx + rx) / 2 else -1.0
            eup = 0.56 * eh
            pair = []
            for reg in (full, lids):
                inner_t = _clip((reg.u0 - bx) / (0.5 * bw) * sgn, -1.0, 1.0)
                below = max(2.0, (ey - eup - 1.5) - by)
                vert = np.where(reg.v0 < by, _bell((by - reg.v0) / max(2.0, by - ytop)),
                                _bell((reg.v0 - by) / below))
                pair.append(_Eye(
                    region=reg, ex=ex, ey=ey, ew=ew, eh=eh,
                    inner=_clip(0.5 + 0.6 * inner_t, 0.0, 1.1).astype(np.float32),
                    bwin=(_plateau((reg.u0 - bx) / hx, 0.6) * vert).astype(np.float32),
                    ewin=_plateau(np.sqrt(((reg.u0 - ex) / (0.72 * ew)) ** 2
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
        base[..., :3] = _to_u8(comp)
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
        s = _bilinear(self._fg_flat, self.width, self.height, u, v)
        rgb = s[..., :3] + layers.bg_crop * (1.0 - s[..., 3:4])
        out = np.empty(rgb.shape[:2] + (4,), np.uint8)
        out[..., :3] = _to_u8(rgb)
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
                  region: _Region | None, out: np.ndarray) -> None:
        if region is None:
            self._memo.pop(name, None)
            return
        box = (region.y0, region.y1, region.x0, region.x1)
        self._memo[name] = (layers, key, box,
                            out[region.y0:region.y1, region.x0:region.x1].copy())

    def _mouth(self, layers: Layers, st: FaceState, pose: Pose | None,
               out: np.ndarray) -> _Region | None:
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
            res = _sample_rgb(layers.packed, self.width, self.height, u, v)
            out[r.y0:r.y1, r.x0:r.x1, :3] = _to_u8(res[..., :3])
            return r
        d = opening * 0.34 * mw
        lu, ll = 0.45 * mw, 0.62 * mw
        rr = (u - mx) * (1.0 / (0.44 * mw * max(0.5, width)))
        j = _clip(1.0 - rr * rr, 0.0, 1.0) ** (0.7 - 0.3 * m.round)
        du = (0.28 * d) * j
        dl = (0.72 * d) * j
        dv = v - my
        up = dv < -du
        lo = dv > dl
        src = np.where(up & (dv > -lu), my + (dv + du) * lu / (lu - du), v)
        src = np.where(lo & (dv < ll), my + (dv - dl) * ll / (ll - dl), src)
        src = np.where(up | lo, src, my)
        res = _sample_rgb(layers.packed, self.width, self.height, u, src)
        gap = du + dl
        cov = _clip(np.minimum(dv + du, dl - dv) + 0.5, 0.0, 1.0) * _clip(gap, 0.0, 1.0)
        rows = np.nonzero(cov.any(axis=1))[0]
        if rows.size:
            cols = np.nonzero(cov.any(axis=0))[0]
            win = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
            self._cavity(res[win], cov[win], dv[win], du[win], dl[win], gap[win], rr[win],
                         opening, m.teeth, mw)
        out[r.y0:r.y1, r.x0:r.x1, :3] = _to_u8(res[..., :3])
        return r

    @staticmethod
    def _cavity(res: np.ndarray, cov: np.ndarray, dv: np.ndarray, du: np.ndarray,
                dl: np.ndarray, gap: np.ndarray, rr: np.ndarray, opening: float, teeth: float,
                mw: float) -> None:
        """Paint the open mouth (dark cavity, upper teeth, tongue) into ``res`` in place."""
        cav = np.empty_like(res)
        cav[:] = _CAVITY4
        tcov = None
        teeth_amt = min(1.0, max(0.0, teeth)) * min(1.0, opening * 3.0)
        if teeth_amt > 0.02:
            th = np.minimum(0.42 * gap, 0.09 * mw) * teeth_amt
            tcov = _clip(th - (dv + du) + 0.5, 0.0, 1.0) * (th > 0.4)
            shade = (1.0 - 0.3 * _clip(np.abs(rr), 0.0, 1.0))[..., None]
            cav += (_TEETH4 * shade - cav) * tcov[..., None]
        tongue = min(1.0, max(0.0, opening * 2.0 - 0.4))
        if tongue > 0.0:
            tg = (_clip(dv - (dl - 0.35 * gap) + 0.5, 0.0, 1.0)
                  * _clip(1.0 - np.abs(rr) * (1 / 0.75), 0.0, 1.0) * tongue)
            if tcov is not None:
                tg *= 1.0 - tcov
            cav += (_TONGUE4 - cav) * tg[..., None]
        res += (cav - res) * cov[..., None]

    def _eye(self, layers: Layers, st: FaceState, pose: Pose | None, full: _Eye, lids: _Eye,
             out: np.ndarray) -> _Region | None:
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
        res = _sample_rgb(layers.packed, self.width, self.height, u, v)
        if closure >= 0.01 or lower >= 0.01:
            lr = lids.region
            win = (slice(lr.y0 - r.y0, lr.y1 - r.y0), slice(lr.x0 - r.x0, lr.x1 - r.x0))
            self._lids(res[win], u[win], v[win], eye, closure, lower)
        out[r.y0:r.y1, r.x0:r.x1, :3] = _to_u8(res[..., :3])
        return r

    @staticmethod
    def _lids(res: np.ndarray, u: np.ndarray, v: np.ndarray, eye: _Eye, closure: float,
              lower: float) -> None:
        """Paint the upper lid (closed by ``closure``) and raised lower lid into ``res``."""
        ex, ey, ew, eh = eye.ex, eye.ey, eye.ew, eye.eh
        half = 0.5 * ew
        adx = np.abs(u - ex)
        du = adx * (1.0 / half)
        sx = np.sqrt(_clip(1.0 - du * du, 0.0, 1.0))
        ut = ey - (0.56 * eh) * sx
        lb = ey + (0.44 * eh) * sx
        inx = _clip((half + 1.5 - adx) * (1 / 1.5), 0.0, 1.0)
        margin = 0.22 * eh + 1.0
        if closure >= 0.01:
            top_c = ut + closure * (lb - ut)
            cov = (_clip(top_c - v + 0.5, 0.0, 1.0)
                   * _clip((v - (ut - margin)) * 0.5 + 0.5, 0.0, 1.0) * inx)
            shade = (0.9 + 0.1 * _clip((top_c - v) * (1 / (0.5 * eh)), 0.0, 1.0))[..., None]
            res += (eye.lid * shade - res) * cov[..., None]
            lash = (_clip(1.0 - np.abs(v - (top_c - 0.6)) * (1 / 1.3), 0.0, 1.0) * inx
                    * (0.85 * min(1.0, closure * 6.0)))
            res += (_LASH4 - res) * lash[..., None]
        if lower >= 0.01:
            bot_c = lb - (lower * 0.38) * (lb - ut)
            cov = (_clip(v - bot_c + 0.5, 0.0, 1.0)
                   * _clip(((lb + margin) - v) * 0.5 + 0.5, 0.0, 1.0) * inx)
            res += (eye.low - res) * cov[..., None]
            line = _clip(1.0 - np.abs(v - bot_c), 0.0, 1.0) * inx * 0.35
            res += (_LASH4 - res) * line[..., None]


_LAYER_CACHE: LruCache[Layers] = LruCache(6)
