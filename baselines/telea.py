"""`telea`: fast-marching inpainting.

A. Telea, "An Image Inpainting Technique Based on the Fast Marching Method", Journal of Graphics Tools 9(1), 2004.
The hole is filled from its boundary inwards in fast-marching order; each pixel is a weighted average (direction,
distance and level-set weights) of the known pixels within `radius` of it. Implementation: OpenCV
`cv2.inpaint(..., cv2.INPAINT_TELEA)`; `radius` defaults to 3, the value of OpenCV's `samples/python/inpaint.py`.
"""

from __future__ import annotations

import cv2
import torch

from baselines._cv2 import cv2_inpaint_batch
from benchmark.methods import Method


class Telea(Method):
    name = "telea"
    description = "Fast-marching inpainting (Telea 2004) via OpenCV INPAINT_TELEA."
    presets = {"default": {"radius": 3}}

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return cv2_inpaint_batch(image, mask, self.config.get("radius", 3), cv2.INPAINT_TELEA)
