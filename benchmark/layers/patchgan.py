"""Critics for WGAN-GP (Gulrajani et al. 2017): the paper's dual PatchGAN critics D_L and D_S (Sec. 2.2.2, Fig. 3), a
single PatchGAN for the fine stage (Sec. 2.3.1, Fig. 4) and an ordinary whole-image critic (the paper's `model2`).

Shapes fixed by the paper at 224x224x3 (Fig. 3 caption), tested in tests/test_layers.py:
- D_L, seven convolutions: 224x224x3 -> 7x7x256. Five 4x4 stride-2 convolutions (64, 128, 256, 256, 256 channels;
  224 / 2^5 = 7) then two 3x3 stride-1 convolutions at 256 channels.
- D_S, five convolutions: 224x224x3 -> 14x14x256. Four 4x4 stride-2 convolutions (64, 128, 256, 256; 224 / 2^4 = 14)
  then one 3x3 stride-1 convolution at 256 channels.
Kernel sizes and the channel ramp are pix2pix's (Isola et al. 2017); the paper gives only the layer counts and the
in/out shapes.

Choices where the paper is silent:
- Normalisation: none. BatchNorm breaks the per-sample gradient penalty of WGAN-GP (Gulrajani et al. Sec. 4); DeepFill
  v1's WGAN-GP critics also use none.
- Activation: LeakyReLU(0.2) after every convolution but the last, which is linear.
- Scores: the last convolution's 256 channels are averaged into one Wasserstein score per patch, giving a 7x7 (D_L)
  or 14x14 (D_S) map of patch scores; the WGAN loss averages them. Averaging the channels of a linear convolution is a
  linear projection to one channel (an 8th 1x1 layer with fixed weights), so the paper's layer count and 256-channel
  shape stay as stated. `forward` returns the (N, 1, h, w) score map; `features` the 256-channel map.
- Fine-stage PatchGAN: the paper does not describe it beyond "PatchGAN"; it is pix2pix's 70x70 PatchGAN
  (C64-C128-C256-C512 with 4x4 kernels, strides 2, 2, 2, 1, then a 4x4 stride-1 convolution to one score channel).
- `model2`'s "ordinary discriminator" (one score per image): the D_L trunk followed by a linear layer over the
  flattened final map, so it sees the whole image at once (the global critic of DeepFill v1 is built the same way).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv(cin: int, cout: int, k: int, s: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, s, padding=1)


class PatchCritic(nn.Module):
    """A stack of convolutions with LeakyReLU(0.2) between them; scores = mean over the last layer's channels."""

    def __init__(self, in_channels: int, specs: list[tuple[int, int, int]]):
        super().__init__()
        layers: list[nn.Module] = []
        cin = in_channels
        for i, (cout, k, s) in enumerate(specs):
            layers.append(_conv(cin, cout, k, s))
            if i < len(specs) - 1:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin = cout
        self.net = nn.Sequential(*layers)
        self.num_convs = len(specs)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=1, keepdim=True)


def large_patch_critic(in_channels: int = 3, width: int = 64) -> PatchCritic:
    """D_L: seven convolutions, 224x224x3 -> 7x7x(4·width) (= 7x7x256 at the paper's width 64)."""
    w = width
    top = 4 * w
    return PatchCritic(in_channels, [(w, 4, 2), (2 * w, 4, 2), (top, 4, 2), (top, 4, 2), (top, 4, 2),
                                     (top, 3, 1), (top, 3, 1)])


def small_patch_critic(in_channels: int = 3, width: int = 64) -> PatchCritic:
    """D_S: five convolutions, 224x224x3 -> 14x14x(4·width) (= 14x14x256 at width 64)."""
    w = width
    top = 4 * w
    return PatchCritic(in_channels, [(w, 4, 2), (2 * w, 4, 2), (top, 4, 2), (top, 4, 2), (top, 3, 1)])


def pix2pix_patch_critic(in_channels: int = 3, width: int = 64) -> PatchCritic:
    """pix2pix's 70x70 PatchGAN without normalisation, one score channel (the fine stage's critic)."""
    w = width
    return PatchCritic(in_channels, [(w, 4, 2), (2 * w, 4, 2), (4 * w, 4, 2), (8 * w, 4, 1), (1, 4, 1)])


class GlobalCritic(nn.Module):
    """Ordinary (non-patch) critic: the D_L trunk, then a linear layer from the flattened map to one score per image."""

    def __init__(self, image_size: int, in_channels: int = 3, width: int = 64):
        super().__init__()
        self.trunk = large_patch_critic(in_channels, width).net
        with torch.no_grad():
            n = self.trunk(torch.zeros(1, in_channels, image_size, image_size)).numel()
        self.act = nn.LeakyReLU(0.2)
        self.fc = nn.Linear(n, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.act(self.trunk(x)).flatten(1))
