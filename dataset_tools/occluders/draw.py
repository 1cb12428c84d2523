"""Drawing helpers shared by the procedural occluder classes.

Every cut-out is drawn on a supersampled canvas (3x by default) with hard-edged polygons, then
area-downsampled (premultiplied colour and alpha separately, so edges do not darken), which gives the
soft, anti-aliased alpha of a photographed cut-out. Parts are shaded with a "rounded" profile from the
distance to the part's edge (cylinders look lit in the middle and dark at the rims) and textured with
value noise; all randomness comes from the generator's own `np.random.Generator`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

SS = 3  # supersampling factor


class Canvas:
    """An RGBA drawing surface of `h` x `w` output pixels, stored at `ss`x resolution."""

    def __init__(self, h: int, w: int, ss: int = SS):
        self.h, self.w, self.ss = int(h), int(w), ss
        self.rgb = np.zeros((self.h * ss, self.w * ss, 3), np.float32)
        self.a = np.zeros((self.h * ss, self.w * ss), np.float32)

    def fill(self, pts, color, rng: np.random.Generator | None = None, round_shade: float = 0.0,
             noise: float = 0.0, streak: tuple[float, float] | None = None, opacity: float = 1.0) -> None:
        """Fill the polygon `pts` (output-pixel coordinates) with `color` (RGB 0..255).

        round_shade: 0 = flat, 1 = rims at 40 % brightness (a lit cylinder / a curved leaf blade).
        noise: amplitude of multiplicative fine value noise (fur of bark, leaf mottling).
        streak: (angle in degrees, amplitude): noise stretched along `angle` (bark fibres, culm striation).
        """
        pts = np.asarray(pts, np.float64) * self.ss
        if len(pts) < 3:
            return
        x0 = max(int(math.floor(pts[:, 0].min())) - 1, 0)
        y0 = max(int(math.floor(pts[:, 1].min())) - 1, 0)
        x1 = min(int(math.ceil(pts[:, 0].max())) + 2, self.rgb.shape[1])
        y1 = min(int(math.ceil(pts[:, 1].max())) + 2, self.rgb.shape[0])
        if x1 <= x0 or y1 <= y0:
            return
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(m, [np.round((pts - (x0, y0)) * 4).astype(np.int32)], 1, cv2.LINE_8, 2)
        if not m.any():
            return
        col = np.empty(m.shape + (3,), np.float32)
        col[:] = np.asarray(color, np.float32)
        gain = np.ones(m.shape, np.float32)
        if round_shade > 0:
            d = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
            dmax = max(float(d.max()), 1.0)
            gain *= (1 - round_shade * 0.6) + round_shade * 0.6 * np.sqrt(d / dmax)
        if rng is not None and noise > 0:
            gain *= 1 + noise * (_noise(rng, m.shape, max(2, self.ss)) - 0.5) * 2
        if rng is not None and streak is not None:
            gain *= 1 + streak[1] * (_streaks(rng, m.shape, streak[0]) - 0.5) * 2
        col *= gain[..., None]
        mf = m.astype(np.float32) * opacity
        sl = (slice(y0, y1), slice(x0, x1))
        self.rgb[sl] = self.rgb[sl] * (1 - mf[..., None]) + col * mf[..., None]
        self.a[sl] = self.a[sl] * (1 - mf) + mf

    def stroke(self, centre, widths, color, **kw) -> None:
        """A tapered stroke along the polyline `centre` (N x 2) with per-point `widths` (full width)."""
        self.fill(stroke_polygon(centre, widths), color, **kw)

    def ellipse_pts(self, c, axes, angle, n: int = 40):
        t = np.linspace(0, 2 * np.pi, n, endpoint=False)
        ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
        return np.stack([c[0] + x * ca - y * sa, c[1] + x * sa + y * ca], 1)

    def finish(self) -> np.ndarray:
        """Area-downsample to h x w and return RGBA uint8 (premultiplied resampling)."""
        pre = self.rgb * self.a[..., None]
        pre = cv2.resize(pre, (self.w, self.h), interpolation=cv2.INTER_AREA)
        a = cv2.resize(self.a, (self.w, self.h), interpolation=cv2.INTER_AREA)
        rgb = pre / np.maximum(a, 1e-6)[..., None]
        out = np.concatenate([rgb, a[..., None] * 255.0], axis=2)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _noise(rng: np.random.Generator, shape, cell: int) -> np.ndarray:
    h, w = shape
    g = rng.random((h // cell + 2, w // cell + 2)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)


def _streaks(rng: np.random.Generator, shape, angle: float) -> np.ndarray:
    """Noise stretched along `angle` (degrees, 90 = vertical)."""
    h, w = shape
    n = int(math.ceil(math.hypot(h, w))) + 2
    g = rng.random((max(2, n // 24), max(2, n // 2))).astype(np.float32)  # long along x
    g = cv2.resize(g, (n, n), interpolation=cv2.INTER_LINEAR)
    M = cv2.getRotationMatrix2D((n / 2, n / 2), -angle, 1.0)
    M[:, 2] += (w / 2 - n / 2, h / 2 - n / 2)
    return cv2.warpAffine(g, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def stroke_polygon(centre, widths) -> np.ndarray:
    c = np.asarray(centre, np.float64)
    wd = np.broadcast_to(np.asarray(widths, np.float64), (len(c),))
    d = np.gradient(c, axis=0)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    nrm = np.stack([-d[:, 1], d[:, 0]], 1)
    left = c + nrm * wd[:, None] / 2
    right = c - nrm * wd[:, None] / 2
    return np.concatenate([left, right[::-1]], 0)


def bezier(p0, p1, p2, n: int = 24, p3=None) -> np.ndarray:
    """Points along a quadratic (or cubic, with p3) Bézier curve."""
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    if p3 is None:
        return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2
    p3 = np.asarray(p3, np.float64)
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def leaf_polygon(base, angle: float, length: float, width: float, bend: float = 0.0, n: int = 16) -> np.ndarray:
    """A lanceolate/ovate leaf: two curved edges from `base` to the tip, widest at ~35 % of the length,
    `bend` curving the midrib sideways (fraction of the length)."""
    t = np.linspace(0, 1, n)
    # half-width profile: sin-shaped, widest near the base third, pointed tip
    prof = np.sin(np.pi * t ** 0.75) * (1 - t) ** 0.35
    prof /= max(prof.max(), 1e-9)
    mid_x = t * length
    mid_y = bend * length * np.sin(np.pi * t) * t
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    left = np.stack([mid_x, mid_y + prof * width / 2], 1)
    right = np.stack([mid_x, mid_y - prof * width / 2], 1)
    pts = np.concatenate([left, right[::-1]], 0)
    rot = np.array([[ca, -sa], [sa, ca]])
    return pts @ rot.T + np.asarray(base, np.float64)


def leaf_midrib(base, angle: float, length: float, bend: float = 0.0, n: int = 12) -> np.ndarray:
    t = np.linspace(0, 0.92, n)
    pts = np.stack([t * length, bend * length * np.sin(np.pi * t) * t], 1)
    ca, sa = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return pts @ np.array([[ca, -sa], [sa, ca]]).T + np.asarray(base, np.float64)


def jitter_color(rng: np.random.Generator, base, spread: float = 12.0):
    return tuple(float(np.clip(v + rng.normal(0, spread), 0, 255)) for v in base)


def crop_to_content(rgba: np.ndarray, pad: int = 1) -> np.ndarray:
    ys, xs = np.nonzero(rgba[:, :, 3])
    if len(ys) == 0:
        return rgba
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, rgba.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, rgba.shape[1])
    return np.ascontiguousarray(rgba[y0:y1, x0:x1])
