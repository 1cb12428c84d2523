"""`occluded`: the identity baseline — the occluded input returned unchanged.

This is the "Occluded images" row of the paper's Table 1 (Dong et al., ICIC 2025): the scores of doing nothing, the
floor every inpainting method must beat inside the hole.
"""

from __future__ import annotations

import torch

from benchmark.methods import Method


class Occluded(Method):
    name = "occluded"
    description = "Returns the occluded input unchanged (the paper's 'Occluded images' row)."

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return image.clone()
