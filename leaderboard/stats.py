"""Statistics for the leaderboard: bootstrap confidence intervals and paired tests.

- Several runs (seeds) of one entry: the mean over runs with a 95% percentile-bootstrap interval
  (Efron & Tibshirani 1993, ch. 13): resample the per-run values with replacement `n_resamples` times
  (default 10,000) from a seeded generator, take the 2.5th and 97.5th percentiles of the resampled
  means. With one run there is no interval (None).
- Two entries on the same test images: a paired comparison over images from their per_image.csv.
  The test is the Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, two-sided, zero differences
  dropped as in Wilcoxon's original method), because per-image PSNR differences are rarely normal;
  the effect size is the mean per-image difference with a 95% paired percentile-bootstrap interval
  (resampling images). When an entry has several seeds, its per-image value is first averaged over
  seeds, so each image counts once. Comparisons against the best entry are Holm-adjusted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

N_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def _resampled_means(x: np.ndarray, n_resamples: int, rng: np.random.Generator, chunk: int = 1000) -> np.ndarray:
    """Means of `n_resamples` bootstrap resamples of x, drawn in chunks so memory stays bounded
    (1000 test images x 10,000 resamples would otherwise be an 80 MB index array)."""
    out = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        out[start:start + k] = x[rng.integers(0, x.size, size=(k, x.size))].mean(axis=1)
    return out


@dataclass(frozen=True)
class Estimate:
    mean: float
    lo: float | None  # 95% bootstrap interval (None with a single value)
    hi: float | None
    n: int


def bootstrap_ci(values, n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED,
                 confidence: float = 0.95) -> Estimate:
    """Mean and percentile-bootstrap interval of the mean. Deterministic for a given seed."""
    x = np.asarray([float(v) for v in values], dtype=np.float64)
    if x.size == 0:
        raise ValueError("bootstrap_ci needs at least one value")
    mean = float(x.mean())
    if x.size == 1:
        return Estimate(mean, None, None, 1)
    means = _resampled_means(x, n_resamples, np.random.default_rng(seed))
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return Estimate(mean, float(lo), float(hi), int(x.size))


@dataclass(frozen=True)
class PairedResult:
    metric: str
    a: str
    b: str
    n: int  # images in common
    mean_diff: float  # mean over images of (a - b)
    lo: float  # 95% paired-bootstrap interval of mean_diff
    hi: float
    p_value: float  # Wilcoxon signed-rank, two-sided
    test: str = "Wilcoxon signed-rank (two-sided)"


def paired_test(a: dict[str, float], b: dict[str, float], metric: str = "", names: tuple[str, str] = ("a", "b"),
                n_resamples: int = N_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> PairedResult | None:
    """Compare two entries image by image. `a`, `b`: image id -> value. None when fewer than 2 shared
    images have finite values in both."""
    from scipy.stats import wilcoxon

    ids = sorted(i for i in set(a) & set(b)
                 if a[i] is not None and b[i] is not None and math.isfinite(a[i]) and math.isfinite(b[i]))
    if len(ids) < 2:
        return None
    d = np.asarray([a[i] - b[i] for i in ids], dtype=np.float64)
    means = _resampled_means(d, n_resamples, np.random.default_rng(seed))
    lo, hi = np.quantile(means, [0.025, 0.975])
    if np.all(d == 0):
        p = 1.0  # identical outputs: nothing to test (scipy refuses all-zero differences)
    else:
        p = float(wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)
    return PairedResult(metric, names[0], names[1], len(ids), float(d.mean()), float(lo), float(hi), p)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order as given)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
