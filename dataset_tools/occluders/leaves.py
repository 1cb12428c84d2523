"""`leaves`: a cluster of broad leaves on a thin twig (anchor "free").

A curved twig carries 5-16 ovate/elliptic leaves on short petioles, alternating sides, each with a
curved midrib, rounded shading (leaf blades curl), mottling, and per-leaf colour variation (a few
leaves yellowing); some leaves overlap, like a spray of foliage hanging in front of the camera.
"""

from __future__ import annotations

import math

import numpy as np

from dataset_tools.occluders.draw import Canvas, bezier, jitter_color, leaf_midrib, leaf_polygon

ANCHOR = "free"


def make(rng: np.random.Generator, size: int) -> np.ndarray:
    s = int(size * rng.uniform(0.3, 0.55))
    cv = Canvas(s, s)
    base = (rng.uniform(55, 100), rng.uniform(105, 150), rng.uniform(30, 65))
    twig_a = rng.uniform(0, 360)
    r = s * 0.45
    c = (s / 2, s / 2)
    p0 = (c[0] - r * math.cos(math.radians(twig_a)), c[1] - r * math.sin(math.radians(twig_a)))
    p2 = (c[0] + r * 0.8 * math.cos(math.radians(twig_a)), c[1] + r * 0.8 * math.sin(math.radians(twig_a)))
    p1 = (c[0] + rng.normal(0, s * 0.1), c[1] + rng.normal(0, s * 0.1))
    twig = bezier(p0, p1, p2, 20)
    cv.stroke(twig, np.linspace(size * 0.012, size * 0.005, len(twig)), jitter_color(rng, (95, 75, 55)), rng=rng,
              round_shade=0.6)
    n = int(rng.integers(5, 17))
    for i in range(n):
        t = 0.1 + 0.9 * (i + rng.random() * 0.5) / n
        j = min(len(twig) - 2, int(t * (len(twig) - 1)))
        at = twig[j]
        d = twig[j + 1] - twig[j]
        ta = math.degrees(math.atan2(d[1], d[0]))
        side = 1 if i % 2 else -1
        la = ta + side * rng.uniform(30, 75)
        length = s * rng.uniform(0.22, 0.4) * (0.7 + 0.3 * t)
        width = length * rng.uniform(0.38, 0.55)
        pet = (at[0] + size * 0.015 * math.cos(math.radians(la)), at[1] + size * 0.015 * math.sin(math.radians(la)))
        cv.stroke([at, pet], size * 0.004, (90, 100, 50))
        col = jitter_color(rng, (160, 160, 60) if rng.random() < 0.12 else base, 14)
        bend = rng.uniform(-0.12, 0.12)
        cv.fill(leaf_polygon(pet, la, length, width, bend), col, rng=rng, round_shade=0.45, noise=0.08)
        cv.stroke(leaf_midrib(pet, la, length, bend), size * 0.003, tuple(min(255, v * 1.25) for v in col))
    return cv.finish()
