"""Shared conversion for the OpenCV-based baselines (`telea`, `navier-stokes`).

`cv2.inpaint` takes an 8-bit 3-channel image and an 8-bit 1-channel mask whose non-zero pixels are filled, and
returns an 8-bit image. The engine's tensors are float32 NCHW in [0, 1] with masks N1HW, 1 = hole, so we round to
uint8 at the boundary (the occluded input is 8-bit on disk, so the rounding is lossless for real data).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch


def to_uint8_hwc(image: torch.Tensor) -> np.ndarray:
    """3HW float in [0, 1] -> HxWx3 uint8 (round half to even, like torch.round)."""
    return (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def mask_to_uint8(mask: torch.Tensor) -> np.ndarray:
    """1HW float, 1 = hole -> HxW uint8, 255 = fill (OpenCV's 'non-zero = inpaint')."""
    return np.where(mask[0].detach().cpu().numpy() > 0.5, 255, 0).astype(np.uint8)


def cv2_inpaint_batch(image: torch.Tensor, mask: torch.Tensor, radius: float, flag: int) -> torch.Tensor:
    out = []
    for img, m in zip(image, mask):
        # OpenCV's sample works in BGR; inpaint treats the channels independently, so RGB in gives RGB out.
        filled = cv2.inpaint(np.ascontiguousarray(to_uint8_hwc(img)), mask_to_uint8(m), float(radius), flag)
        out.append(torch.from_numpy(filled).permute(2, 0, 1).float() / 255.0)
    return torch.stack(out).to(image.device)
