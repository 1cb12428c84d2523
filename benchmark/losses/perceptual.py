"""VGG16 perceptual and style losses (paper Eq. 12-13; Johnson et al. 2016, Gatys et al. 2016, as used by Liu et al.
2018 for partial-convolution inpainting).

    L_per = Σ_l ||Φ_l(I_out) - Φ_l(I_g)||_1          L_sty = Σ_l ||G_l(I_out) - G_l(I_g)||_1

Φ_l are the outputs of VGG16's pool1, pool2 and pool3 (`torchvision.models.vgg16().features[:5]`, `[5:10]`,
`[10:17]`, as naoto0804's and NVIDIA's PConv code and mmagic), frozen, on ImageNet-normalised RGB input in [0, 1].
G_l = F·Fᵀ / (C·H·W) with F the (B, C, H·W) feature map (the normalisation of Liu et al. Eq. 4-5); the Gram product
runs in float32 even under autocast. Each ||·||_1 is size-averaged (mean absolute difference), per Liu et al.'s author
(NVIDIA/partialconv#9). The paper applies both to the raw fine output I_out (not to the composite, which Liu et al.
also use), and so does this module.

Weights: torchvision's ImageNet VGG16 (`vgg16-397923af.pth`) from torchvision's standard cache
(`$TORCH_HOME/hub/checkpoints/`, `~/.cache/torch/hub/checkpoints/` by default) or an explicit path. Never downloaded
at run time. Missing weights are a `UserError` unless the caller allows a random-initialised VGG (the `smoke` preset),
in which case `VGGFeatures.note` says so, and that note must travel to results.json: a loss computed with random
weights is not a perceptual loss.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from dataset_tools.errors import UserError

VGG16_FILENAME = "vgg16-397923af.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_vgg16_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG16_FILENAME


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


class VGGFeatures(nn.Module):
    """Frozen VGG16 pool1/pool2/pool3 extractor. `note` describes the weights; `sha256` is None for random weights."""

    def __init__(self, weights_path: str | os.PathLike | None = None, allow_random: bool = False):
        super().__init__()
        # Only the convolutional trunk (the 120M-parameter classifier is never used): torchvision's own builder.
        from torchvision.models.vgg import cfgs, make_layers

        with torch.random.fork_rng(devices=[]):  # a fixed init that leaves the caller's RNG untouched
            torch.manual_seed(0)
            feats = make_layers(cfgs["D"], batch_norm=False)
        path = Path(weights_path) if weights_path else default_vgg16_path()
        self.sha256: str | None = None
        if path.is_file():
            try:
                state = torch.load(path, map_location="cpu", weights_only=True)
                feats.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
            except Exception as e:  # noqa: BLE001 - any failure here is a bad file the user supplied
                raise UserError(f"cannot load VGG16 weights from {path}: {e}") from None
            self.sha256 = _sha256_file(path)
            self.note = f"ImageNet VGG16 from {path}"
        elif weights_path:
            raise UserError(f"VGG16 weights file {path} does not exist")
        elif allow_random:
            self.note = (
                f"random-init VGG16 (no weights at {path}); the perceptual and style terms are NOT the paper's losses"
            )
        else:
            raise UserError(
                f"VGG16 ImageNet weights not found: put torchvision's {VGG16_FILENAME} at {path} "
                f"(or set TORCH_HOME, or pass --vgg-weights PATH)"
            )
        self.slices = nn.ModuleList([feats[:5], feats[5:10], feats[10:17]])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):  # always frozen, always eval
        return super().train(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        out = []
        for s in self.slices:
            h = s(h)
            out.append(h)
        return out


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """F·Fᵀ / (C·H·W) in float32; the scaling is applied before the product to keep magnitudes small."""
    b, c, h, w = feat.shape
    f = feat.float().reshape(b, c, h * w)
    with torch.autocast(device_type=feat.device.type, enabled=False):
        return torch.bmm(f / (c * h * w), f.transpose(1, 2))


def perceptual_style_losses(vgg: VGGFeatures, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(L_per, L_sty) of Eq. 12-13, summed over pool1-3, each term a mean absolute difference."""
    fp = vgg(pred)
    with torch.no_grad():
        ft = vgg(target)
    per = sum((a.float() - b.float()).abs().mean() for a, b in zip(fp, ft))
    sty = sum((gram_matrix(a) - gram_matrix(b)).abs().mean() for a, b in zip(fp, ft))
    return per, sty
