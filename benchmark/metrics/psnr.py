"""Peak signal-to-noise ratio, whole image and hole only.

Protocol (the issue's "Metrics" section; see ../shared/notes/metrics-and-training.md §4):
- images are 8-bit RGB scaled to [0, 1] (data range 1), compared in float64;
- PSNR is computed **per image** and then averaged over images (a mean of logs; torchmetrics' default
  instead pools the squared error over the whole set, which gives a different number);
- whole image: MSE over all H*W*3 values; hole only: MSE = sum((out - gt)^2 * M) / (3 * sum(M)) over the
  hole's pixels and the three channels, as in the notes' hole-only formula.

Identical images (MSE = 0) have PSNR = +inf, which JSON cannot hold and which would make any mean
infinite. Each per-image value is therefore capped at `PSNR_CAP_DB` = 100 dB before averaging, and the
number of capped images is reported (`count_capped`). 100 dB is the cap several evaluation codes use;
it lies above the largest finite 8-bit PSNR of images up to ~64k pixels (one value off by one in a
64x64x3 image gives 89 dB; in 256x256x3, 101 dB -- so at 256 px a single off-by-one value and a
perfect image both report 100 dB: a deliberate, stated tie).
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics._images import hole_batch, image_batch

__all__ = ["PSNR_CAP_DB", "mse", "psnr_from_mse", "psnr", "count_capped"]

PSNR_CAP_DB = 100.0


def mse(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-image MSE on [0, 1] values.

    pred, target: uint8 (N, H, W, 3) or (H, W, 3). mask: None (whole image) or bool/0-1 (N, H, W) /
    (H, W), True = hole. Returns float64 (N,) (or a 0-d array for one image); NaN where a mask is empty.
    """
    p, t, single = image_batch(pred, target, "PSNR")
    sq = (p.astype(np.float64) / 255.0 - t.astype(np.float64) / 255.0) ** 2
    if mask is None:
        out = sq.reshape(len(sq), -1).mean(axis=1)
    else:
        m = hole_batch(mask, single, sq.shape[:3])
        count = m.reshape(len(m), -1).sum(axis=1) * sq.shape[3]
        total = (sq * m[..., None]).reshape(len(sq), -1).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out[0] if single else out


def psnr_from_mse(m: np.ndarray | float, data_range: float = 1.0, cap: float = PSNR_CAP_DB) -> np.ndarray:
    """10 log10(R^2 / MSE), capped at `cap` dB (MSE = 0 -> cap). NaN stays NaN (empty hole)."""
    m = np.asarray(m, dtype=np.float64)
    with np.errstate(divide="ignore"):
        val = 10.0 * np.log10(data_range**2 / m)
    return np.where(np.isnan(m), np.nan, np.minimum(val, cap))


def psnr(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Per-image PSNR in dB (capped); see the module docstring."""
    return psnr_from_mse(mse(pred, target, mask))


def count_capped(values: np.ndarray) -> int:
    """How many per-image PSNR values hit the cap (identical images, or closer than the cap)."""
    v = np.asarray(values, dtype=np.float64)
    return int(np.sum(v >= PSNR_CAP_DB))
