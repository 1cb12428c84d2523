"""Partial convolution (Liu et al., "Image Inpainting for Irregular Holes Using Partial Convolutions", ECCV 2018).

    x' = W^T (X ⊙ M) · window / sum(M) + b    if sum(M) > 0
    x' = 0                                    otherwise
    m' = 1 if sum(M) > 0 else 0

`M` is the validity mask of the window (**1 = valid**, the PConv convention; callers that hold a hole mask pass
`1 - hole`). Two mask layouts are accepted and the window follows NVIDIA's `partialconv2d.py`:

- a single-channel mask (N,1,H,W) broadcast over the input channels (`multi_channel=False`): window = kH·kW and
  sum(M) counts valid pixels;
- a per-channel mask (N,C_in,H,W) (`multi_channel=True`): window = C_in·kH·kW and sum(M) counts valid input
  elements. The U-Net decoder uses this form, because it concatenates the masks of the skip connection and of the
  up-sampled features along with the features (Liu et al. Sec. 3.2).

Both give the paper's formula for a broadcast mask (C_in·k²/(C_in·sum) = k²/sum). The updated mask is always
single-channel (N,1,H',W'): "any valid input in the window" is the same for every output channel.

Differences from the reference code, each on purpose:
- No cached ratio or mask (NVIDIA recomputes only when the shape changes, which is wrong for a new mask of the same
  shape and not DataParallel-safe); every call computes from the mask it is given.
- The bias is added after the re-normalisation and multiplied by the update mask, so a window with no valid input
  gives exactly 0 (NVIDIA's `((raw - b)·ratio + b)·update_mask`, issue #6), with or without a bias.
- The ones-kernel is a non-persistent buffer (moves with `.to()`, never in a state dict; NVIDIA #28).
- The mask arithmetic runs in float32 even under autocast; sum(M) is a count of valid elements (≥ 1 where it is
  positive for a binary mask), so dividing by `clamp_min(sum, 1)` needs no fp16/bf16-sized epsilon. Masks must be
  binary (nearest resizing keeps them so).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class PartialConv2d(nn.Conv2d):
    """`nn.Conv2d` whose forward takes `(x, mask)` (mask 1 = valid) and returns `(x', mask')`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.groups != 1:
            raise ValueError("PartialConv2d supports groups=1 only")
        if self.padding_mode != "zeros":
            raise ValueError("PartialConv2d supports zero padding only (padded pixels are invalid)")
        kh, kw = self.kernel_size
        self.register_buffer("ones_kernel", torch.ones(1, 1, kh, kw), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if mask.dim() != 4 or mask.shape[0] != x.shape[0] or mask.shape[2:] != x.shape[2:]:
            raise ValueError(f"mask shape {tuple(mask.shape)} does not match input {tuple(x.shape)}")
        c_mask = mask.shape[1]
        if c_mask not in (1, x.shape[1]):
            raise ValueError(f"mask must have 1 or {x.shape[1]} channels, got {c_mask}")
        kh, kw = self.kernel_size
        window = float(c_mask * kh * kw)
        with torch.autocast(device_type=x.device.type, enabled=False):
            m = mask.float()
            # Count of valid elements per output window: conv of the channel-summed mask with a ones kernel.
            count = F.conv2d(m.sum(dim=1, keepdim=True), self.ones_kernel, None, self.stride, self.padding, self.dilation)
            update = (count > 0).float()
            ratio = window / count.clamp_min(1.0) * update
        raw = F.conv2d(x * mask.to(x.dtype), self.weight, None, self.stride, self.padding, self.dilation)
        out = raw * ratio.to(raw.dtype)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1).to(out.dtype) * update.to(out.dtype)
        return out, update
