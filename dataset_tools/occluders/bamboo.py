"""`bamboo`: one to three culms standing on the ground, with nodes and sprays of narrow leaves.

Culms are slightly leaning cylinders (rounded shading, fine vertical striation) whose nodes are a
slightly wider, darker ring with the pale waxy band found just below bamboo nodes; some nodes carry a
thin branchlet with 3-6 narrow lanceolate leaves (length/width about 6-9, as in Phyllostachys and
Fargesia, the pandas' food bamboos). Anchor "bottom": the culms rise from the cut-out's bottom row and
are taller than the frame, so placed at the bottom edge they cross the whole image.
"""

from __future__ import annotations

import math

import numpy as np

from dataset_tools.occluders.draw import Canvas, jitter_color, leaf_midrib, leaf_polygon

ANCHOR = "bottom"


def _leaf_spray(cv: Canvas, rng, at, side: int, size: int, leaf_col) -> None:
    ang = -90 + side * rng.uniform(35, 70)  # branchlet direction (up and out)
    blen = size * rng.uniform(0.06, 0.14)
    end = (at[0] + blen * math.cos(math.radians(ang)), at[1] + blen * math.sin(math.radians(ang)))
    cv.stroke(np.linspace(at, end, 8), np.linspace(size * 0.008, size * 0.004, 8), jitter_color(rng, (95, 110, 55)))
    for _ in range(int(rng.integers(3, 7))):
        length = size * rng.uniform(0.10, 0.20)
        width = length / rng.uniform(6, 9)
        la = ang + side * rng.uniform(10, 80) + rng.normal(0, 15)  # drooping fan of leaves
        base = (end[0] + rng.normal(0, size * 0.005), end[1] + rng.normal(0, size * 0.005))
        bend = side * rng.uniform(0.02, 0.12)
        col = jitter_color(rng, leaf_col, 10)
        cv.fill(leaf_polygon(base, la, length, width, bend), col, rng=rng, round_shade=0.35, noise=0.05)
        cv.stroke(leaf_midrib(base, la, length, bend), size * 0.0025, tuple(min(255, c * 1.15) for c in col))


def make(rng: np.random.Generator, size: int) -> np.ndarray:
    h = int(size * rng.uniform(1.1, 1.3))
    n_culms = int(rng.choice([1, 1, 2, 2, 3]))
    widths = [size * rng.uniform(0.04, 0.085) for _ in range(n_culms)]
    w = int(sum(widths) * 1.6 + size * 0.45)
    cv = Canvas(h, w)
    age = rng.random()
    culm_base = (90 + 70 * age, 135 + 20 * age, 55 + 25 * age)  # young green -> older yellow-green
    leaf_col = (rng.uniform(50, 80), rng.uniform(100, 135), rng.uniform(30, 55))
    xs = np.sort(rng.uniform(w * 0.3, w * 0.7, n_culms))
    for x, cw in zip(xs, widths):
        lean = rng.normal(0, 3)  # degrees from vertical
        top_y = -size * 0.05 if rng.random() < 0.8 else h * rng.uniform(0.1, 0.3)
        dx = math.tan(math.radians(lean)) * (h - top_y)
        cx0, cx1 = x, x + dx
        col = jitter_color(rng, culm_base, 8)
        pts = np.array([[cx0, h + 2], [cx1, top_y]])
        line = np.linspace(pts[0], pts[1], 12)
        cv.stroke(line, np.linspace(cw, cw * 0.85, 12), col, rng=rng, round_shade=0.8, streak=(90 + lean, 0.06))
        # nodes every 15-28 % of the frame height, a bit closer near the ground
        y = h - size * rng.uniform(0.05, 0.15)
        spacing = size * rng.uniform(0.15, 0.28)
        while y > top_y + spacing * 0.3:
            f = (h + 2 - y) / (h + 2 - top_y)
            nx = cx0 + (cx1 - cx0) * f
            ww = cw * (1 - 0.15 * f)
            # pale waxy band below the node, then the node ridge
            band = cv.ellipse_pts((nx, y + ww * 0.22), (ww * 0.5, ww * 0.12), lean)
            cv.fill(band, tuple(min(255, c * 1.25 + 15) for c in col), opacity=0.55)
            ridge = np.array([[nx - ww * 0.56, y - ww * 0.06], [nx + ww * 0.56, y - ww * 0.06],
                              [nx + ww * 0.56, y + ww * 0.06], [nx - ww * 0.56, y + ww * 0.06]])
            cv.fill(ridge, tuple(c * 0.6 for c in col), round_shade=0.5)
            if rng.random() < 0.45 and f > 0.2:
                side = 1 if rng.random() < 0.5 else -1
                _leaf_spray(cv, rng, (nx + side * ww * 0.45, y), side, size, leaf_col)
            y -= spacing * rng.uniform(0.85, 1.15)
    return cv.finish()
