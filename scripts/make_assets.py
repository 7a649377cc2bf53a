"""Draw avatarkit's built-in assets: the default portrait and its landmarks.

    python scripts/make_assets.py   # -> src/avatarkit/assets/default_portrait.{png,json}

The portrait is a stylised head-and-shoulders bust drawn procedurally (PIL shapes + numpy
shading) at 3x and box-downsampled, with a real alpha channel (so backgrounds replace the
backdrop exactly). The JSON sidecar holds the exact landmark positions the renderer animates
(eyes, brows, mouth, pivot), so the default face never depends on the detection heuristic.
Deterministic: running it twice gives the same files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
SS = 3  # supersampling factor
BIG = SIZE * SS
ASSETS = Path(__file__).resolve().parents[1] / "src" / "avatarkit" / "assets"

SKIN = np.array([238, 198, 170], np.float32)
HAIR = np.array([64, 42, 33], np.float32)
SWEATER = np.array([44, 92, 118], np.float32)
LIPS_UP = np.array([178, 84, 90], np.float32)
LIPS_LOW = np.array([198, 100, 106], np.float32)
BROW = np.array([70, 46, 36], np.float32)
LASH = np.array([44, 30, 28], np.float32)
IRIS = np.array([104, 78, 52], np.float32)

# landmarks (512 space)
EYE_L, EYE_R, EYE_W, EYE_UP, EYE_DN = (214.0, 236.0), (298.0, 236.0), 40.0, 9.0, 7.0
BROW_Y = 203.0
MOUTH = (256.0, 309.0)
MOUTH_W = 54.0
FACE_C, FACE_RX, FACE_TOP, FACE_CHIN = (256.0, 232.0), 84.0, 120.0, 343.0


def s(v: float) -> float:
    """512-space -> supersampled space."""
    return v * SS


def pts(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(s(x), s(y)) for x, y in points]


def new_mask() -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("L", (BIG, BIG), 0)
    return img, ImageDraw.Draw(img)


def to_arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, np.float32) / 255.0


def poly(points: list[tuple[float, float]]) -> np.ndarray:
    img, d = new_mask()
    d.polygon(pts(points), fill=255)
    return to_arr(img)


def ellipse(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    img, d = new_mask()
    d.ellipse([s(cx - rx), s(cy - ry), s(cx + rx), s(cy + ry)], fill=255)
    return to_arr(img)


def line(points: list[tuple[float, float]], width: float) -> np.ndarray:
    img, d = new_mask()
    d.line(pts(points), fill=255, width=max(1, round(s(width))), joint="curve")
    r = s(width) / 2
    for x, y in (points[0], points[-1]):
        d.ellipse([s(x) - r, s(y) - r, s(x) + r, s(y) + r], fill=255)
    return to_arr(img)


def blur(mask: np.ndarray, radius: float) -> np.ndarray:
    img = Image.fromarray((np.clip(mask, 0, 1) * 255).astype(np.uint8))
    return to_arr(img.filter(ImageFilter.GaussianBlur(s(radius))))


def curve(p0: tuple[float, float], p1: tuple[float, float], p2: tuple[float, float],
          n: int = 24) -> list[tuple[float, float]]:
    """Quadratic Bezier from p0 to p2 with control p1."""
    out = []
    for i in range(n + 1):
        t = i / n
        out.append(((1 - t) ** 2 * p0[0] + 2 * (1 - t) * t * p1[0] + t * t * p2[0],
                    (1 - t) ** 2 * p0[1] + 2 * (1 - t) * t * p1[1] + t * t * p2[1]))
    return out


def spline(points: list[tuple[float, float]], n: int = 8) -> list[tuple[float, float]]:
    """Catmull-Rom curve through ``points``."""
    p = [points[0], *points, points[-1]]
    out = []
    for i in range(1, len(p) - 2):
        for k in range(n):
            t = k / n
            out.append(tuple(
                0.5 * (2 * p[i][j] + (-p[i - 1][j] + p[i + 1][j]) * t
                       + (2 * p[i - 1][j] - 5 * p[i][j] + 4 * p[i + 1][j] - p[i + 2][j]) * t * t
                       + (-p[i - 1][j] + 3 * p[i][j] - 3 * p[i + 1][j] + p[i + 2][j]) * t ** 3)
                for j in (0, 1)))
    out.append(points[-1])
    return out  # type: ignore[return-value]


class Canvas:
    """Premultiplied float RGBA canvas with an 'over' paint operation."""

    def __init__(self) -> None:
        self.rgb = np.zeros((BIG, BIG, 3), np.float32)
        self.a = np.zeros((BIG, BIG), np.float32)
        yy, xx = np.mgrid[0:BIG, 0:BIG].astype(np.float32) / SS
        self.x, self.y = xx, yy

    def paint(self, mask: np.ndarray, color: np.ndarray, alpha: float = 1.0) -> None:
        m = np.clip(mask, 0, 1) * alpha
        col = color if color.ndim == 3 else color[None, None, :]
        self.rgb = col * m[..., None] + self.rgb * (1 - m[..., None])
        self.a = m + self.a * (1 - m)

    def shade(self, mask: np.ndarray, factor: np.ndarray) -> None:
        """Multiply the colour under ``mask`` by ``factor`` (darken < 1 < lighten)."""
        f = 1 + (factor - 1) * np.clip(mask, 0, 1)
        self.rgb = self.rgb * f[..., None]

    def result(self) -> Image.Image:
        rgb = self.rgb.reshape(SIZE, SS, SIZE, SS, 3).mean(axis=(1, 3))
        a = self.a.reshape(SIZE, SS, SIZE, SS).mean(axis=(1, 3))
        safe = np.where(a > 1e-4, a, 1.0)
        straight = np.clip(rgb / safe[..., None], 0, 255)
        out = np.dstack([straight, a * 255]).round().astype(np.uint8)
        out[a < 1 / 255] = 0
        return Image.fromarray(out, "RGBA")


def head_outline() -> list[tuple[float, float]]:
    """Egg-shaped head: round skull, narrower jaw and chin."""
    cx, cy = FACE_C
    out = []
    for i in range(180):
        t = 2 * math.pi * i / 180
        st, ct = math.sin(t), math.cos(t)
        if st < 0:  # upper half (y up)
            x = cx + FACE_RX * ct
            y = cy + (cy - FACE_TOP) * st
        else:
            k = 1 - 0.30 * st ** 2.2
            x = cx + FACE_RX * ct * k
            y = cy + (FACE_CHIN - cy) * st
        out.append((x, y))
    return out


def draw() -> tuple[Image.Image, dict[str, object]]:
    c = Canvas()
    x, y = c.x, c.y
    cx, cy = FACE_C

    # hair behind the head: a bob ending near the jaw
    back = ellipse(256, 222, 114, 128) * (y < 318 + 10 * np.cos((x - 256) / 60)).astype(np.float32)
    back = blur(back, 0.6)
    hair_shade = 1 - 0.18 * np.clip((y - 200) / 130, 0, 1)
    c.paint(back, HAIR[None, None, :] * hair_shade[..., None])

    # neck, darker under the jaw
    neck = poly([(222, 300), (290, 300), (293, 372), (304, 455), (208, 455), (219, 372)])
    neck_col = SKIN * 0.93
    c.paint(neck, np.broadcast_to(neck_col, (3,)).copy())
    jaw_shadow = blur(ellipse(256, 338, 52, 22), 9) * neck
    c.shade(jaw_shadow, np.full_like(x, 0.72))

    # shoulders and sweater with a V neckline
    torso = poly(spline([(6, 530), (22, 462), (70, 420), (150, 398), (214, 382), (256, 380),
                         (298, 382), (362, 398), (442, 420), (490, 462), (506, 530)]))
    v_cut = poly([(216, 376), (256, 446), (296, 376)])
    sweater = torso * (1 - v_cut)
    light = 1.05 - 0.22 * np.clip(np.abs(x - 256) / 230, 0, 1) ** 1.5
    c.paint(sweater, SWEATER[None, None, :] * light[..., None])
    collar = line(curve((214, 377), (256, 462), (298, 377)), 7) * torso
    c.paint(collar, SWEATER * 1.25)
    fold_l = blur(line([(130, 470), (150, 512)], 3), 3)
    fold_r = blur(line([(382, 470), (362, 512)], 3), 3)
    c.shade(np.maximum(fold_l, fold_r) * sweater, np.full_like(x, 0.82))

    # ears
    for ex, flip in ((173.0, -1.0), (339.0, 1.0)):
        ear = ellipse(ex, 247, 13, 23)
        c.paint(ear, SKIN * 0.95)
        inner = blur(ellipse(ex + flip * 2, 248, 6, 13), 1.5) * ear
        c.shade(inner, np.full_like(x, 0.82))

    # face with soft light from the upper left
    head = poly(head_outline())
    head = blur(head, 0.35)
    r = np.sqrt(((x - cx) / FACE_RX) ** 2 + ((y - cy) / 115) ** 2)
    light = (1.04 - 0.05 * (x - cx) / FACE_RX - 0.03 * (y - cy) / 110
             - 0.13 * np.clip((r - 0.7) / 0.35, 0, 1) ** 2)
    c.paint(head, SKIN[None, None, :] * light[..., None])

    # cheeks, nose, chin shading
    for bx in (199.0, 313.0):
        c.paint(blur(ellipse(bx, 281, 21, 13), 7) * head, np.array([236, 140, 138], np.float32),
                alpha=0.35)
    c.shade(blur(line([(251, 246), (247, 276)], 2.2), 2.0) * head, np.full_like(x, 0.86))
    c.shade(blur(line(curve((243, 286), (256, 292), (269, 286)), 2.5), 1.8) * head,
            np.full_like(x, 0.80))
    for nx in (249.0, 263.0):
        c.paint(blur(ellipse(nx, 284.5, 3.0, 1.7), 0.7), SKIN * 0.6, alpha=0.75)
    c.paint(blur(ellipse(257, 280, 7, 4), 3) * head, SKIN * 1.08, alpha=0.6)
    c.shade(blur(line(curve((242, 329), (256, 334), (270, 329)), 3.0), 3.0) * head,
            np.full_like(x, 0.9))

    # hair on top: side-swept fringe
    cap_outer = [(cx + 92 * math.cos(t), 226 + 118 * math.sin(t))
                 for t in np.linspace(math.radians(178), math.radians(362), 60)]
    hairline = spline([(347, 236), (341, 205), (324, 181), (294, 166), (262, 163), (234, 172),
                       (209, 190), (189, 214), (176, 238), (165, 250)])
    fringe = poly(cap_outer + hairline)
    fringe = blur(fringe, 0.5)
    shade = 1.0 + 0.10 * np.clip(1 - np.abs((y - 140) / 40), 0, 1) * np.clip(
        1 - np.abs((x - 230) / 70), 0, 1)
    c.paint(fringe, HAIR[None, None, :] * shade[..., None])
    for p0, p1, p2 in (((200, 140), (240, 120), (300, 135)), ((190, 170), (235, 145), (290, 150)),
                       ((300, 150), (330, 165), (340, 200))):
        c.paint(blur(line(curve(p0, p1, p2), 2.0), 1.5) * fringe, HAIR * 1.55, alpha=0.55)

    # brows
    for ex, inner_sign in ((EYE_L[0], 1.0), (EYE_R[0], -1.0)):
        outer = ex - inner_sign * 25
        inner = ex + inner_sign * 23
        top = curve((outer, BROW_Y + 3), (ex - inner_sign * 6, BROW_Y - 7), (inner, BROW_Y - 1))
        bottom = curve((inner, BROW_Y + 5), (ex - inner_sign * 4, BROW_Y - 1),
                       (outer, BROW_Y + 4.5))
        c.paint(blur(poly(top + bottom), 0.4), BROW)

    # eyes
    for ex, ey in (EYE_L, EYE_R):
        half = EYE_W / 2
        u = np.clip((x - ex) / half, -1, 1)
        inside_x = np.abs(x - ex) < half
        upper = ey - EYE_UP * (1 - u ** 2) ** 0.75
        lower = ey + EYE_DN * (1 - u ** 2) ** 0.9
        eye = (inside_x & (y > upper) & (y < lower)).astype(np.float32)
        eye = blur(eye, 0.3)
        c.paint(eye, np.array([247, 245, 242], np.float32))
        c.shade(blur(((y > upper) & (y < upper + 3.5) & inside_x).astype(np.float32), 1.0) * eye,
                np.full_like(x, 0.82))
        iris = ellipse(ex, ey + 0.5, 8.6, 8.6) * eye
        rim = np.clip(np.sqrt((x - ex) ** 2 + (y - ey - 0.5) ** 2) / 8.6, 0, 1)
        c.paint(iris, IRIS[None, None, :] * (1.15 - 0.45 * rim ** 3)[..., None])
        c.paint(ellipse(ex, ey + 0.5, 3.9, 3.9) * eye, np.array([22, 18, 18], np.float32))
        c.paint(ellipse(ex + 3, ey - 2.5, 1.9, 1.9) * eye, np.array([255, 255, 255], np.float32),
                alpha=0.9)
        top_line = [(ex + half * t, ey - EYE_UP * (1 - t * t) ** 0.75)
                    for t in np.linspace(-1, 1, 40)]
        side = 1.0 if ex > 256 else -1.0
        flick = (ex + side * (half + 3), ey - 2.5)
        c.paint(line(top_line, 2.4), LASH)
        c.paint(line([(ex + side * half, ey), flick], 1.8), LASH)
        bottom_line = [(ex + half * t, ey + EYE_DN * (1 - t * t) ** 0.9)
                       for t in np.linspace(-0.9, 0.9, 30)]
        c.paint(line(bottom_line, 1.0), np.array([150, 100, 92], np.float32), alpha=0.55)
        crease = [(ex + (half - 2) * t, ey - EYE_UP - 5 * (1 - t * t) ** 0.8 - 1)
                  for t in np.linspace(-0.85, 0.85, 30)]
        c.paint(blur(line(crease, 1.2), 0.6), SKIN * 0.78, alpha=0.7)

    # mouth
    mx, my = MOUTH
    hw = MOUTH_W / 2
    upper_top = curve((mx - hw, my - 0.5), (mx - 14, my - 11), (mx - 1.5, my - 6.5), 16) + curve(
        (mx + 1.5, my - 6.5), (mx + 14, my - 11), (mx + hw, my - 0.5), 16)
    mouth_line = curve((mx + hw, my - 0.5), (mx, my + 2.0), (mx - hw, my - 0.5), 24)
    c.paint(blur(poly(upper_top + mouth_line), 0.4), LIPS_UP)
    lower_bottom = curve((mx - hw, my - 0.5), (mx, my + 19), (mx + hw, my - 0.5), 30)
    c.paint(blur(poly(list(reversed(mouth_line)) + lower_bottom[::-1]), 0.4), LIPS_LOW)
    c.paint(blur(ellipse(mx, my + 5.5, 10, 2.6), 1.2), np.array([232, 150, 152], np.float32),
            alpha=0.55)
    c.paint(line(mouth_line, 1.7), np.array([110, 42, 50], np.float32))
    for side in (-1, 1):
        c.paint(blur(ellipse(mx + side * (hw + 1), my - 1, 1.6, 1.6), 0.8),
                np.array([150, 90, 85], np.float32), alpha=0.6)

    meta: dict[str, object] = {
        "size": [SIZE, SIZE],
        "face_box": [172, 118, 340, 345],
        "eyes": [list(EYE_L), list(EYE_R)],
        "eye_width": EYE_W,
        "eye_height": EYE_UP + EYE_DN,
        "brows": [[EYE_L[0], BROW_Y], [EYE_R[0], BROW_Y]],
        "brow_width": 50.0,
        "mouth": list(MOUTH),
        "mouth_width": MOUTH_W,
        "chin": FACE_CHIN,
        "pivot": [256.0, 400.0],
        "motion_top": 350.0,
        "motion_bottom": 400.0,
        "skin": [int(v) for v in SKIN],
    }
    return c.result(), meta


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    img, meta = draw()
    png = ASSETS / "default_portrait.png"
    img.save(png, optimize=True)
    (ASSETS / "default_portrait.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {png} ({png.stat().st_size / 1024:.0f} KB) and default_portrait.json")


if __name__ == "__main__":
    main()
