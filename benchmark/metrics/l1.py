"""Mean absolute error inside the hole.

L1_hole = sum(|out - gt| * M) / (3 * sum(M)) on 8-bit RGB scaled to [0, 1]: the mean over the hole's
pixels and the three channels, per image, then averaged over images. (MMagic reports the same quantity
x100 and calls it MAE; we keep [0, 1] units.) An image with an empty hole has no value (NaN) and is
left out of the mean.
"""

from __future__ import annotations

import numpy as np

from benchmark.metrics._images import hole_batch, image_batch

__all__ = ["l1_hole"]


def l1_hole(pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """pred, target: uint8 (N, H, W, 3) or (H, W, 3); mask bool/0-1 (N, H, W) or (H, W), True = hole."""
    p, t, single = image_batch(pred, target, "l1_hole")
    m = hole_batch(mask, single, p.shape[:3])
    # integer arithmetic is exact; divide once at the end
    diff = np.abs(p.astype(np.int32) - t.astype(np.int32)) * m[..., None]
    total = diff.reshape(len(p), -1).sum(axis=1).astype(np.float64) / 255.0
    count = m.reshape(len(m), -1).sum(axis=1) * p.shape[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return out[0] if single else out
