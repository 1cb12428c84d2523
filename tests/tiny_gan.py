"""Test support for the engine: a tiny learnable method (`--method tiny_gan:TinyGAN` with PYTHONPATH=tests) and a
hand-made built-dataset writer (used when the real builder's `tiny_dataset` fixture is not available).

TinyGAN is a real (if minuscule) WGAN-GP inpainter: a two-layer convolutional generator fed the occluded image and
the mask, and a two-layer critic; two phases like the paper's model ("pre" = L1 only, "gan" = L1 + adversarial with
the critic trained by WGAN-GP), so the trainer's phases, several optimisers, the gradient penalty under DDP and
checkpointing of all of it are exercised in seconds on CPU.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from benchmark.losses.gan import gradient_penalty, wgan_critic_loss, wgan_generator_loss
from benchmark.methods import LearnableMethod, StepContext, unwrap


class TinyGenerator(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        # BatchNorm: its running statistics are buffers, which DDP ranks must end up agreeing on
        self.net = nn.Sequential(nn.Conv2d(4, width, 3, padding=1), nn.BatchNorm2d(width), nn.LeakyReLU(0.2),
                                 nn.Conv2d(width, 3, 3, padding=1))

    def forward(self, occluded: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(torch.cat([occluded * (1 - mask), mask], dim=1)))


class TinyCritic(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(width, 1, 4, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TinyGAN(LearnableMethod):
    name = "tiny_gan"
    description = "Two-layer generator + WGAN-GP critic (engine tests only)."
    presets = {
        "paper": {"width": 16, "lr_g": 1e-3, "lr_d": 1e-3, "gp_weight": 10.0, "adv_weight": 0.1,
                  "epochs_pre": 1, "epochs_gan": 2, "image_size": None, "batch_size": 4, "nan_at_step": -1,
                  "variant": "tiny_gan", "vgg_weights": None, "step_sleep": 0.0},
        "smoke": {"width": 4, "lr_g": 1e-3, "lr_d": 1e-3, "gp_weight": 10.0, "adv_weight": 0.1,
                  "epochs_pre": 1, "epochs_gan": 2, "image_size": 32, "batch_size": 4, "nan_at_step": -1,
                  "variant": "tiny_gan", "vgg_weights": None, "step_sleep": 0.0},
    }
    default_preset = "smoke"

    def build(self) -> None:
        c = self.config
        self.networks = {"generator": TinyGenerator(c["width"]).to(self.device),
                         "critic": TinyCritic(c["width"]).to(self.device)}
        self.optimizers = {
            "generator": torch.optim.Adam(self.networks["generator"].parameters(), lr=c["lr_g"], betas=(0.5, 0.9)),
            "critic": torch.optim.Adam(self.networks["critic"].parameters(), lr=c["lr_d"], betas=(0.5, 0.9)),
        }

    def phases(self) -> list[tuple[str, int]]:
        return [("pre", int(self.config["epochs_pre"])), ("gan", int(self.config["epochs_gan"]))]

    def train_step(self, batch: dict[str, torch.Tensor], ctx: StepContext) -> dict[str, float]:
        G, Dn = self.networks["generator"], self.networks["critic"]
        gt, occ, mask = batch["image"], batch["occluded"], batch["mask"]
        losses = {}
        if ctx.phase == "gan":
            with torch.no_grad():
                fake = G(occ, mask)
            fake = fake * mask + occ * (1 - mask)
            d_loss = wgan_critic_loss(Dn(gt), Dn(fake))
            gp = gradient_penalty(Dn, gt, fake, generator=ctx.generator)
            self.optimizers["critic"].zero_grad(set_to_none=True)
            (d_loss + self.config["gp_weight"] * gp).backward()
            self.optimizers["critic"].step()
            losses.update(d_loss=d_loss.item(), gp=gp.item())
        out = G(occ, mask)
        l1 = (out - gt).abs().mean()
        g_loss = l1
        if ctx.phase == "gan":
            comp = out * mask + occ * (1 - mask)
            adv = wgan_generator_loss(unwrap(Dn)(comp))  # no DDP reduction of the critic here
            g_loss = l1 + self.config["adv_weight"] * adv
            losses["g_adv"] = adv.item()
        if ctx.step == int(self.config["nan_at_step"]):
            g_loss = g_loss * float("nan")  # fault injection for the NaN-stop test
        self.optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        self.optimizers["generator"].step()
        self.optimizers["critic"].zero_grad(set_to_none=True)  # drop the critic grads of the generator step
        losses.update(l1=l1.item(), g_loss=g_loss.item())
        if self.config["step_sleep"]:
            time.sleep(self.config["step_sleep"])  # slows the run down so a test can kill it mid-training
        return losses

    @torch.no_grad()
    def inpaint(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self.networks["generator"](image, mask)


# --------------------------------------------------------------------------------------------- hand-made dataset

def write_handmade_dataset(root: Path, n: int = 12, size: int = 32, seed: int = 0) -> Path:
    """A built-dataset folder with the real layout (metadata.csv, dataset.json, images/occluded/masks/segmentation):
    smooth colour gradients as ground truth, one rectangle occluder each, 2:1 train/test."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for d in ("images", "occluded", "masks", "segmentation"):
        (root / d).mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    rows, files = [], {}
    for i in range(n):
        sid = f"panda{i:04d}"
        c0, c1, c2 = rng.uniform(0.1, 0.9, 3)
        gt = np.stack([c0 * xx + (1 - c0) * yy, c1 * (1 - xx) + 0.3 * yy, np.full_like(xx, c2)], -1)
        gt = np.clip(gt * 255 + rng.normal(0, 4, gt.shape), 0, 255).astype(np.uint8)
        h, w = rng.integers(size // 5, size // 2, 2)
        y0, x0 = rng.integers(0, size - h), rng.integers(0, size - w)
        mask = np.zeros((size, size), np.uint8)
        mask[y0:y0 + h, x0:x0 + w] = 255
        occ = gt.copy()
        occ[mask > 0] = (np.array([40, 120, 30]) + rng.integers(0, 30, 3)).astype(np.uint8)
        seg = (mask > 0).astype(np.uint8)
        for d, arr in (("images", gt), ("occluded", occ), ("masks", mask), ("segmentation", seg)):
            Image.fromarray(arr).save(root / d / f"{sid}.png")
            files[f"{d}/{sid}.png"] = hashlib.sha256((root / d / f"{sid}.png").read_bytes()).hexdigest()
        ratio = float((mask > 0).mean())
        rows.append({"id": sid, "split": "test" if i % 3 == 2 else "train", "identity": f"id{i % 3}",
                     "source": "handmade", "image": f"images/{sid}.png", "occluded": f"occluded/{sid}.png",
                     "mask": f"masks/{sid}.png", "segmentation": f"segmentation/{sid}.png",
                     "occlusion_ratio": f"{ratio:.6f}", "severity": "light" if ratio < 0.1 else "moderate",
                     "occluder_classes": "bamboo", "eyes_occluded": "false"})
    with open(root / "metadata.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    fp = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
    info = {"name": "handmade-synthetic", "builder_version": "test", "synthetic": True, "config": {}, "seed": seed,
            "source": "handmade", "fingerprint": fp, "counts": {"total": n}, "rejected": 0,
            "severity_bins": {"light": [0.0, 0.1], "moderate": [0.1, 1.0]}, "legend": {"visible": 0, "bamboo": 1},
            "mask_convention": "255 = hole", "columns": list(rows[0]), "files": files}
    (root / "dataset.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    (root / "rejected.csv").write_text("source,reason\n", encoding="utf-8")
    return root
