"""Structural similarity (Wang, Bovik, Sheikh & Simoncelli, IEEE TIP 2004, eq. 13), vectorised in torch.

Settings are those of Wang et al. as scikit-image's docstring spells them out, so a value here equals
`skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1.0, channel_axis=-1)` (tests check ~1e-6):

- Gaussian window, sigma = 1.5, truncated at 3.5 sigma -> radius 5, 11 taps (scipy.ndimage's
  `gaussian_filter` kernel, normalised to sum 1); separable;
- local statistics with **population** covariance (no N/(N-1) correction);
- C1 = (0.01 * R)^2, C2 = (0.03 * R)^2 with data range R = 1 (8-bit images scaled to [0, 1]);
- the SSIM map is **cropped** by the window radius on every side (skimage computes the map with
  reflect padding, then discards those border pixels; a "valid" convolution gives exactly the kept
  pixels), averaged over the map, then **averaged over the three RGB channels**;
- per image, then averaged over images by the caller.

Everything runs in float64: sigma_x^2 = E[x^2] - E[x]^2 cancels badly in float32 (errors ~1e-4).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.metrics._images import image_batch

__all__ = ["SSIM_SETTINGS", "gaussian_kernel1d", "ssim", "ssim_torch"]

SIGMA = 1.5
TRUNCATE = 3.5
RADIUS = int(TRUNCATE * SIGMA + 0.5)  # = 5, as scipy.ndimage.gaussian_filter computes it
WIN = 2 * RADIUS + 1  # = 11
K1, K2 = 0.01, 0.03

SSIM_SETTINGS = {
    "window": "gaussian", "size": WIN, "sigma": SIGMA, "covariance": "population", "data_range": 1.0,
    "K1": K1, "K2": K2, "border": f"cropped by {RADIUS} px (as skimage)", "channels": "mean over RGB",
    "aggregate": "mean over images", "dtype": "float64",
    "implementation": "benchmark.metrics.ssim (torch), equal to skimage.metrics.structural_similarity("
                      "gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, "
                      "channel_axis=-1) to ~1e-6",
}


def gaussian_kernel1d(sigma: float = SIGMA, radius: int = RADIUS) -> torch.Tensor:
    """scipy.ndimage's Gaussian taps: exp(-x^2 / (2 sigma^2)) for x in [-radius, radius], sum 1."""
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 / sigma**2 * x**2)
    return k / k.sum()


def _band(n: int, device: torch.device) -> torch.Tensor:
    """(n - 10, n) matrix whose rows are the Gaussian taps shifted by one: B @ v is the "valid" 1-D filter."""
    k = gaussian_kernel1d().to(device)
    rows = torch.arange(n - WIN + 1, device=device)
    band = torch.zeros(n - WIN + 1, n, dtype=torch.float64, device=device)
    band[rows[:, None], rows[:, None] + torch.arange(WIN, device=device)] = k
    return band


def ssim_torch(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Per-image SSIM of float tensors (N, C, H, W) in [0, data_range]; returns (N,) float64.

    The five local moments (x, y, x^2, y^2, xy) of every channel are filtered at once. The separable
    "valid" Gaussian filter is written as two banded matrix products, Bv @ M @ Bh^T: float64 conv2d has
    no fast CPU kernel, while float64 GEMM does (about 12x faster at 256 px, same values to 1e-15).
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ssim expects two (N, C, H, W) tensors of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    n, c, h, w = x.shape
    if h < WIN or w < WIN:
        raise ValueError(f"SSIM needs images of at least {WIN}x{WIN} pixels, got {h}x{w}")
    x = x.to(torch.float64)
    y = y.to(torch.float64)
    stack = torch.stack([x, y, x * x, y * y, x * y], dim=2)  # (N, C, 5, H, W)
    # "valid" filtering == skimage's reflect-padded filter followed by the crop of RADIUS pixels
    filt = _band(h, x.device) @ stack @ _band(w, x.device).T
    ux, uy, uxx, uyy, uxy = filt.unbind(dim=2)
    vx = uxx - ux * ux  # population (biased) variances and covariance: cov_norm = 1
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    per_channel = s.reshape(n, c, -1).mean(dim=2)
    return per_channel.mean(dim=1)


def ssim(pred: np.ndarray, target: np.ndarray, batch_size: int = 8, device: str | torch.device = "cpu") -> np.ndarray:
    """Per-image SSIM of uint8 RGB images (N, H, W, 3) or (H, W, 3), scaled to [0, 1]. float64 (N,)."""
    p, t, single = image_batch(pred, target, "ssim")
    out = np.empty(len(p), dtype=np.float64)
    for i in range(0, len(p), batch_size):
        a = torch.from_numpy(np.ascontiguousarray(p[i:i + batch_size])).to(device).permute(0, 3, 1, 2)
        b = torch.from_numpy(np.ascontiguousarray(t[i:i + batch_size])).to(device).permute(0, 3, 1, 2)
        out[i:i + batch_size] = ssim_torch(a.double() / 255.0, b.double() / 255.0).cpu().numpy()
    return out[0] if single else out
