"""`navier-stokes`: fluid-dynamics inpainting.

M. Bertalmio, A. L. Bertozzi, G. Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and Video Inpainting", CVPR 2001.
Image intensity is treated as a stream function: isophotes (lines of equal intensity) are continued into the hole
by solving a transport equation with anisotropic diffusion, the analogue of incompressible Navier-Stokes flow.
Implementation: OpenCV `cv2.inpaint(..., cv2.INPAINT_NS)`; `radius` (the neighbourhood considered) defaults to 3,
the value of OpenCV's `samples/python/inpaint.py`.
"""

from __future__ import annotations

import cv2
import torch

from baselines._cv2 import cv2_inpaint_batch
from benchmark.methods import Method


class NavierStokes(Method):
    name = "navier-stokes"
    description = "Navier-Stokes fluid-dynamics inpainting (Bertalmio et al. 2001) via OpenCV INPAINT_NS."
    presets = {"default": {"radius": 3}}

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return cv2_inpaint_batch(image, mask, self.config.get("radius", 3), cv2.INPAINT_NS)
