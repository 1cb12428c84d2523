"""`flowers`: a small clump of flowering plants (anchor "free").

2-6 stems curve up from the clump's base; each ends in a flower head of 5-9 petals (elliptic, shaded
toward the centre) around a contrasting disc, and carries a couple of narrow leaves. Colours come from
a palette of common wildflowers (white, yellow, pink, purple, red, orange), one hue per clump.
"""

from __future__ import annotations

import math

import numpy as np

from dataset_tools.occluders.draw import Canvas, bezier, jitter_color, leaf_polygon

ANCHOR = "free"
PALETTE = [(240, 238, 228), (242, 205, 55), (232, 140, 175), (150, 95, 195), (205, 45, 55), (240, 140, 40)]
DISCS = [(235, 190, 40), (120, 80, 35), (200, 160, 40)]


def make(rng: np.random.Generator, size: int) -> np.ndarray:
    s = int(size * rng.uniform(0.3, 0.5))
    cv = Canvas(s, s)
    petal = PALETTE[int(rng.integers(len(PALETTE)))]
    disc = DISCS[int(rng.integers(len(DISCS)))]
    stem = (rng.uniform(60, 95), rng.uniform(110, 140), rng.uniform(40, 65))
    n = int(rng.integers(2, 7))
    base = (s * rng.uniform(0.4, 0.6), s + 2)
    heads = []
    for _ in range(n):
        hx = float(np.clip(base[0] + rng.normal(0, s * 0.22), s * 0.12, s * 0.88))
        hy = s * rng.uniform(0.12, 0.55)
        ctrl = ((base[0] + hx) / 2 + rng.normal(0, s * 0.08), (base[1] + hy) / 2)
        pts = bezier(base, ctrl, (hx, hy), 16)
        cv.stroke(pts, np.linspace(size * 0.009, size * 0.005, len(pts)), jitter_color(rng, stem, 8), rng=rng, round_shade=0.5)
        for _k in range(int(rng.integers(1, 3))):
            j = int(rng.integers(3, len(pts) // 2 + 3))
            la = -90 + (1 if rng.random() < 0.5 else -1) * rng.uniform(30, 70)
            ln = s * rng.uniform(0.15, 0.3)
            cv.fill(leaf_polygon(pts[j], la, ln, ln * 0.22, rng.uniform(-0.1, 0.1)), jitter_color(rng, stem, 10),
                    rng=rng, round_shade=0.4)
        heads.append((hx, hy))
    for hx, hy in heads:
        r = size * rng.uniform(0.025, 0.05)
        k = int(rng.integers(5, 10))
        rot = rng.uniform(0, 360)
        col = jitter_color(rng, petal, 10)
        for i in range(k):
            a = rot + 360 * i / k + rng.normal(0, 6)
            pc = (hx + r * 0.55 * math.cos(math.radians(a)), hy + r * 0.55 * math.sin(math.radians(a)) * 0.8)
            cv.fill(cv.ellipse_pts(pc, (r * 0.55, r * 0.26), a, 24), jitter_color(rng, col, 6), rng=rng,
                    round_shade=0.35, noise=0.04)
        cv.fill(cv.ellipse_pts((hx, hy), (r * 0.3, r * 0.26), 0, 20), jitter_color(rng, disc, 8), rng=rng,
                round_shade=0.5, noise=0.15)
    return cv.finish()
