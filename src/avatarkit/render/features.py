"""The mouth and the eyes: the static warp windows of their boxes, and the painting of an
open mouth (cavity, teeth, tongue) and of the eyelids (blinks, emotions)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .warp import Region, bell, clip, plateau

CAVITY = np.array([62, 24, 30, 255], np.float32)
TEETH = np.array([240, 236, 228, 255], np.float32)
TONGUE = np.array([168, 74, 84, 255], np.float32)
LASH = np.array([44, 30, 28, 255], np.float32)


class MouthWindows:
    """Static warp windows of a mouth box (the full box, or the core without the smile)."""

    def __init__(self, region: Region, mx: float, my: float, mw: float) -> None:
        self.region = region
        r = region
        self.r2c = clip(((r.u0 - mx) / (0.5 * mw)) ** 2, 0.0, 1.8).astype(np.float32)
        self.cwin = bell((r.u0 - mx) / (1.2 * mw)) * bell((r.v0 - my) / (0.55 * mw))
        self.swin = (plateau((r.u0 - mx) / (1.0 * mw), 0.5)
                     * plateau((r.v0 - my) / (0.42 * mw), 0.35))


@dataclass
class EyeWindows:
    """One eye (with its brow): box, centre, size and static warp windows."""

    region: Region
    ex: float
    ey: float
    ew: float
    eh: float
    inner: np.ndarray  # brow tilt weight, 1 at the inner end
    bwin: np.ndarray  # where brow motion applies
    ewin: np.ndarray  # where eye widening applies
    lid: np.ndarray  # upper-lid skin colour (RGB + unused 4th channel)
    low: np.ndarray  # lower-lid skin colour


def paint_cavity(res: np.ndarray, cov: np.ndarray, dv: np.ndarray, du: np.ndarray,
                 dl: np.ndarray, gap: np.ndarray, rr: np.ndarray, opening: float, teeth: float,
                 mw: float) -> None:
    """Paint the open mouth (dark cavity, upper teeth, tongue) into ``res`` in place."""
    cav = np.empty_like(res)
    cav[:] = CAVITY
    tcov = None
    teeth_amt = min(1.0, max(0.0, teeth)) * min(1.0, opening * 3.0)
    if teeth_amt > 0.02:
        th = np.minimum(0.42 * gap, 0.09 * mw) * teeth_amt
        tcov = clip(th - (dv + du) + 0.5, 0.0, 1.0) * (th > 0.4)
        shade = (1.0 - 0.3 * clip(np.abs(rr), 0.0, 1.0))[..., None]
        cav += (TEETH * shade - cav) * tcov[..., None]
    tongue = min(1.0, max(0.0, opening * 2.0 - 0.4))
    if tongue > 0.0:
        tg = (clip(dv - (dl - 0.35 * gap) + 0.5, 0.0, 1.0)
              * clip(1.0 - np.abs(rr) * (1 / 0.75), 0.0, 1.0) * tongue)
        if tcov is not None:
            tg *= 1.0 - tcov
        cav += (TONGUE - cav) * tg[..., None]
    res += (cav - res) * cov[..., None]


def paint_lids(res: np.ndarray, u: np.ndarray, v: np.ndarray, eye: EyeWindows, closure: float,
               lower: float) -> None:
    """Paint the upper lid (closed by ``closure``) and raised lower lid into ``res``."""
    ex, ey, ew, eh = eye.ex, eye.ey, eye.ew, eye.eh
    half = 0.5 * ew
    adx = np.abs(u - ex)
    du = adx * (1.0 / half)
    sx = np.sqrt(clip(1.0 - du * du, 0.0, 1.0))
    ut = ey - (0.56 * eh) * sx
    lb = ey + (0.44 * eh) * sx
    inx = clip((half + 1.5 - adx) * (1 / 1.5), 0.0, 1.0)
    margin = 0.22 * eh + 1.0
    if closure >= 0.01:
        top_c = ut + closure * (lb - ut)
        cov = (clip(top_c - v + 0.5, 0.0, 1.0)
               * clip((v - (ut - margin)) * 0.5 + 0.5, 0.0, 1.0) * inx)
        shade = (0.9 + 0.1 * clip((top_c - v) * (1 / (0.5 * eh)), 0.0, 1.0))[..., None]
        res += (eye.lid * shade - res) * cov[..., None]
        lash = (clip(1.0 - np.abs(v - (top_c - 0.6)) * (1 / 1.3), 0.0, 1.0) * inx
                * (0.85 * min(1.0, closure * 6.0)))
        res += (LASH - res) * lash[..., None]
    if lower >= 0.01:
        bot_c = lb - (lower * 0.38) * (lb - ut)
        cov = (clip(v - bot_c + 0.5, 0.0, 1.0)
               * clip(((lb + margin) - v) * 0.5 + 0.5, 0.0, 1.0) * inx)
        res += (eye.low - res) * cov[..., None]
        line = clip(1.0 - np.abs(v - bot_c), 0.0, 1.0) * inx * 0.35
        res += (LASH - res) * line[..., None]
