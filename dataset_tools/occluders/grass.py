"""`grass`: a tuft of blades rising from the bottom edge (anchor "bottom").

Each blade is a quadratic Bézier curve from its base on the bottom row to its tip, leaning and bending
to one side, drawn as a stroke tapering to a point; blades come in a few clumps, back blades darker,
with some dry (yellow-brown) blades and darker bases, as in a meadow tussock.
"""

from __future__ import annotations

import math

import numpy as np

from dataset_tools.occluders.draw import Canvas, bezier, jitter_color

ANCHOR = "bottom"


def make(rng: np.random.Generator, size: int) -> np.ndarray:
    h = int(size * rng.uniform(0.35, 0.7))
    w = int(size * rng.uniform(0.45, 0.9))
    cv = Canvas(h, w)
    green = (rng.uniform(70, 110), rng.uniform(120, 160), rng.uniform(35, 65))
    dry = (rng.uniform(150, 185), rng.uniform(140, 165), rng.uniform(80, 100))
    n_clumps = int(rng.integers(2, 5))
    centres = rng.uniform(0.15 * w, 0.85 * w, n_clumps)
    n = int(rng.integers(30, 70))
    for i in range(n):
        back = i < n * 0.4  # drawn first = further back
        x0 = float(np.clip(rng.choice(centres) + rng.normal(0, w * 0.08), 0, w))
        height = h * rng.uniform(0.45, 1.0)
        lean = rng.normal(0, 18)
        bend = rng.normal(0, 0.25)
        ang = math.radians(-90 + lean)
        tip = (x0 + height * math.cos(ang) + bend * height * 0.5, h - height * (0.9 + 0.1 * rng.random()))
        ctrl = (x0 + 0.5 * height * math.cos(ang), h - 0.6 * height)
        pts = bezier((x0, h + 2), ctrl, tip, 16)
        base_w = size * rng.uniform(0.008, 0.02)
        widths = base_w * (1 - np.linspace(0, 1, len(pts)) ** 1.5) + 0.3
        col = jitter_color(rng, dry if rng.random() < 0.15 else green, 14)
        if back:
            col = tuple(c * 0.7 for c in col)
        cv.stroke(pts, widths, col, rng=rng, round_shade=0.6, noise=0.05)
        k = len(pts) // 3  # darker, shaded base of the blade
        cv.stroke(pts[:k + 1], widths[:k + 1], tuple(c * 0.65 for c in col), opacity=0.5)
    return cv.finish()
