"""Kernel Inception Distance (Bińkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs",
ICLR 2018, eq. 3 / §4): the unbiased estimate of the squared MMD with the cubic polynomial kernel

    k(x, y) = (x . y / d + 1)^3,        d = feature dimension (2048)

    MMD^2_u = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(m(m-1)) sum_{i!=j} k(y_i, y_j) - 2/m^2 sum_{i,j} k(x_i, y_j)

averaged over `subsets` random subsets of size m drawn without replacement from each set (defaults:
100 subsets of min(1000, n), as torch-fidelity, torchmetrics and clean-fid; the subset size never
exceeds n, so small test sets work). Reported as mean and population std (ddof=0, as torch-fidelity)
over subsets, unscaled (x1, not x1000). Subsets come from `numpy.random.default_rng(seed)`, so the value
is deterministic. Being unbiased, it can be slightly negative for similar sets. When m = n every
subset is the whole set (a permutation), so all subsets agree and the std is 0.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KID_DEFAULT_SUBSETS", "KID_DEFAULT_SUBSET_SIZE", "polynomial_kernel", "mmd2_unbiased", "kid"]

KID_DEFAULT_SUBSETS = 100
KID_DEFAULT_SUBSET_SIZE = 1000
DEGREE = 3
_FULL_KERNEL_MAX = 4096  # up to 3 x 4096^2 float64 = 400 MB of kernel matrices


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = DEGREE) -> np.ndarray:
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 between two equal-size samples (m, d), with the cubic polynomial kernel."""
    m = len(x)
    if len(y) != m or m < 2:
        raise ValueError("mmd2_unbiased needs two samples of equal size >= 2")
    return _mmd2_from_kernels(polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y))


def _mmd2_from_kernels(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m = len(kxx)
    a = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(a - 2.0 * kxy.sum() / (m * m))


def kid(feats1: np.ndarray, feats2: np.ndarray, subset_size: int | None = None,
        subsets: int = KID_DEFAULT_SUBSETS, seed: int = 0) -> tuple[float, float, int]:
    """(mean, std, subset size used) of MMD^2_u over random subsets; float64 throughout."""
    f1, f2 = np.asarray(feats1, np.float64), np.asarray(feats2, np.float64)
    n = min(len(f1), len(f2))
    m = min(KID_DEFAULT_SUBSET_SIZE if subset_size is None else int(subset_size), n)
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {n}")
    rng = np.random.default_rng(seed)
    vals = np.empty(subsets, dtype=np.float64)
    # For test sets of a few thousand images, the three full kernel matrices (computed once) are cheaper
    # than 100 x 3 subset products of 2048-d features; subsets then just index them. Same estimator.
    full = max(len(f1), len(f2)) <= _FULL_KERNEL_MAX
    if full:
        kxx_f, kyy_f, kxy_f = polynomial_kernel(f1, f1), polynomial_kernel(f2, f2), polynomial_kernel(f1, f2)
    for i in range(subsets):
        ix = rng.choice(len(f1), m, replace=False)
        iy = rng.choice(len(f2), m, replace=False)
        if full:
            vals[i] = _mmd2_from_kernels(kxx_f[np.ix_(ix, ix)], kyy_f[np.ix_(iy, iy)], kxy_f[np.ix_(ix, iy)])
        else:
            vals[i] = mmd2_unbiased(f1[ix], f2[iy])
    return float(vals.mean()), float(vals.std()), m
