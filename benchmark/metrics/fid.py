"""Fréchet Inception Distance (Heusel et al., NeurIPS 2017, "GANs trained by a two time-scale update
rule converge to a local Nash equilibrium", eq. 6):

    FID = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2))

between Gaussians fitted to 2048-d pytorch-fid Inception features of the composited outputs and of the
ground truths of the same test samples (paired, equal size, as LaMa does). Everything in float64; the
matrix square root is `scipy.linalg.sqrtm`, and when it is not finite the product is recomputed with
`eps` added to both covariance diagonals, exactly as `pytorch_fid.fid_score.calculate_frechet_distance`
(0.3.0) does; a residual imaginary part larger than 1e-3 on the diagonal is an error there and here.
Covariances are `np.cov(rowvar=False)` (sample covariance, N-1), as pytorch-fid computes them.

With N < 2048 test images the covariances are rank-deficient and FID is biased upwards and depends on
N (Chong & Forsyth, CVPR 2020): compare FIDs only at equal N; KID (kid.py) is the unbiased companion.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

__all__ = ["feature_statistics", "frechet_distance", "fid_from_features"]


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and sample covariance (D, D) of (N, D) features, float64 (pytorch-fid's definition)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least 2 feature vectors (N, D), got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (pytorch-fid's algorithm)."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("mean vectors and covariances must have matching shapes")
    diff = mu1 - mu2
    with warnings.catch_warnings():
        # SciPy >= 1.16 warns on singular input instead of returning inf; the finiteness test below is
        # pytorch-fid's criterion for adding eps, kept unchanged so numbers match it.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(sigma1.dot(sigma2))
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"matrix square root has an imaginary component {np.max(np.abs(covmean.imag)):.3g}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray) -> float:
    mu1, s1 = feature_statistics(feats1)
    mu2, s2 = feature_statistics(feats2)
    return frechet_distance(mu1, s1, mu2, s2)
