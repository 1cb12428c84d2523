"""Squeeze-and-Excitation block (Hu et al., "Squeeze-and-Excitation Networks", CVPR 2018).

z = GAP(x); s = sigmoid(W2 · ReLU(W1 · z)); out = x ⊙ s (channel-wise). W1 reduces C to C/r, W2 restores C. The
paper's fusion module (Eq. 8) uses it to re-weight the concatenated [M·F_in, F_att1x1, F_att3x3] channels; it does
not give the reduction ratio, so the default is Hu et al.'s r = 16 (with at least 4 hidden units for small widths).
"""

from __future__ import annotations

import torch
from torch import nn


class SqueezeExcitation(nn.Module):
    def __init__(self, channels: int, reduction: int = 16, min_hidden: int = 4):
        super().__init__()
        hidden = max(min_hidden, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.mean(dim=(2, 3))  # squeeze: global average pooling
        s = torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))  # excitation
        return x * s[:, :, None, None].to(x.dtype)
