"""Area-normalised L1 reconstruction losses (paper Eq. 1-2 for the coarse stage, Eq. 9-10 for the fine stage):

    L_valid = ||(I_out - I_g) ⊙ (1 - M)||_1 / Σ(1 - M)        L_hole = ||(I_out - I_g) ⊙ M||_1 / Σ M

M is 1 in the hole. The paper defines M with "the same dimensions as the panda image", so the sums run over the mask
broadcast to the image's channels: each loss is the mean absolute error over the region's pixels and channels (the
size-averaged L1 that Liu et al.'s author confirms, NVIDIA/partialconv#9). Each sample is normalised by its own area;
the batch value is the mean over the samples whose region is not empty (an all-visible or all-hole sample contributes
nothing instead of 0/0 = NaN), and 0 (still on the graph) if no sample has the region.
"""

from __future__ import annotations

import torch


def _region_l1(pred: torch.Tensor, target: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    if pred.shape != target.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} differ")
    region = region.float().expand_as(pred)
    diff = (pred.float() - target.float()).abs() * region
    total = diff.flatten(1).sum(1)
    area = region.flatten(1).sum(1)
    present = area > 0
    per_sample = total / area.clamp_min(1.0)
    n = present.sum()
    return (per_sample * present).sum() / n.clamp_min(1)


def valid_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 1 / 9: L1 over the visible region (mask == 0), normalised by its area."""
    return _region_l1(pred, target, 1.0 - mask)


def hole_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 2 / 10: L1 over the hole (mask == 1), normalised by its area."""
    return _region_l1(pred, target, mask)
