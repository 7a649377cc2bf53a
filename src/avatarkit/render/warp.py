"""Sampling and warping helpers of the compositor: numpy on small arrays, no per-pixel
Python. A :class:`Region` is a box of the canvas with its pixel grid and its head-motion
weights; the window functions shape where a feature warp applies."""

from __future__ import annotations

import math

import numpy as np

from .animator import Pose


def clip(a: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``np.clip`` without its Python-level dispatch overhead (hot path)."""
    return np.minimum(np.maximum(a, lo), hi)


def bell(t: np.ndarray) -> np.ndarray:
    """1 at 0, smoothly 0 at |t| >= 1."""
    u = clip(1.0 - t * t, 0.0, 1.0)
    return (u * u).astype(np.float32)


def plateau(t: np.ndarray, flat: float) -> np.ndarray:
    """1 for |t| <= flat, smooth fall to 0 at |t| = 1."""
    a = clip((np.abs(t) - flat) / (1.0 - flat), 0.0, 1.0)
    return (1.0 - a * a * (3.0 - 2.0 * a)).astype(np.float32)


def bilinear(flat: np.ndarray, width: int, height: int, x: np.ndarray,
              y: np.ndarray) -> np.ndarray:
    """Sample ``flat`` (H*W, C) float32 at float coordinates (edge-clamped)."""
    x = clip(x, 0.0, width - 1.001)
    y = clip(y, 0.0, height - 1.001)
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


def sample_rgb(packed: np.ndarray, width: int, height: int, x: np.ndarray,
                y: np.ndarray) -> np.ndarray:
    """Bilinear RGB (float32, shape + (4,), last channel unused) from packed RGBA uint32."""
    x = clip(x, 0.0, width - 1.001)
    y = clip(y, 0.0, height - 1.001)
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


def to_u8(arr: np.ndarray) -> np.ndarray:
    return clip(arr + 0.5, 0.0, 255.0).astype(np.uint8)


class Region:
    """A box of the canvas with its pixel grid and head-motion weights."""

    def __init__(self, x0: float, y0: float, x1: float, y1: float, width: int, height: int,
                 weight_fn: MotionWeight) -> None:
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


class MotionWeight:
    def __init__(self, top: float, bottom: float) -> None:
        self.top, self.bottom = top, max(bottom, top + 1.0)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        a = clip((v - self.top) / (self.bottom - self.top), 0.0, 1.0)
        return (1.0 - a * a * (3.0 - 2.0 * a)).astype(np.float32)
