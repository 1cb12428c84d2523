"""`tree`: trunks and recursive branches with bark.

Two forms, half each: a trunk standing on the ground that forks into branches (anchor "bottom"), or a
branch reaching into the frame from the side (anchor "side": it grows from the cut-out's left column
to the right; the compositor flips or rotates it in from the left, right or top). Branches are tapered,
slightly curved strokes split recursively (2-3 children, 20-50 degrees apart, 55-80 % of the parent's
length and 55-70 % of its width: the usual "da Vinci" taper of tree architecture), shaded as cylinders
and textured with bark fibres running along each branch; side branches sometimes carry a few leaves.
"""

from __future__ import annotations

import math

import numpy as np

from dataset_tools.occluders.draw import Canvas, bezier, jitter_color, leaf_polygon


def _branch(cv: Canvas, rng, p, angle, length, width, depth, bark, size, leafy, leaf_col) -> None:
    a = math.radians(angle)
    end = (p[0] + length * math.cos(a), p[1] + length * math.sin(a))
    bow = rng.normal(0, 0.12) * length
    mid = ((p[0] + end[0]) / 2 - bow * math.sin(a), (p[1] + end[1]) / 2 + bow * math.cos(a))
    pts = bezier(p, mid, end, 14)
    terminal = depth == 0 or width * 0.7 < size * 0.006
    w_end = width * (rng.uniform(0.2, 0.35) if terminal else rng.uniform(0.6, 0.75))  # twigs end in a point
    col = jitter_color(rng, bark, 6)
    cv.stroke(pts, np.linspace(width, w_end, len(pts)), col, rng=rng, round_shade=0.85, noise=0.12,
              streak=(angle, 0.18))
    if not terminal:  # round joint so children grow out of the parent without a square stump
        cv.fill(cv.ellipse_pts(end, (w_end / 2, w_end / 2), 0, 16), col, rng=rng, round_shade=0.85, noise=0.12)
    if terminal:
        if leafy:
            for _ in range(int(rng.integers(2, 6))):
                la = angle + rng.normal(0, 50)
                ln = size * rng.uniform(0.05, 0.09)
                cv.fill(leaf_polygon(end, la, ln, ln * rng.uniform(0.35, 0.5), rng.uniform(-0.1, 0.1)),
                        jitter_color(rng, leaf_col, 12), rng=rng, round_shade=0.4, noise=0.06)
        return
    n = int(rng.choice([2, 2, 3]))
    spread = rng.uniform(20, 50)
    for k in range(n):
        off = (k - (n - 1) / 2) * spread / max(n - 1, 1) * 2 + rng.normal(0, 8)
        t = rng.uniform(0.75, 1.0) if k == 0 else rng.uniform(0.4, 1.0)
        start = pts[min(len(pts) - 1, int(t * (len(pts) - 1)))]
        _branch(cv, rng, tuple(start), angle + off, length * rng.uniform(0.55, 0.8), w_end * rng.uniform(0.75, 0.95),
                depth - 1, bark, size, leafy, leaf_col)


def make(rng: np.random.Generator, size: int) -> tuple[np.ndarray, str]:
    bark = (rng.uniform(80, 125), rng.uniform(65, 95), rng.uniform(50, 70))
    if rng.random() < 0.25:  # grey-barked trees (birch-grey, beech)
        g = rng.uniform(110, 150)
        bark = (g, g * 0.97, g * 0.92)
    leaf_col = (rng.uniform(55, 95), rng.uniform(100, 140), rng.uniform(30, 60))
    if rng.random() < 0.5:
        h, w = int(size * 1.15), int(size * 0.9)
        cv = Canvas(h, w)
        width = size * rng.uniform(0.09, 0.18)
        x = w * rng.uniform(0.4, 0.6)
        _branch(cv, rng, (x, h + 2), -90 + rng.normal(0, 4), h * rng.uniform(0.45, 0.65), width, 3, bark, size,
                False, leaf_col)
        return cv.finish(), "bottom"
    h, w = int(size * 0.8), int(size * 1.0)
    cv = Canvas(h, w)
    width = size * rng.uniform(0.035, 0.08)
    # the base sits on the left column's midpoint, the compositor's pivot, so any tilt keeps it at the edge
    _branch(cv, rng, (-2, h * 0.5), rng.normal(0, 12), w * rng.uniform(0.45, 0.6), width, 3, bark,
            size, rng.random() < 0.6, leaf_col)
    return cv.finish(), "side"
