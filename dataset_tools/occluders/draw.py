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
        mb = m.astype(bool)
        if not mb.any():
            return
        # per-pixel work only on the polygon's own pixels (thin blades have large, mostly empty boxes)
        gain = np.ones(int(mb.sum()), np.float32)
        if round_shade > 0:
            d = cv2.distanceTransform(np.pad(m, 1), cv2.DIST_L2, 3)[1:-1, 1:-1][mb]
            dmax = max(float(d.max()), 1.0)
            gain *= (1 - round_shade * 0.6) + round_shade * 0.6 * np.sqrt(d / dmax)
        if rng is not None and noise > 0:
            gain *= 1 + noise * (_noise(rng, m.shape, max(2, self.ss))[mb] - 0.5) * 2
        if rng is not None and streak is not None:
            gain *= 1 + streak[1] * (_streaks(rng, m.shape, streak[0])[mb] - 0.5) * 2
        col = np.asarray(color, np.float32)[None, :] * gain[:, None]
        sl = (slice(y0, y1), slice(x0, x1))
        rgb, a = self.rgb[sl], self.a[sl]
        if opacity >= 1.0:
            rgb[mb] = col
            a[mb] = 1.0
        else:
            rgb[mb] = rgb[mb] * (1 - opacity) + col * opacity
            a[mb] = a[mb] * (1 - opacity) + opacity

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
    """Noise stretched along `angle` (degrees, 90 = vertical): long cells along the nearer image axis,
    sheared toward the exact angle (cheap: no rotation of a large array)."""
    h, w = shape
    t = math.radians(angle)
    vertical = abs(math.sin(t)) >= abs(math.cos(t))
    if vertical:
        g = rng.random((max(2, h // 24), max(2, w // 2))).astype(np.float32)
        out = cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)
        shear = math.cos(t) / math.sin(t)  # x shift per row
        M = np.float32([[1, shear, -shear * h / 2], [0, 1, 0]])
    else:
        g = rng.random((max(2, h // 2), max(2, w // 24))).astype(np.float32)
        out = cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR)
        shear = math.sin(t) / math.cos(t)  # y shift per column
        M = np.float32([[1, 0, 0], [shear, 1, -shear * w / 2]])
    return cv2.warpAffine(out, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


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


def bleed(rgba: np.ndarray, radius: int = 4) -> np.ndarray:
    """Give fully transparent pixels the colour of the nearby opaque ones ("alpha bleeding").

    The compositor warps and blurs cut-outs as plain (non-premultiplied) 8-bit RGBA, which is fast
    and keeps the alpha of the coverage search bit-identical to the painted one; bled colours keep the
    transparent black from leaking into the soft edges as a dark fringe. Pixels near the content get
    a normalised box average of the opaque neighbours (two passes), the rest the cut-out's mean colour.
    Alpha is unchanged, so what the cut-out covers is unchanged."""
    out = rgba.copy()
    a = rgba[:, :, 3]
    known = a > 0
    if not known.any() or known.all():
        return out
    rgb = rgba[:, :, :3].astype(np.float32)
    w = known.astype(np.float32)
    k = 2 * radius + 1
    filled = rgb * w[..., None]
    weight = w.copy()
    mean = filled.reshape(-1, 3).sum(0) / max(weight.sum(), 1.0)
    res = np.empty_like(rgb)
    res[:] = mean
    for _ in range(2):
        num = cv2.blur(filled, (k, k))
        den = cv2.blur(weight, (k, k))
        grow = (weight == 0) & (den > 1e-6)
        filled[grow] = num[grow] / den[grow][:, None]
        weight[grow] = 1.0
    res[weight > 0] = filled[weight > 0]
    res[known] = rgb[known]
    out[:, :, :3] = np.clip(np.rint(res), 0, 255).astype(np.uint8)
    return out
