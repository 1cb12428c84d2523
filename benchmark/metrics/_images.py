"""Input handling shared by the per-image metrics (PSNR, SSIM, L1): 8-bit RGB, one image or a batch."""

from __future__ import annotations

import numpy as np


def image_batch(pred: np.ndarray, target: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(pred, target) as uint8 (N, H, W, 3) batches, and whether a single (H, W, 3) image was given.
    Raises TypeError for non-8-bit input and ValueError for mismatched shapes."""
    if pred.dtype != np.uint8 or target.dtype != np.uint8:
        raise TypeError(f"{metric} expects 8-bit images, got {pred.dtype} and {target.dtype}")
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch {pred.shape} vs {target.shape}")
    single = pred.ndim == 3
    return (pred[None], target[None], True) if single else (pred, target, False)


def hole_batch(mask: np.ndarray, single: bool, n_h_w: tuple[int, ...]) -> np.ndarray:
    """The hole mask (True = hole) as a bool (N, H, W) batch matching the images."""
    m = np.asarray(mask).astype(bool)
    m = m[None] if single else m
    if m.shape != tuple(n_h_w):
        raise ValueError(f"mask shape {m.shape} does not match images {tuple(n_h_w)}")
    return m
