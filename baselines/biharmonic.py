"""`biharmonic`: biharmonic-equation inpainting.

S. B. Damelin, N. S. Hoang, "On Surface Completion and Image Inpainting by Biharmonic Functions: Numerical Aspects",
International Journal of Mathematics and Mathematical Sciences, 2018 (the reference of scikit-image's implementation).
Each hole pixel takes the value of the smooth function solving the biharmonic equation (Laplacian squared = 0) with
the known pixels around the hole as boundary conditions. Implementation: `skimage.restoration.inpaint_biharmonic`
with `channel_axis=-1` (each RGB channel solved on its own), on the float image in [0, 1]; `split_into_regions`
solves each connected hole separately (same result, less memory).
"""

from __future__ import annotations

import numpy as np
import torch
from skimage.restoration import inpaint_biharmonic

from benchmark.methods import Method


class Biharmonic(Method):
    name = "biharmonic"
    description = "Biharmonic-equation inpainting via scikit-image inpaint_biharmonic."
    presets = {"default": {"split_into_regions": True}}

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        out = []
        for img, m in zip(image, mask):
            arr = img.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy().astype(np.float64)
            hole = m[0].detach().cpu().numpy() > 0.5
            if hole.any():
                arr = inpaint_biharmonic(arr, hole, channel_axis=-1,
                                         split_into_regions=bool(self.config.get("split_into_regions", True)))
            out.append(torch.from_numpy(np.clip(arr, 0, 1)).permute(2, 0, 1).float())
        return torch.stack(out).to(image.device)
